"""What every task's prompts share: the frame words ("Question: ... Answer:", "Reasoning:",
"So the answer is"), and reading an answer or the reasoning sentences out of a generation
(exact match after normalisation)."""

from __future__ import annotations

import re

# the prompt frame every task writes in; the built-in tokenizer has each as one token
TEMPLATE_WORDS = ("the", "of", "is", "question", "who", "answer", "reasoning", "so")
PUNCTUATION = (".", "?", ":")


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
