"""Synthetic tasks with controlled knowledge: worlds, templates, datasets."""
