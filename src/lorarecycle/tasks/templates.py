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


def normalize(text: str) -> str:
    """Case-, punctuation- and whitespace-insensitive form used for exact match."""
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(text.split())


# The trained form first ("So the answer is", its first occurrence, as the experts write
# it); other models' phrasings only when it is absent.
_SO_ANSWER_IS = re.compile(r"so the answer is", re.IGNORECASE)
_ANSWER_IS = re.compile(r"the\s+(?:final\s+)?answer\s+is\b:?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?=\s|$)|[\n!?]")
_MARKUP = re.compile(r"[*_`#]+")
_LEAD = re.compile(r"^(?:answer|final answer|a)\s*:\s*", re.IGNORECASE)


def first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def extract_answer(generated: str, kind: str) -> str:
    """The answer entity in a generation, robust to an instruct model's formatting (case,
    punctuation, markdown emphasis, "Answer:" labels, a restated "The ... is X", trailing
    text): what follows the first "the answer is" for chain-of-thought (empty when the model
    never says it), else the first sentence."""
    text = _MARKUP.sub("", generated)
    if kind == "cot":
        found = _SO_ANSWER_IS.search(text) or _ANSWER_IS.search(text)
        if not found:
            return ""
        text = text[found.end():]  # the first answer given: later text is trailing noise
    sentence = _LEAD.sub("", first_sentence(text))
    if kind != "cot" and re.match(r"(?i)the\s", sentence) and re.search(r"\sis\s", sentence):
        sentence = re.split(r"\sis\s", sentence)[-1]  # "The mentor of A is B" -> "B"
    return normalize(sentence)


def reasoning_sentences(generated: str, n: int = 2) -> list[str]:
    """The first `n` sentences of a generation, normalised (markup removed)."""
    return [normalize(x) for x in _SENTENCE_END.split(_MARKUP.sub("", generated).strip(), maxsplit=n)[:n]]


def cot_steps(generated: str) -> tuple[str, str, str]:
    """(subject, bridge, second object) a two-hop chain-of-thought generation states:
    "The r1 of <subject> is <bridge>. The r2 of <bridge> is <object>." Normalised; "" where
    a sentence is missing or has no "the ... of ... is ..." shape."""
    steps = []
    for sentence in reasoning_sentences(generated):
        match = re.fullmatch(r"the \w+ of (.+) is (.+)", sentence)
        steps.append(match.groups() if match else ("", ""))
    steps += [("", "")] * (2 - len(steps))
    return steps[0][0], steps[0][1], steps[1][1]


def extract_first_hop(generated: str) -> str:
    """The bridge entity a chain-of-thought generation states in its first sentence."""
    return cot_steps(generated)[1]
