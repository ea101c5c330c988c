"""Routing between LoRA experts at inference time (Arrow, mixtures, selection)."""
