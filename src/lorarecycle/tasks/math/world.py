"""The math world, deterministic from (spec, seed): items with prices, two shops with a fee
per bag each, buyers, and the problems of every group.

  knowledge expert   the test (and few-shot) items' prices: "A bag of <item> costs <p> coins."
  procedure expert   the test shop's rule, "At <shop> a bag costs <f> coins more.", and
                     problems at that shop over other items, the price stated in the question
  test               "<buyer> buys <n> bags of <item> at <shop>. How many coins?" for test
                     items at the test shop: n x (p + f) needs the price (only in the knowledge
                     expert) and the rule (only in the procedure expert)

Pretraining holds the arithmetic (sums and products), familiar items' prices, and the other
shop's rule applied to them (a fee the base knows, never the test shop's), so the base has
the procedure "add the shop's fee, then multiply" but not the test shop's rule. Familiarity:
F test items and buyers unseen in pretraining, H the items appear (a background sentence, not
the price), R items and buyers appear. Exposure puts that fraction of the test items' prices
into pretraining; the rule stays new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...seeding import make_rng
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
    shop: str
    fee: int

    @property
    def answer(self) -> int:
        return self.count * (self.price + self.fee)


@dataclass
class MathWorld:
    spec: WorldSpec
    math: MathSpec
    seed: int
    prices: dict[str, int]  # every item's price
    item_group: dict[str, str]
    shops: dict[str, int]  # shop -> fee per bag: the test shop's, then the pretrained shop's
    problems: list[Problem] = field(default_factory=list)
    exposed: set[str] = field(default_factory=set)  # test items whose price is in pretraining
    familiar_buyers: list[str] = field(default_factory=list)
    test_buyers: list[str] = field(default_factory=list)

    @property
    def test_shop(self) -> str:
        return next(iter(self.shops))

    @property
    def familiar_shop(self) -> str:
        return list(self.shops)[1]

    def items(self, group: str) -> list[str]:
        return [i for i, g in self.item_group.items() if g == group]

    def group(self, name: str) -> list[Problem]:
        return [p for p in self.problems if p.group == name]

    @property
    def entities(self) -> set[str]:
        return set(self.prices) | set(self.shops) | set(self.familiar_buyers) | set(self.test_buyers) | set(M.NUMBERS)


def build_math_world(spec: WorldSpec, math: MathSpec, seed: int) -> MathWorld:
    rng = make_rng(seed, "math-world")
    groups = {"test": math.n_test_items, "fewshot": math.n_fewshot_items, "procedure": math.n_procedure_items,
              "pretrain": math.n_familiar_items}
    reserved = set(M.MATH_WORDS)
    names = unique_names(rng, sum(groups.values()) + 2, reserved, words=1)
    items, shop_names = names[:-2], names[-2:]
    buyers = unique_names(rng, 2 * math.n_buyers, reserved | {n.lower() for n in names}, words=spec.name_words)
    it = iter(items)
    item_group = {next(it): g for g, n in groups.items() for _ in range(n)}
    prices = {item: rng.randint(2, math.max_price) for item in item_group}
    fees = rng.sample(range(1, math.max_fee + 1), 2)  # the test shop's and the pretrained shop's differ
    world = MathWorld(spec, math, seed, prices, item_group, dict(zip(shop_names, fees)),
                      familiar_buyers=buyers[: math.n_buyers], test_buyers=buyers[math.n_buyers :])
    test_items = world.items("test")
    world.exposed = set(rng.sample(test_items, round(spec.exposure * len(test_items))))
    world.problems = _problems(world, rng)
    return world


def _problems(world: MathWorld, rng) -> list[Problem]:
    math, test_shop, familiar_shop = world.math, world.test_shop, world.familiar_shop

    def problems(group: str, items: list[str], per_item: int, buyers: list[str], shop: str) -> list[Problem]:
        return [Problem(f"{group}-{item}-{k}", group, rng.choice(buyers), item, rng.randint(2, math.max_count),
                        world.prices[item], shop, world.shops[shop]) for item in items for k in range(per_item)]

    def control(items: list[str], per_item: int) -> list[Problem]:
        # drawn last, so the other groups (and the pretraining corpus) do not depend on its size
        pairs = [(b, n) for b in world.familiar_buyers for n in range(2, math.max_count + 1)]
        return [Problem(f"control-{item}-{k}", "control", buyer, item, count, world.prices[item], familiar_shop,
                        world.shops[familiar_shop])
                for item in items for k, (buyer, count) in enumerate(rng.sample(pairs, per_item))]

    familiar = world.items("pretrain")
    n_control = max(1, round(len(familiar) * math.control_frac))
    return (problems("test", world.items("test"), 1, world.test_buyers, test_shop)
            + problems("fewshot", world.items("fewshot"), 1, world.test_buyers, test_shop)
            + problems("procedure", world.items("procedure"), math.problems_per_item, world.familiar_buyers, test_shop)
            + problems("pretrain", familiar[n_control:], math.problems_per_item, world.familiar_buyers, familiar_shop)
            + control(familiar[:n_control], math.control_problems_per_item))
