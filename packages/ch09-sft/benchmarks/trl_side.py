"""The same SFT run through trl's ``SFTTrainer`` + peft LoRA (the comparison for our loop).

Shared by ``bench_trl.py`` and the tests: the chat rows become trl's non-conversational
prompt-completion format (``prompt`` = our rendered prompt ending in ``\\nAssistant:``,
``completion`` = `` answer``; trl appends the end token and masks the prompt), so both trainers
see the same tokens and train on the same ones.
"""

from __future__ import annotations

from typing import Any


def to_prompt_completion(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Our chat rows as trl prompt-completion rows."""
    from ch09_sft.sft import prompt_text

    out = []
    for r in rows:
        answer = [m for m in r["messages"] if m["role"] == "assistant"][-1]["content"]
        out.append({"prompt": prompt_text(r["messages"]), "completion": " " + answer})
    return out


def make_trainer(model, tok, rows, *, out_dir, max_steps, batch_size, lr, seed, r=8, alpha=16):
    """An ``SFTTrainer`` with peft LoRA on all linear layers, warmup + cosine, like ours."""
    # the workspace has gptqmodel without optimum: peft's probe for it raises (see conftest)
    import sys

    import peft
    import peft.tuners.lora
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    for name, module in list(sys.modules.items()):
        if name.startswith("peft") and hasattr(module, "is_gptqmodel_available"):
            module.is_gptqmodel_available = lambda: False
    config = SFTConfig(
        output_dir=str(out_dir),
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        lr_scheduler_type="cosine",
        warmup_steps=min(10, max_steps // 6),
        weight_decay=0.0,
        max_grad_norm=1.0,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        seed=seed,
        completion_only_loss=True,
        max_length=128,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    lora = peft.LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=0.0,
        target_modules=[
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ],
        task_type="CAUSAL_LM",
    )
    return SFTTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(to_prompt_completion(rows)),
        processing_class=tok,
        peft_config=lora,
    )
