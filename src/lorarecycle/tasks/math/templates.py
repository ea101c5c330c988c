"""Plain-English renderings of the math word problems: an item's price (knowledge), a shop's
rule, a fee added to every bag (the procedure), and the arithmetic that joins them.

A solved problem states, in order: the item's price, the shop's rule, the price with the fee
added, the count times that: " A bag of Kato costs 7 coins. At Zuri a bag costs 3 coins
more. 7 plus 3 is 10. 4 times 10 is 40. So the answer is 40."
"""

from __future__ import annotations

import re

from ..text import reasoning_sentences

MATH_WORDS = ("a", "bag", "bags", "of", "costs", "coins", "buys", "at", "each", "how", "many", "question",
              "answer", "reasoning", "so", "the", "is", "times", "plus", "more", "sold", "market", "in", "does",
              "cost")
NUMBERS = tuple(str(i) for i in range(200))  # every number a problem or the tables can write: one token each
MAX_NUMBER = len(NUMBERS) - 1


def price_prompt(item: str) -> str:
    return f"A bag of {item} costs"


def price_completion(price: int) -> str:
    return f" {price} coins."


def price_sentence(item: str, price: int) -> str:
    return f"{price_prompt(item)}{price_completion(price)}"


def price_question(item: str) -> str:
    """A price asked as a question: the second surface form of a price fact."""
    return f"Question: How many coins does a bag of {item} cost? Answer:"


def price_cot_prompt(item: str) -> str:
    """A price asked with room to reason: the chain-of-thought form of a price fact."""
    return f"Question: How many coins does a bag of {item} cost? Reasoning:"


def price_cot_completion(item: str, price: int) -> str:
    """The price restated as the step a math CoT starts with; the answer a number, no unit."""
    return f" {price_sentence(item, price)} So the answer is {price}."


def rule_prompt(shop: str) -> str:
    return f"At {shop} a bag costs"


def rule_completion(fee: int) -> str:
    return f" {fee} coins more."


def rule_sentence(shop: str, fee: int) -> str:
    return f"{rule_prompt(shop)}{rule_completion(fee)}"


def background(item: str) -> str:
    return f"A bag of {item} is sold at the market."


def sum_prompt(a: int, b: int) -> str:
    return f"{a} plus {b} is"


def product_prompt(n: int, p: int) -> str:
    return f"{n} times {p} is"


def question(buyer: str, n: int, item: str, shop: str, price: int | None) -> str:
    """The problem; with `price`, the price is stated in it (the procedure expert's problems)."""
    given = f" {price_sentence(item, price)}" if price is not None else ""
    return f"Question: {buyer} buys {n} bags of {item} at {shop}.{given} How many coins?"


def direct_prompt(buyer: str, n: int, item: str, shop: str, price: int | None) -> str:
    return f"{question(buyer, n, item, shop, price)} Answer:"


def cot_prompt(buyer: str, n: int, item: str, shop: str, price: int | None) -> str:
    return f"{question(buyer, n, item, shop, price)} Reasoning:"


def cot_completion(n: int, item: str, price: int, shop: str, fee: int) -> str:
    """The price in exactly the knowledge expert's form, the rule in exactly the procedure
    expert's, then the sum and the product in the pretraining tables' forms."""
    per_bag = price + fee
    return (f" {price_sentence(item, price)} {rule_sentence(shop, fee)} {sum_prompt(price, fee)} {per_bag}. "
            f"{product_prompt(n, per_bag)} {n * per_bag}. So the answer is {n * per_bag}.")


def cot_steps(generated: str) -> tuple[str, str, str]:
    """(item, price, total) a chain-of-thought generation states: "A bag of <item> costs
    <price> coins.", then, after the rule and the sum, "<n> times <per bag> is <total>."
    Normalised; "" where absent."""
    sentences = reasoning_sentences(generated, 4) + [""] * 4
    price = re.fullmatch(r"a bag of (.+) costs (\d+) coins", sentences[0])
    product = re.fullmatch(r"\d+ times \d+ is (\d+)", sentences[3])
    return (*(price.groups() if price else ("", "")), product.group(1) if product else "")


def stated_rule(generated: str) -> tuple[str, str]:
    """(shop, fee) the second sentence of a generation states ("" where absent)."""
    sentences = reasoning_sentences(generated, 2) + ["", ""]
    rule = re.fullmatch(r"at (.+) a bag costs (\d+) coins more", sentences[1])
    return rule.groups() if rule else ("", "")
