"""Real, widely known entities (people, cities, organisations) for worlds whose familiar
entities a real pretrained LM already knows (`world.names: real`).

The inventory (`data/real_entities.tsv`, name and type) was curated by hand from general
knowledge of widely known entities: people across eras, fields and countries (historical
figures preferred over living politicians), capitals and large cities, and companies,
universities, clubs, international bodies and broadcasters. Names are ASCII, 1-3 words,
without periods or commas (so sentence splitting and exact match stay unambiguous), unique,
and never a template word. The facts about them stay synthetic: only their familiarity
changes. Which entity takes which role depends on the relation's object type.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from ...errors import UserError

TYPES = ("person", "city", "organisation")
# What a relation's object is; its subject is a person. Relations not listed relate people.
OBJECT_TYPES = {"employer": "organisation", "hometown": "city", "birthplace": "city", "university": "organisation"}


def object_type(relation: str) -> str:
    return OBJECT_TYPES.get(relation, "person")


@lru_cache(maxsize=1)
def real_entities() -> dict[str, tuple[str, ...]]:
    """type -> names, in file order."""
    text = resources.files("lorarecycle.tasks.two_hop").joinpath("data/real_entities.tsv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    return {t: tuple(r["name"] for r in rows if r["type"] == t) for t in TYPES}


def real_vocabulary() -> list[str]:
    """The words of every inventory name, split as the built-in tokenizer splits them, and
    one-letter continuation pieces."""
    from tokenizers.pre_tokenizers import BertPreTokenizer

    split = BertPreTokenizer()
    words = dict.fromkeys(w for names in real_entities().values() for name in names
                          for w, _ in split.pre_tokenize_str(name.lower()))
    # Whole words are longest-prefix matches for WordPiece: with "vos" in the vocabulary a
    # fictional "Voso" needs a one-letter continuation, so every letter gets one.
    return [*words, *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789")]


def draw_real(rng, needs: dict[str, int], reserved: set[str]) -> dict[str, list[str]]:
    """Distinct real entities per type (`needs`: type -> count), none in `reserved`."""
    taken = {r.lower() for r in reserved}
    out = {}
    for kind, n in needs.items():
        pool = [e for e in real_entities()[kind] if e.lower() not in taken]
        if n > len(pool):
            raise UserError(f"world.names real: the world needs {n} real {kind} entities, the inventory has "
                            f"{len(pool)}; use fewer chains (n_test_chains, n_skill_chains, n_fewshot_chains) "
                            "or familiarity H")
        out[kind] = rng.sample(pool, n)
    return out
