"""trl's SFTTrainer + peft LoRA at more seeds (same setup as ``bench_trl.py``), one seed per run.

Run: ``OMP_NUM_THREADS=1 nice -n 10 uv run python packages/ch09-sft/benchmarks/bench_trl_seeds.py
SEED`` — writes ``results/trl-seed-SEED-cpu.json``.
"""

from __future__ import annotations

import datetime
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from trl_side import make_trainer

from ch09_sft.sft import eval_split, evaluate, train_split
from llmpath_core import load_default_model, machine_info, seed_everything, write_json


def main(seed: int) -> None:
    torch.set_num_threads(1)
    seed_everything(seed)
    base, tok = load_default_model()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(
            base,
            tok,
            train_split(seed=seed),
            out_dir=tmp,
            max_steps=60,
            batch_size=8,
            lr=3e-3,
            seed=seed,
        )
        trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    acc = evaluate(trainer.model.eval(), tok, eval_split(100))
    write_json(
        Path(__file__).parent / "results" / f"trl-seed-{seed}-cpu.json",
        {
            "date": datetime.date.today().isoformat(),
            "machine": machine_info(),
            "seed": seed,
            "setup": "as bench_trl.py: 60 steps x 8, LoRA r=8 a=16 all linear, lr 3e-3, n=100",
            "loss_last10": sum(losses[-10:]) / 10,
            "losses": losses,
            "accuracy": acc["accuracy"],
            "accuracy_stderr": acc["accuracy_stderr"],
        },
    )
    print(seed, acc["accuracy"])


if __name__ == "__main__":
    main(int(sys.argv[1]))
