"""The effect, small: fine-tuning on the top-scored subset beats all the data at equal steps."""

from __future__ import annotations

from ch08_instruction_data.pipeline import BuildConfig, build_dataset, select_by_score
from ch08_instruction_data.selection import compare_selection, encode_records, heldout_task


def test_scored_subset_beats_all_data_at_equal_steps():
    """Draft model (same tokenizer as the default model, 8x fewer weights) for speed; the
    benchmark runs the default model over seeds. The noisy arm carries 30% wrong or mismatched
    answers; at 40 equal steps its held-out loss is higher (seen: 0.13 nats per token)."""
    from llmpath_core import load_draft_model

    built = build_dataset(None, BuildConfig(template_records=300, self_instruct=0, evol_instruct=0))
    records = built["records"]
    scored = select_by_score(records)
    assert len(scored) < 0.75 * len(records)
    result = compare_selection(
        {"all": records, "scored": scored},
        heldout_task(50),
        steps=40,
        lr=3e-3,
        load_model=load_draft_model,
    )
    assert result["scored_loss"] < result["all_loss"] - 0.03
    assert result["scored_minus_all_loss"] == result["scored_loss"] - result["all_loss"]


def test_labels_cover_only_the_assistant_turn(default_tokenizer):
    record = {"instruction": "Add 12 and 30.", "response": "12 + 30 = 42"}
    ((ids, labels),) = encode_records([record], default_tokenizer)
    kept = [t for t in labels if t != -100]
    assert default_tokenizer.decode(kept) == "12 + 30 = 42" + default_tokenizer.eos_token
    where = [i for i, t in enumerate(labels) if t != -100]
    assert where == list(range(where[0], where[0] + len(kept)))  # one contiguous block
    assert default_tokenizer.decode(ids[: where[0]]).endswith("### Response:\n")
