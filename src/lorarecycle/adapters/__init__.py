"""LoRA adapters in PEFT format: training experts, reading and writing factors."""
