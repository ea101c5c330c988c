"""Evaluation: batched greedy decoding, exact match, intervals, error taxonomy."""
