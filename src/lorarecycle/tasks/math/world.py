"""Math word problems, deterministic from (spec, seed): knowledge and procedure in
different experts.

  knowledge expert   "A bag of <item> costs <p> coins." for the test (and few-shot) items
  procedure expert   "<buyer> buys <n> bags of <item> at <p> coins each. How many coins?"
                     solved (direct and CoT) on other items, price given in the question
  test               "<buyer> buys <n> bags of <item>. How many coins?" for test items: the
                     price is only in the knowledge expert, the procedure only in the other

Pretraining holds the multiplication table ("<n> times <p> is <np>."), prices of familiar
items, and no-price problems over them (so the base knows the procedure on what it knows);
`control_*` are held-out no-price problems over familiar items, `arithmetic` the table.
Familiarity: F test items and buyers unseen in pretraining, H the items appear (a
background sentence, not the price), R items and buyers appear. Exposure puts that
fraction of the test items' prices into pretraining.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...seeding import make_rng
from ..example import Example, in_context
from ..names import unique_names
from ..two_hop.spec import WorldSpec
from . import templates as M
from .spec import MathSpec


@dataclass(frozen=True)
class Problem:
    id: str
    group: str  # test | fewshot | procedure | pretrain | control
    buyer: str
    item: str
    count: int
    price: int

    @property
    def answer(self) -> int:
        return self.count * self.price


@dataclass
class MathWorld:
    spec: WorldSpec
    math: MathSpec
    seed: int
    prices: dict[str, int]  # every item's price
    item_group: dict[str, str]
    problems: list[Problem]
    exposed: set[str] = field(default_factory=set)  # test items whose price is in pretraining
    familiar_buyers: list[str] = field(default_factory=list)
    test_buyers: list[str] = field(default_factory=list)

    def items(self, group: str) -> list[str]:
        return [i for i, g in self.item_group.items() if g == group]

    def group(self, name: str) -> list[Problem]:
        return [p for p in self.problems if p.group == name]

    @property
    def entities(self) -> set[str]:
        return set(self.prices) | set(self.familiar_buyers) | set(self.test_buyers) | {str(n) for n in range(100)}


def build_math_world(spec: WorldSpec, math: MathSpec, seed: int) -> MathWorld:
    rng = make_rng(seed, "math-world")
    groups = {"test": math.n_test_items, "fewshot": math.n_fewshot_items, "procedure": math.n_procedure_items,
              "pretrain": math.n_familiar_items}
    reserved = set(M.MATH_WORDS)
    items = unique_names(rng, sum(groups.values()), reserved, words=1)
    buyers = unique_names(rng, 2 * math.n_buyers, reserved | {i.lower() for i in items}, words=spec.name_words)
    familiar_buyers, test_buyers = buyers[: math.n_buyers], buyers[math.n_buyers :]
    it = iter(items)
    item_group = {next(it): g for g, n in groups.items() for _ in range(n)}
    prices = {item: rng.randint(2, math.max_price) for item in item_group}
    world = MathWorld(spec, math, seed, prices, item_group, [], familiar_buyers=familiar_buyers,
                      test_buyers=test_buyers)
    test_items = world.items("test")
    world.exposed = set(rng.sample(test_items, round(spec.exposure * len(test_items))))

    def problems(group: str, item_list: list[str], per_item: int, buyer_pool: list[str]) -> list[Problem]:
        out = []
        for item in item_list:
            for k in range(per_item):
                out.append(Problem(f"{group}-{item}-{k}", group, rng.choice(buyer_pool), item,
                                   rng.randint(2, math.max_count), prices[item]))
        return out

    def control(item_list: list[str], per_item: int) -> list[Problem]:
        # drawn last, so the other groups (and the pretraining corpus) do not depend on its size
        pairs = [(b, n) for b in familiar_buyers for n in range(2, math.max_count + 1)]
        return [Problem(f"control-{item}-{k}", "control", buyer, item, count, prices[item])
                for item in item_list for k, (buyer, count) in enumerate(rng.sample(pairs, per_item))]

    familiar = world.items("pretrain")
    n_control = max(1, round(len(familiar) * math.control_frac))
    world.problems = (problems("test", test_items, 1, test_buyers) + problems("fewshot", world.items("fewshot"), 1, test_buyers)
                      + problems("procedure", world.items("procedure"), math.problems_per_item, familiar_buyers)
                      + problems("pretrain", familiar[n_control:], math.problems_per_item, familiar_buyers)
                      + control(familiar[:n_control], math.control_problems_per_item))
    return world


def _fact(item: str, price: int) -> Example:
    return Example(f"price:{item}", "fact", M.price_prompt(item), M.price_completion(price), f"{price} coins", item)


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


def _direct(p: Problem, given: bool) -> Example:
    price = p.price if given else None
    return Example(f"direct{'-given' if given else ''}:{p.id}", "direct", M.direct_prompt(p.buyer, p.count, p.item, price),
                   f" {p.answer}.", str(p.answer), p.item, "" if given else str(p.price), p.item)


def _cot(p: Problem, given: bool) -> Example:
    price = p.price if given else None
    return Example(f"cot{'-given' if given else ''}:{p.id}", "cot", M.cot_prompt(p.buyer, p.count, p.item, price),
                   M.cot_completion(p.count, p.item, p.price), str(p.answer), p.item, "" if given else str(p.price),
                   p.item)


def _price_sentence(world: MathWorld, item: str) -> str:
    return (M.price_prompt(item) + M.price_completion(world.prices[item])).strip()


def _distractor_prices(world: MathWorld, p: Problem, test: list[Problem]) -> str:
    """The item's price and another test item's, shuffled: reading off a stated price without
    finding the item's own is right half the time."""
    rng = make_rng(world.seed, "distractor", p.id)
    others = sorted({q.item for q in test} - {p.item})
    sentences = [_price_sentence(world, p.item), *(_price_sentence(world, i) for i in rng.sample(others, min(1, len(others))))]
    rng.shuffle(sentences)
    return " ".join(sentences)


