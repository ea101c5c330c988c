"""Adapter diagnostics: how a practitioner's LoRAs relate before recycling them."""
