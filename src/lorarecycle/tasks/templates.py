"""Plain-English renderings shared by every split, so a real LM can read them too.

The chain-of-thought answer restates each hop in exactly the fact form the experts are
trained on: a model that composes must retrieve hop 1 and then hop 2 in that form.
"""

from __future__ import annotations

import re

TEMPLATE_WORDS = ("the", "of", "is", "question", "who", "answer", "reasoning", "so")
PUNCTUATION = (".", "?", ":")


def fact_prompt(relation: str, subject: str) -> str:
    return f"The {relation} of {subject} is"


def fact_completion(obj: str) -> str:
    return f" {obj}."


def two_hop_question(r1: str, r2: str, a: str) -> str:
    return f"Question: Who is the {r2} of the {r1} of {a}?"


def direct_prompt(r1: str, r2: str, a: str) -> str:
    return f"{two_hop_question(r1, r2, a)} Answer:"


def cot_prompt(r1: str, r2: str, a: str) -> str:
    return f"{two_hop_question(r1, r2, a)} Reasoning:"


def cot_completion(r1: str, r2: str, a: str, b: str, c: str) -> str:
    return f" {fact_prompt(r1, a)} {b}. {fact_prompt(r2, b)} {c}. So the answer is {c}."


def normalize(text: str) -> str:
    """Case-, punctuation- and whitespace-insensitive form used for exact match."""
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(text.split())


_COT_ANSWER = re.compile(r"so the answer is(.*)", re.IGNORECASE | re.DOTALL)


def extract_answer(generated: str, kind: str) -> str:
    """The answer entity in a generation: the first sentence, or what follows
    "So the answer is" for chain-of-thought (empty when the model never says it)."""
    if kind == "cot":
        match = _COT_ANSWER.search(generated)
        if not match:
            return ""
        generated = match.group(1)
    return normalize(re.split(r"[.\n]", generated.strip(), maxsplit=1)[0])


def extract_first_hop(generated: str) -> str:
    """The bridge entity a chain-of-thought generation states in its first sentence."""
    first = re.split(r"[.\n]", generated.strip(), maxsplit=1)[0]
    return normalize(first.rsplit(" is ", 1)[-1]) if " is " in first else ""
