"""Base models: the built-in tiny Llama-style model, or any local HF causal LM."""
