"""The built JSONL trains with trl's SFTTrainer, through our template installed in the tokenizer."""

from __future__ import annotations

import pytest

from ch08_instruction_data.pipeline import BuildConfig, build_dataset
from ch08_instruction_data.templates import get_template, install_template, tokenize_chat


def test_sft_trainer_one_step_on_the_built_jsonl(tmp_path):
    pytest.importorskip("trl")
    import datasets
    import torch
    from trl import SFTConfig, SFTTrainer

    from llmpath_core import load_default_model

    out = tmp_path / "set.jsonl"
    build_dataset(
        out, BuildConfig(template_records=40, evolved=2, self_instruct=0, evol_instruct=0)
    )
    dataset = datasets.load_dataset("json", data_files=str(out), split="train")
    dataset = dataset.select_columns(["messages"])

    model, tokenizer = load_default_model()
    template = get_template("chatml")
    added = install_template(tokenizer, template, add_special_tokens=True)
    assert added == ["<|im_start|>", "<|im_end|>"]
    model.resize_token_embeddings(len(tokenizer))
    tokenizer.save_pretrained(tmp_path / "tok")
    before = model.model.embed_tokens.weight.detach().clone()

    config = SFTConfig(
        output_dir=str(tmp_path / "run"),
        max_steps=1,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        assistant_only_loss=True,
        max_length=128,
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        use_cpu=True,
        dataloader_num_workers=0,
        seed=0,
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer
    )
    # trl folds apply_chat_template's assistant mask into its labels: ours gives the same labels
    row = trainer.train_dataset[0]
    ours = tokenize_chat(dataset[0]["messages"], template, tokenizer)
    assert row["input_ids"] == ours["input_ids"]
    want = [
        t if m else -100 for t, m in zip(ours["input_ids"], ours["assistant_masks"], strict=True)
    ]
    assert row["labels"] == want and sum(ours["assistant_masks"]) > 0
    result = trainer.train()
    assert result.global_step == 1
    assert torch.isfinite(torch.tensor(result.training_loss))
    assert not torch.equal(before, model.model.embed_tokens.weight.detach())
