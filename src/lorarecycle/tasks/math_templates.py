"""Plain-English renderings of the math word problems (knowledge: prices; procedure:
multiply a count by a given price)."""

from __future__ import annotations

import re

from .templates import normalize

MATH_WORDS = ("a", "bag", "bags", "of", "costs", "coins", "buys", "at", "each", "how", "many", "question",
              "answer", "reasoning", "so", "the", "is", "times", "sold", "market", "in")
NUMBERS = tuple(str(i) for i in range(100))


def price_prompt(item: str) -> str:
    return f"A bag of {item} costs"


def price_completion(price: int) -> str:
    return f" {price} coins."


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


_PRICE = re.compile(r"costs\s+(\d+)\s+coins", re.IGNORECASE)


def extract_price(generated: str) -> str:
    """The price a chain-of-thought generation states first ("" if none)."""
    match = _PRICE.search(generated.split(".")[0] + ".") if generated else None
    return normalize(match.group(1)) if match else ""
