"""ch09-sft: LoRA and DoRA from scratch held to peft, SFT with assistant-only loss, merging."""
