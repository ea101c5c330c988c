"""The math task's training sets and test splits (see `world.py` for who learns what)."""

from __future__ import annotations

from ...seeding import make_rng
from ..example import Example, in_context
from ..names import unique_names
from . import templates as M
from .world import MathWorld, Problem

GENERAL_SAMPLE = 300


def price_fact(item: str, price: int) -> Example:
    return Example(f"price:{item}", "fact", M.price_prompt(item), M.price_completion(price), f"{price} coins", item)


def rule_fact(shop: str, fee: int) -> Example:
    return Example(f"rule:{shop}", "fact", M.rule_prompt(shop), M.rule_completion(fee), f"{fee} coins more", shop)


def question_form(ex: Example) -> Example | None:
    """A price fact's question form (None for anything else)."""
    if not ex.id.startswith("price:"):
        return None
    item = ex.id.split(":", 1)[1]
    return Example(f"price-question:{item}", "direct", M.price_question(item), ex.completion, ex.answer, ex.chain)


def cot_form(ex: Example) -> Example | None:
    """A price fact's chain-of-thought form (None for anything else)."""
    if not ex.id.startswith("price:"):
        return None
    item = ex.id.split(":", 1)[1]
    price = ex.answer.split()[0]  # the fact's answer is "N coins"
    return Example(f"price-cot:{item}", "cot", M.price_cot_prompt(item), M.price_cot_completion(item, int(price)), price,
                   ex.chain)


def direct(p: Problem, given: bool) -> Example:
    """A problem answered directly; `given`: its price stated in the question (no bridge to recall)."""
    price = p.price if given else None
    return Example(f"direct{'-given' if given else ''}:{p.id}", "direct",
                   M.direct_prompt(p.buyer, p.count, p.item, p.shop, price), f" {p.answer}.", str(p.answer), p.item,
                   "" if given else str(p.price), p.item)


def cot(p: Problem, given: bool) -> Example:
    price = p.price if given else None
    return Example(f"cot{'-given' if given else ''}:{p.id}", "cot", M.cot_prompt(p.buyer, p.count, p.item, p.shop, price),
                   M.cot_completion(p.count, p.item, p.price, p.shop, p.fee), str(p.answer), p.item,
                   "" if given else str(p.price), p.item)


def arithmetic(world: MathWorld) -> list[Example]:
    """The tables a solution uses: price plus fee, and count times the price per bag."""
    m = world.math
    sums = [Example(f"plus:{a}+{b}", "direct", M.sum_prompt(a, b), f" {a + b}.", str(a + b))
            for a in range(2, m.max_price + 1) for b in range(1, m.max_fee + 1)]
    products = [Example(f"times:{n}x{s}", "direct", M.product_prompt(n, s), f" {n * s}.", str(n * s))
                for n in range(2, m.max_count + 1) for s in range(3, m.max_price + m.max_fee + 1)]
    return sums + products


def with_prices_and_rules(world: MathWorld, p: Problem, items: list[str], shops: list[str], seed_key: str) -> str:
    """The problem's price and rule stated before it, with a distractor of each where `items`
    and `shops` name one (shuffled, so reading off a stated number is right half the time)."""
    rng = make_rng(world.seed, "math-context", seed_key, p.id)
    prices = [M.price_sentence(p.item, p.price), *(M.price_sentence(i, world.prices[i]) for i in items)]
    rules = [M.rule_sentence(p.shop, p.fee), *(M.rule_sentence(s, world.shops[s]) for s in shops)]
    rng.shuffle(prices)
    rng.shuffle(rules)
    return " ".join(prices + rules)


