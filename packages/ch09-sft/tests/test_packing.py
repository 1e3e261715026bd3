"""Packing: packed rows give each example the loss it gets alone; naive concatenation does not."""

from __future__ import annotations

import random

import torch

from ch09_sft.sft import batches, collate_packed, encode, make_task, pack, train
from llmpath_core.testing import byte_tokenizer, tiny_llama

TOL = 1e-5  # per-example mean loss, fp32 (measured ~1e-7)


def _per_example_losses(logits, labels, spans):
    """Mean next-token loss over each example's labelled tokens; ``spans``: (row, start, end)."""
    logp = torch.log_softmax(logits.float(), -1)
    out = []
    for row, a, b in spans:
        lab = labels[row, a + 1 : b]
        lp = logp[row, a : b - 1]
        keep = lab != -100
        out.append(float(-lp[keep].gather(-1, lab[keep].unsqueeze(-1)).mean()))
    return out


def test_packed_rows_give_the_same_per_example_loss():
    tok = byte_tokenizer()
    model = tiny_llama(0, vocab=len(tok), eos=tok.eos_token_id, pad=tok.pad_token_id, ctx=256)
    enc = [encode(tok, r["messages"]) for r in make_task(6, 3)]
    pad = tok.pad_token_id
    ids, mask, labels = next(batches(enc, 6, pad, random.Random(0)))
    # the batch generator shuffles; recover the order it used
    order = [
        next(i for i, (x, _) in enumerate(enc) if ids[r, : len(x)].tolist() == x) for r in range(6)
    ]
    with torch.no_grad():
        alone = model(input_ids=ids, attention_mask=mask, labels=labels)
    lens = [len(enc[i][0]) for i in order]
    alone_per = _per_example_losses(alone.logits, labels, [(r, 0, n) for r, n in enumerate(lens)])

    rows = pack([enc[i] for i in order], max_length=3 * max(lens))
    assert len(rows) < 6  # several examples share a row
    pids, pos, plabels = collate_packed(rows, pad)
    spans, k = [], 0
    for r, row in enumerate(rows):
        at = 0
        for x, _ in row:
            spans.append((r, at, at + len(x)))
            at += len(x)
            k += 1
    with torch.no_grad():
        packed = model(input_ids=pids, position_ids=pos, labels=plabels, use_cache=False)
    packed_per = _per_example_losses(packed.logits, plabels, spans)
    assert max(abs(a - b) for a, b in zip(alone_per, packed_per, strict=True)) <= TOL
    # the batch loss (mean over all assistant tokens) is the same too
    assert abs(float(alone.loss) - float(packed.loss)) <= TOL
    # naive packing (positions run on, examples attend to each other) changes the losses
    naive_pos = torch.arange(pids.shape[1]).expand_as(pids)
    with torch.no_grad():
        naive = model(input_ids=pids, position_ids=naive_pos, labels=plabels, use_cache=False)
    naive_per = _per_example_losses(naive.logits, plabels, spans)
    later = [i for i, (r, a, _) in enumerate(spans) if a > 0]
    assert max(abs(alone_per[i] - naive_per[i]) for i in later) > 1e-3


def test_packed_training_uses_fewer_tokens_and_learns():
    tok = byte_tokenizer()
    # lengths that vary (short "repeat" and longer "first/last of three words" examples)
    rows = make_task(32, 0) + make_task(32, 1, hard=True)
    res = {}
    for packing in (False, True):
        model = tiny_llama(0, vocab=len(tok), eos=tok.eos_token_id, pad=tok.pad_token_id, ctx=256)
        res[packing] = train(
            model, tok, rows, max_steps=6, batch_size=8, lr=3e-3, packing=packing, max_length=128
        )
    assert res[True]["train_loss"] < res[True]["first_loss"]
    # packed rows waste fewer positions on padding
    assert res[True]["padding_fraction"] < res[False]["padding_fraction"]
