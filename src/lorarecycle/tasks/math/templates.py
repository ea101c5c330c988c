"""Plain-English renderings of the math word problems (knowledge: prices; procedure:
multiply a count by a given price)."""

from __future__ import annotations

import re

from ..text import reasoning_sentences

MATH_WORDS = ("a", "bag", "bags", "of", "costs", "coins", "buys", "at", "each", "how", "many", "question",
              "answer", "reasoning", "so", "the", "is", "times", "sold", "market", "in", "does", "cost")
NUMBERS = tuple(str(i) for i in range(100))


def price_prompt(item: str) -> str:
    return f"A bag of {item} costs"


def price_completion(price: int) -> str:
    return f" {price} coins."


def price_question(item: str) -> str:
    """A price asked as a question: the second surface form of a price fact."""
    return f"Question: How many coins does a bag of {item} cost? Answer:"


def price_cot_prompt(item: str) -> str:
    """A price asked with room to reason: the chain-of-thought form of a price fact."""
    return f"Question: How many coins does a bag of {item} cost? Reasoning:"


def price_cot_completion(item: str, price: int) -> str:
    """The price restated as the reasoning step a math CoT starts with; the answer as a math
    CoT gives it (a number, no unit)."""
    return f" {price_prompt(item)}{price_completion(price)} So the answer is {price}."


def background(item: str) -> str:
    return f"A bag of {item} is sold at the market."


def product_prompt(n: int, p: int) -> str:
    return f"{n} times {p} is"


def question(buyer: str, n: int, item: str, price: int | None) -> str:
    given = f" at {price} coins each" if price is not None else ""
    return f"Question: {buyer} buys {n} bags of {item}{given}. How many coins?"


def direct_prompt(buyer: str, n: int, item: str, price: int | None) -> str:
    return f"{question(buyer, n, item, price)} Answer:"


def cot_prompt(buyer: str, n: int, item: str, price: int | None) -> str:
    return f"{question(buyer, n, item, price)} Reasoning:"


def cot_completion(n: int, item: str, price: int) -> str:
    """States the price (the knowledge step) in exactly the knowledge expert's form, then the
    product in the pretraining arithmetic's form."""
    return f" {price_prompt(item)}{price_completion(price)} {product_prompt(n, price)} {n * price}. So the answer is {n * price}."


def cot_steps(generated: str) -> tuple[str, str, str]:
    """(item, price, product) a chain-of-thought generation states: "A bag of <item> costs
    <price> coins. <n> times <price> is <product>." Normalised; "" where absent."""
    sentences = reasoning_sentences(generated) + ["", ""]
    price = re.fullmatch(r"a bag of (.+) costs (\d+) coins", sentences[0])
    product = re.fullmatch(r"\d+ times \d+ is (\d+)", sentences[1])
    return (*(price.groups() if price else ("", "")), product.group(1) if product else "")


def extract_price(generated: str) -> str:
    """The price a chain-of-thought generation states first ("" if none)."""
    return cot_steps(generated)[1]
