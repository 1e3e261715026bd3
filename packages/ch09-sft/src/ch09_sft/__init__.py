"""ch09-sft: LoRA, DoRA, IA3, QLoRA (own NF4), SFT with packing, forgetting, merging."""
