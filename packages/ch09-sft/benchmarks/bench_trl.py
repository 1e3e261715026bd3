"""Our SFT loop vs trl's SFTTrainer + peft LoRA: same data, steps, batch, lr, LoRA config, CPU.

Both train the default model on the bundled "repeat the word" task for 60 steps of 8 examples,
LoRA r=8, alpha=16 on all seven linear layers, AdamW lr 3e-3, warmup + cosine, clip 1.0,
assistant-only loss (the tests check that both see the same tokens and labels). The batches are
drawn by each trainer's own sampler, so the curves match in trend, not step by step.

Run: ``OMP_NUM_THREADS=1 nice -n 10 uv run python packages/ch09-sft/benchmarks/bench_trl.py``
"""

from __future__ import annotations

import datetime
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import ALL
from trl_side import make_trainer

from ch09_sft.lora import LoRAConfig, count_parameters, inject_lora
from ch09_sft.sft import eval_split, evaluate, train, train_split
from llmpath_core import load_default_model, machine_info, seed_everything, write_json

OUT = Path(__file__).parent / "results" / "trl-vs-ours-cpu.json"
STEPS, BATCH, LR, N = 60, 8, 3e-3, 100


def main() -> None:
    torch.set_num_threads(1)
    rows = train_split()
    held = eval_split(N)
    seed_everything(0)
    ours, tok = load_default_model()
    inject_lora(ours, LoRAConfig(r=8, lora_alpha=16, target_modules=ALL))
    t0 = time.perf_counter()
    res = train(ours, tok, rows, max_steps=STEPS, batch_size=BATCH, lr=LR, seed=0)
    ours_s = time.perf_counter() - t0
    ours_acc = evaluate(ours, tok, held)
    ours_params = count_parameters(ours)

    seed_everything(0)
    base, tok2 = load_default_model()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(
            base, tok2, rows, out_dir=tmp, max_steps=STEPS, batch_size=BATCH, lr=LR, seed=0
        )
        t0 = time.perf_counter()
        trainer.train()
        trl_s = time.perf_counter() - t0
    trl_losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    model = trainer.model.eval()
    trl_acc = evaluate(model, tok2, held)
    trl_params = model.get_nb_trainable_parameters()
    tail = lambda xs: sum(xs[-10:]) / len(xs[-10:])  # noqa: E731
    write_json(
        OUT,
        {
            "date": datetime.date.today().isoformat(),
            "machine": machine_info(),
            "setup": (
                f"default model, repeat task, {STEPS} steps x {BATCH}, "
                f"LoRA r=8 a=16 all linear, lr {LR}"
            ),
            "ours": {
                "loss_last10": tail(res["losses"]),
                "losses": res["losses"],
                "accuracy": ours_acc["accuracy"],
                "accuracy_stderr": ours_acc["accuracy_stderr"],
                "trainable_params": ours_params[0],
                "train_seconds": ours_s,
            },
            "trl": {
                "loss_last10": tail(trl_losses),
                "losses": trl_losses,
                "accuracy": trl_acc["accuracy"],
                "accuracy_stderr": trl_acc["accuracy_stderr"],
                "trainable_params": trl_params[0],
                "train_seconds": trl_s,
            },
            "note": "wall times measured while the machine was shared with other jobs",
        },
    )
    print(
        "ours",
        tail(res["losses"]),
        ours_acc["accuracy"],
        "trl",
        tail(trl_losses),
        trl_acc["accuracy"],
    )


if __name__ == "__main__":
    main()