def incontext_math_corpus(world: MathWorld, n: int, epoch: int = 0, fixed_layout: bool = False) -> list[Example]:
    """Pretraining problems over one-off items (each in one sequence only) and shops of a
    pool, each fee new in every sequence, whose price and rule are stated in context, each
    with a distractor: the procedure for an
    unseen item and an unseen shop (restate the price, read the rule, add, multiply), fresh
    each pretraining epoch. `fixed_layout=True`: the curriculum's first stage, the price and
    the rule alone before the CoT problem (the `incontext_math_cot` layout)."""
    rng = make_rng(world.seed, "math-incontext-fixed" if fixed_layout else "math-incontext", str(epoch))
    m = world.math
    reserved = set(M.MATH_WORDS) | {e.lower() for e in world.entities}
    # items new in every sequence; shops from a smaller pool (one-word names run out at ~4600),
    # each with a new fee in every sequence, so no shop's fee can be learned
    names = unique_names(rng, 2 * n + max(2, n // 4), reserved, words=1)
    items, shops = iter(names[: 2 * n]), names[2 * n :]
    out = []
    for i in range(n):
        item, other = next(items), next(items)
        shop, other_shop = rng.sample(shops, 2)
        p = Problem(f"incontext-{epoch}-{i}", "incontext", rng.choice(world.familiar_buyers), item,
                    rng.randint(2, m.max_count), rng.randint(2, m.max_price), shop, rng.randint(1, m.max_fee))
        prices = [M.price_sentence(item, p.price), M.price_sentence(other, rng.randint(2, m.max_price))]
        rules = [M.rule_sentence(shop, p.fee), M.rule_sentence(other_shop, rng.randint(1, m.max_fee))]
        if fixed_layout:
            prices, rules = prices[:1], rules[:1]
        rng.shuffle(prices)
        rng.shuffle(rules)
        context = " ".join(prices + rules)
        form = 0 if fixed_layout else i % 3
        if form == 0:
            out.append(in_context(cot(p, False), context))
        elif form == 1:
            out.append(in_context(direct(p, False), context))
        else:
            out.append(Example(f"incontext:price-question:{item}", "direct", f"{context} {M.price_question(item)}",
                               M.price_completion(p.price), f"{p.price} coins", item))
    return out


def _pretraining(world: MathWorld) -> list[Example]:
    spec, familiar_items = world.spec, world.items("pretrain")
    corpus = arithmetic(world) + [price_fact(i, world.prices[i]) for i in familiar_items]
    corpus += [price_fact(i, world.prices[i]) for i in sorted(world.exposed)]
    # the pretrained shop's rule only inside its solved problems: a single rule fact would be
    # the replay pool's one single fact
    corpus += [ex for p in world.group("pretrain") for ex in (direct(p, False), cot(p, False), direct(p, True),
                                                               cot(p, True))]
    background_items = world.items("test") + world.items("fewshot") if spec.familiarity in ("H", "R") else []
    corpus += [Example(f"bg:{i}", "fact", M.background(i), "", "") for i in background_items]
    if spec.familiarity == "R":  # test buyers appear too, buying familiar items at the familiar shop
        shop = world.familiar_shop
        corpus += [direct(Problem(f"bg-{b}", "pretrain", b, item, 2, world.prices[item], shop, world.shops[shop]), True)
                   for k, b in enumerate(world.test_buyers) for item in [familiar_items[k % len(familiar_items)]]]
    return corpus


def build_math_datasets(world: MathWorld) -> dict[str, list[Example]]:
    test, fewshot, control = world.group("test"), world.group("fewshot"), world.group("control")
    corpus = _pretraining(world)
    knowledge = [price_fact(i, world.prices[i]) for i in world.items("test")]
    fewshot_knowledge = [price_fact(i, world.prices[i]) for i in world.items("fewshot")]
    rule = rule_fact(world.test_shop, world.shops[world.test_shop])
    proc = [rule] + [ex for p in world.group("procedure") for ex in (direct(p, True), cot(p, True))]
    others = [p.item for p in test]
    return {
        "pretrain": corpus,
        "pretrain_incontext": incontext_math_corpus(world, world.spec.n_incontext),
        "knowledge_facts": knowledge + fewshot_knowledge,
        "procedure_set": proc,
        "general": make_rng(world.seed, "general").sample(corpus, min(GENERAL_SAMPLE, len(corpus))),
        "fewshot_knowledge": fewshot_knowledge,
        "fewshot_procedure": proc[: 2 * world.math.n_fewshot_items + 1],
        "fewshot_math": [ex for p in fewshot for ex in (direct(p, False), cot(p, False))],
        "knowledge": knowledge,
        # the test items at the test shop with the price stated: the rule alone
        "procedure": [direct(p, True) for p in test],
        "math_direct": [direct(p, False) for p in test],
        "math_cot": [cot(p, False) for p in test],
        "control_direct": [direct(p, False) for p in control],
        "control_cot": [cot(p, False) for p in control],
        "arithmetic": arithmetic(world),
        "retention": [price_fact(i, world.prices[i]) for i in world.items("pretrain")],
        "incontext_math_direct": [in_context(direct(p, False), with_prices_and_rules(world, p, [], [], "plain"))
                                  for p in test],
        "incontext_math_cot": [in_context(cot(p, False), with_prices_and_rules(world, p, [], [], "plain"))
                               for p in test],
        # a distractor price (another test item's) and a distractor rule (the pretrained shop's)
        "incontext_math_distractor_cot": [
            in_context(cot(p, False), with_prices_and_rules(
                world, p, make_rng(world.seed, "math-distractor", p.id).sample([i for i in others if i != p.item], 1),
                [world.familiar_shop], "distractor"))
            for p in test],
    }
