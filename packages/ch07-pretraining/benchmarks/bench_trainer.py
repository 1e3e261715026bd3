"""Our training loop vs ``transformers.Trainer``: same Llama, same data, same batch and schedule.

Run: ``uv run python packages/ch07-pretraining/benchmarks/bench_trainer.py [--steps 30]``.
Each side trains a fresh depth-2 Llama for ``--steps`` optimizer steps of 16 x 64 tokens (AdamW,
warm-up + cosine, clipping at 1.0) and the wall time is compared (``speedup`` = Trainer time /
ours, above 1 means our loop is faster). Ours includes its step-0 and final validation and the
model save; Trainer runs with evaluation, saving and logging off.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from transformers import Trainer, TrainingArguments

    from ch07_pretraining import TokenData, TrainConfig, prepare_corpus, train
    from ch07_pretraining.model import build_model, llama_config
    from llmpath_core import compare, machine_info, print_table, seed_everything

    tmp = Path(tempfile.mkdtemp(prefix="bench-ch07-"))
    prepare_corpus("stories", tmp / "data", vocab_size=512, max_chars=300_000)
    data = TokenData.open(tmp / "data")
    eos = data.tokenizer().eos_token_id
    batch, seq, steps = 16, 64, args.steps
    config = TrainConfig(
        data=str(tmp / "data"),
        depth=2,
        seq_len=seq,
        batch_size=batch,
        max_steps=steps,
        warmup_steps=max(1, steps // 10),
        eval_every=10**9,
        eval_batches=1,
        checkpoint_every=0,
        sample_tokens=1,
    )
    runs = iter(range(10**6))

    def ours() -> None:
        train(config, tmp / f"ours-{next(runs)}")

    class Windows(torch.utils.data.Dataset):
        """The same global batches as ours, one row per item."""

        def __len__(self) -> int:
            return steps * batch

        def __getitem__(self, i: int) -> dict:
            x, _ = data.batch(i // batch, batch, seq, config.seed)
            return {"input_ids": x[i % batch], "labels": x[i % batch]}

    def hf_trainer() -> None:
        seed_everything(0)
        model = build_model(llama_config(2, data.vocab_size, seq, eos))
        targs = TrainingArguments(
            output_dir=str(tmp / "hf"),
            per_device_train_batch_size=batch,
            max_steps=steps,
            learning_rate=config.peak_lr(),
            warmup_steps=config.warmup_steps,
            lr_scheduler_type="cosine",
            weight_decay=config.weight_decay,
            adam_beta2=0.95,
            max_grad_norm=config.grad_clip,
            save_strategy="no",
            eval_strategy="no",
            logging_strategy="no",
            report_to=[],
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=True,
            seed=0,
        )
        Trainer(model=model, args=targs, train_dataset=Windows()).train()

    result = compare(
        f"{steps} steps, Llama depth 2, {batch}x{seq} tokens",
        ours,
        hf_trainer,
        names=("ch07 loop", "transformers Trainer"),
        repeats=args.repeats,
    )
    row = result.to_dict()
    row["ours_tokens_per_s"] = steps * batch * seq / result.ours.median
    row["trainer_tokens_per_s"] = steps * batch * seq / result.anchor.median
    print_table(
        [
            {
                "loop": name,
                "median s": t.median,
                "tokens/s": f"{steps * batch * seq / t.median:,.0f}",
            }
            for name, t in ((result.ours.name, result.ours), (result.anchor.name, result.anchor))
        ],
        title=f"{row['task']}: speedup {result.speedup:.2f}x",
    )
    print(json.dumps({"result": row, "machine": machine_info()}, indent=2))


if __name__ == "__main__":
    main()
