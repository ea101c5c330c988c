"""Replay material for a `--base-model`: text the model itself writes.

Replay rehearses what the base model could do while new facts go in. Over the built-in model
it replays our pretraining corpus; over a model we did not pretrain that corpus is not its
past (replaying it would teach that model our familiar facts), and its real pretraining data
is not at hand. Its own samples are the nearest stand-in: text from the model's own
distribution, so training on it (with `replay_kl`, toward the base's predictions on it) holds
the adapted model near the base wherever the new facts do not ask it to move. A shipped
public-domain text would be one fixed style, not this model's. Sampled at temperature 1 from
common one-word openings, seeded, cut at the last full sentence.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..artifacts import read_jsonl, write_jsonl
from ..model.load import load_base, load_tokenizer
from ..model.prompting import encode
from ..tasks.example import Example
from ..ui import progress_bar

SELF_TEXT = "text"  # the kind of a self-generated replay example (no question, no answer)
OPENINGS = ("The", "In", "A", "It", "When", "There", "This", "After", "One", "Many", "Most", "If")
SAMPLES, NEW_TOKENS, BATCH = 512, 48, 64


def self_generated_pool(base_path: Path, seed: int, cache: Path) -> list[Example]:
    """SAMPLES texts the base model writes after one of OPENINGS (cached at `cache`, a JSONL
    file in the run directory, so a resumed run replays the same texts)."""
    if cache.is_file():
        return [Example(**row) for row in read_jsonl(cache)]
    model, tokenizer = load_base(base_path), load_tokenizer(base_path)
    openings = [OPENINGS[i % len(OPENINGS)] for i in range(SAMPLES)]
    torch.manual_seed(seed)
    texts: list[str] = []
    with torch.no_grad(), progress_bar("replay material: the base model's own text", SAMPLES) as advance:
        for i in range(0, SAMPLES, BATCH):
            batch = encode(tokenizer, openings[i : i + BATCH], return_tensors="pt", padding=True).to(model.device)
            out = model.generate(**batch, do_sample=True, temperature=1.0, top_k=None, top_p=1.0,
                                 max_new_tokens=NEW_TOKENS, pad_token_id=tokenizer.pad_token_id)
            texts += tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
            advance(len(out))
    pool = [Example(f"self:{i}", SELF_TEXT, opening, whole_sentences(text), "")
            for i, (opening, text) in enumerate(zip(openings, texts)) if whole_sentences(text).strip()]
    write_jsonl(cache, [ex.to_dict() for ex in pool])
    return pool


def whole_sentences(text: str) -> str:
    """`text` up to its last sentence end (a sample cut off mid-sentence would teach the end
    of text there); all of it when it has none."""
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", text)]
    return text[: ends[-1]] if ends else text
