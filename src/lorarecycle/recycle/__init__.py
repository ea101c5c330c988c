"""Recycling methods: build one model from a library of LoRA experts, without their data."""
