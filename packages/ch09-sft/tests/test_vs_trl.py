"""Our SFT data path held to trl's SFTTrainer: same tokens, same trained-on tokens, same loss."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
import torch

from ch09_sft.sft import batches, encode, make_task

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_assistant_only_encoding_equals_trl(tmp_path, peft):
    pytest.importorskip("trl")
    from trl_side import make_trainer

    from llmpath_core import load_default_model

    model, tok = load_default_model()
    rows = make_task(16, 5) + make_task(8, 6, kind="twice")
    trainer = make_trainer(
        model, tok, rows, out_dir=tmp_path, max_steps=1, batch_size=4, lr=1e-3, seed=0
    )
    ds = trainer.train_dataset
    for row, theirs in zip(rows, ds, strict=True):
        ids, labels = encode(tok, row["messages"])
        assert theirs["input_ids"] == ids
        assert theirs["labels"] == labels  # -100 on every token but the answer and its end token
    # the loss on one padded batch: ours (labels -100 off the answer) equals trl's collator + model
    batch = trainer.data_collator([ds[i] for i in range(4)])
    pm = trainer.model
    keys = ("input_ids", "attention_mask", "labels")
    with torch.no_grad():
        theirs_loss = float(pm(**{k: batch[k] for k in keys}).loss)
    enc = [encode(tok, r["messages"]) for r in rows[:4]]
    # one batch of the same four rows (shuffled: the mean over answer tokens ignores order)
    ids, mask, labels = next(batches(enc, 4, tok.pad_token_id or 0, random.Random(0)))
    with torch.no_grad():
        ours_loss = float(pm(input_ids=ids, attention_mask=mask, labels=labels).loss)
    assert abs(ours_loss - theirs_loss) <= 1e-5
