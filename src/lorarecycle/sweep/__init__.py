"""Experiment grids: cells, a resumable run directory, executors (local, Ray)."""