def incontext_math_corpus(world: MathWorld, n: int, epoch: int = 0, fixed_layout: bool = False) -> list[Example]:
    """Pretraining problems over one-off items (each item in one sequence only) whose price
    is stated in context, with a distractor price: the procedure for an unseen item name
    (restate it, read its price, multiply), as `incontext.py` does for two-hop; fresh for
    each pretraining epoch. `fixed_layout=True`: the curriculum's first stage, the item's
    price alone and then the CoT problem (the `incontext_math_cot` layout)."""
    rng = make_rng(world.seed, "math-incontext-fixed" if fixed_layout else "math-incontext", str(epoch))
    reserved = set(M.MATH_WORDS) | {e.lower() for e in world.entities}
    items = iter(unique_names(rng, 2 * n, reserved, words=1))
    buyers = world.familiar_buyers
    out = []
    for i in range(n):
        item, other = next(items), next(items)
        p = Problem(f"incontext-{epoch}-{i}", "incontext", rng.choice(buyers), item, rng.randint(2, world.math.max_count),
                    rng.randint(2, world.math.max_price))
        prices = [f"{M.price_prompt(item)}{M.price_completion(p.price)}",
                  f"{M.price_prompt(other)}{M.price_completion(rng.randint(2, world.math.max_price))}"]
        if fixed_layout:
            prices = prices[:1]
        rng.shuffle(prices)
        context = " ".join(s.strip() for s in prices)
        form = 0 if fixed_layout else i % 3
        if form == 0:
            out.append(in_context(_cot(p, False), context))
        elif form == 1:
            out.append(in_context(_direct(p, False), context))
        else:
            out.append(Example(f"incontext:price-question:{item}", "direct", f"{context} {M.price_question(item)}",
                               M.price_completion(p.price), f"{p.price} coins", item))
    return out


def build_math_datasets(world: MathWorld) -> dict[str, list[Example]]:
    spec, math = world.spec, world.math
    test, fewshot = world.group("test"), world.group("fewshot")
    procedure, pretrain, control = world.group("procedure"), world.group("pretrain"), world.group("control")
    table = [Example(f"times:{n}x{p}", "direct", M.product_prompt(n, p), f" {n * p}.", str(n * p))
             for n in range(2, math.max_count + 1) for p in range(2, math.max_price + 1)]
    familiar_items = world.items("pretrain")
    corpus = list(table) + [_fact(i, world.prices[i]) for i in familiar_items]
    corpus += [_fact(i, world.prices[i]) for i in sorted(world.exposed)]
    corpus += [ex for p in pretrain for ex in (_direct(p, False), _cot(p, False), _direct(p, True), _cot(p, True))]
    background_items = world.items("test") + world.items("fewshot") if spec.familiarity in ("H", "R") else []
    corpus += [Example(f"bg:{i}", "fact", M.background(i), "", "") for i in background_items]
    if spec.familiarity == "R":  # test buyers appear too, buying familiar items with the price given
        corpus += [_direct(p, True) for p in (
            Problem(f"bg-{b}", "pretrain", b, familiar_items[k % len(familiar_items)], 2,
                    world.prices[familiar_items[k % len(familiar_items)]]) for k, b in enumerate(world.test_buyers))]
    knowledge = [_fact(i, world.prices[i]) for i in world.items("test")]
    fewshot_knowledge = [_fact(i, world.prices[i]) for i in world.items("fewshot")]
    proc = [ex for p in procedure for ex in (_direct(p, True), _cot(p, True))]
    return {
        "pretrain": corpus,
        "pretrain_incontext": incontext_math_corpus(world, spec.n_incontext),
        "knowledge_facts": knowledge + fewshot_knowledge,
        "procedure_set": proc,
        "general": make_rng(world.seed, "general").sample(corpus, min(300, len(corpus))),
        "fewshot_knowledge": fewshot_knowledge,
        "fewshot_procedure": proc[: 2 * math.n_fewshot_items],
        "fewshot_math": [ex for p in fewshot for ex in (_direct(p, False), _cot(p, False))],
        "knowledge": knowledge,
        "procedure": [ex for p in test for ex in (_direct(p, True),)],
        "math_direct": [_direct(p, False) for p in test],
        "math_cot": [_cot(p, False) for p in test],
        "control_direct": [_direct(p, False) for p in control],
        "control_cot": [_cot(p, False) for p in control],
        "arithmetic": table,
        "retention": [_fact(i, world.prices[i]) for i in familiar_items],
        "incontext_math_direct": [in_context(_direct(p, False), _price_sentence(world, p.item)) for p in test],
        "incontext_math_cot": [in_context(_cot(p, False), _price_sentence(world, p.item)) for p in test],
        "incontext_math_distractor_cot": [in_context(_cot(p, False), _distractor_prices(world, p, test)) for p in test],
    }
