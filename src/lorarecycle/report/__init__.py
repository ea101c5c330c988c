"""Results -> tables and reports; no recomputation."""
