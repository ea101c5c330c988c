"""Plain-English renderings shared by every split, so a real LM can read them too.

The chain-of-thought answer restates each hop in exactly the fact form the experts are
trained on: a model that composes must retrieve hop 1 and then hop 2 in that form.
"""

from __future__ import annotations

import re

from ..text import reasoning_sentences


def fact_prompt(relation: str, subject: str) -> str:
    return f"The {relation} of {subject} is"


def fact_completion(obj: str) -> str:
    return f" {obj}."


def single_hop_prompt(relation: str, subject: str) -> str:
    """A fact asked as a question: the second surface form of every fact."""
    return f"Question: Who is the {relation} of {subject}? Answer:"


def single_hop_cot_prompt(relation: str, subject: str) -> str:
    """A fact asked with room to reason: its chain-of-thought form (replay recipe, `cot_form`)."""
    return f"Question: Who is the {relation} of {subject}? Reasoning:"


def single_hop_cot_completion(relation: str, subject: str, obj: str) -> str:
    """The fact restated as a reasoning step, in the form a two-hop CoT states each hop."""
    return f" {fact_prompt(relation, subject)} {obj}. So the answer is {obj}."


def two_hop_question(r1: str, r2: str, a: str) -> str:
    return f"Question: Who is the {r2} of the {r1} of {a}?"


def direct_prompt(r1: str, r2: str, a: str) -> str:
    return f"{two_hop_question(r1, r2, a)} Answer:"


def cot_prompt(r1: str, r2: str, a: str) -> str:
    return f"{two_hop_question(r1, r2, a)} Reasoning:"


def cot_first_step(r1: str, a: str, b: str) -> str:
    return f" {fact_prompt(r1, a)} {b}."


def cot_completion(r1: str, r2: str, a: str, b: str, c: str) -> str:
    # after its first step a two-hop CoT ends as a single-hop one over the second fact
    return cot_first_step(r1, a, b) + single_hop_cot_completion(r2, b, c)


def stated_facts(generated: str) -> list[tuple[str, str, str]]:
    """(relation, subject, object) of each reasoning sentence of a generation, normalised:
    "The r of <subject> is <object>."; ("", "", "") for a sentence of another shape."""
    found = [re.fullmatch(r"the (\w+) of (.+) is (.+)", s) for s in reasoning_sentences(generated)]
    return [m.groups() if m else ("", "", "") for m in found]


def cot_steps(generated: str) -> tuple[str, str, str]:
    """(subject, first hop, second hop) a two-hop chain-of-thought generation states:
    "The r1 of <subject> is <bridge>. The r2 of <bridge> is <object>." Each hop is read with
    its relation ("r1 <bridge>"), so a hop stated under another relation than the gold
    chain's (e.g. the question's outer relation applied to the subject) is not right; "" where
    a sentence is missing or has no "the ... of ... is ..." shape. Scored against the same
    parser's reading of the gold completion."""
    (_, subject, _), *_ = facts = stated_facts(generated) + [("", "", "")] * 2
    return subject, *(f"{relation} {obj}" if obj else "" for relation, _, obj in facts[:2])


def extract_first_hop(generated: str) -> str:
    """The bridge entity a chain-of-thought generation states in its first sentence."""
    return (stated_facts(generated) + [("", "", "")])[0][2]
