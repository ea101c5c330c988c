"""Entity names built from a syllable inventory.

A name is one or two words of two consonant-vowel syllables ("Kato Rimu", "Kato"). The tokenizer
knows the syllables, never whole names, so a fictional name is a new combination of
known pieces, as rare names are for real LLMs.
"""

from __future__ import annotations

import random

from ..errors import UserError

CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
SYLLABLES: tuple[str, ...] = tuple(c + v for c in CONSONANTS for v in VOWELS)


def random_word(rng: random.Random, n_syllables: int = 2) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(n_syllables)).capitalize()


def usable_word(word: str, reserved: set[str]) -> bool:
    """Not a reserved word, and no reserved word longer than a syllable starts it: the
    tokenizer matches whole words first, so "Baga" would become "bag" + an unknown piece.
    Looks up the word's prefixes rather than scanning `reserved`: the world's names are in it,
    and a scan cost ~0.8 s per `unique_names` call, ~300 calls a default run."""
    return not any(word[:k] in reserved for k in range(3, len(word) + 1)) and word not in reserved


def name_capacity(reserved: set[str], words: int) -> int:
    """How many distinct names of `words` words exist whose words are usable."""
    taken = {r.lower() for r in reserved}
    free = sum(1 for a in SYLLABLES for b in SYLLABLES if usable_word(a + b, taken))
    return free**words


def unique_names(rng: random.Random, n: int, reserved: set[str], words: int = 2) -> list[str]:
    """n distinct names of `words` words, none equal to or containing a reserved word.
    More names than exist is an error up front, not an endless search."""
    capacity = name_capacity(reserved, words)
    if n > capacity:
        raise UserError(f"the world needs {n} distinct names of {words} word(s), only {capacity} exist; "
                        "use fewer entities or chains, or name_words: 2")
    taken = {r.lower() for r in reserved}
    words_taken = {r for r in taken if " " not in r}  # reserved names of several words block only themselves
    names: list[str] = []
    while len(names) < n:
        parts = [random_word(rng) for _ in range(words)]
        name = " ".join(parts)
        if name.lower() in taken or not all(usable_word(p.lower(), words_taken) for p in parts):
            continue
        taken.add(name.lower())
        names.append(name)
    return names
