"""Static merges of LoRA adapters (one adapter out)."""
