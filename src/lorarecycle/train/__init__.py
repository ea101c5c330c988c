"""Training loops: pretraining the tiny base model and LoRA experts."""
