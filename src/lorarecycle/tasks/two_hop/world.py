"""A fictional two-hop world, deterministic from (spec, seed).

Familiar knowledge is a graph: each of `n_familiar` entities has `facts_per_entity`
facts r(X) = Y with distinct relations. Its two-hop paths A -r1-> B -r2-> C are split:
  pretrain  paths whose two-hop questions (direct and CoT) are in the pretraining corpus
  control   paths whose questions are held out (base-skill control: the base knows both
            facts; can it compose them?), plus `n_control_matched` chains built like the
            test chains (own entities, the test's relation pair) whose two facts pretraining
            states once each: the matched control
New knowledge lives on disjoint chains of other entities, all with (hop1, hop2) relations:
  test      the experts' chains: r1 facts -> hop-1 expert, r2 facts -> hop-2 expert
  skill     other chains for the two-hop-skill expert (its facts and two-hop questions)
  fewshot   chains whose facts the experts also learn, but whose two-hop questions are
            never tested: the few-shot material of LoraHub/retrievers and demonstrations
Familiarity decides which test/skill entities the base model sees in pretraining (one
background fact each, with another relation): F none, H only A, R all of A, B, C.
Exposure puts that fraction of the test chains' own facts into pretraining (both facts, or
only hop 1 / hop 2 with `exposure_hop`).
With `names: real` the familiar roles take real, widely known entities (people, cities,
organisations; see entities.py) instead of fictional names, so "familiar" also holds for a
real pretrained LM; their facts stay synthetic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ...errors import UserError
from ...seeding import make_rng
from ..names import unique_names
from ..text import TEMPLATE_WORDS
from .entities import draw_real, object_type
from .spec import WorldSpec

FAMILIAR_ROLES = {"F": (), "H": ("a",), "R": ("a", "b", "c")}


@dataclass(frozen=True)
class Fact:
    subject: str
    relation: str
    obj: str


@dataclass(frozen=True)
class Chain:
    id: str
    group: str
    a: str
    b: str
    c: str
    r1: str
    r2: str
    exposed: bool = False  # some of its own facts are in pretraining (see World.pretraining_facts)
    matched: bool = False  # a matched-control chain

    def facts(self) -> tuple[Fact, Fact]:
        return Fact(self.a, self.r1, self.b), Fact(self.b, self.r2, self.c)


@dataclass
class World:
    spec: WorldSpec
    seed: int
    graph: list[Fact]  # the familiar knowledge graph
    chains: list[Chain]
    background: list[Fact] = field(default_factory=list)

    def group(self, name: str) -> list[Chain]:
        return [c for c in self.chains if c.group == name]

    @property
    def entities(self) -> set[str]:
        return {e for c in self.chains for e in (c.a, c.b, c.c)} | {e for f in self.graph for e in (f.subject, f.obj)}

    def pretraining_facts(self) -> list[Fact]:
        """Every fact the base model reads in pretraining."""
        which = {"both": (0, 1), "hop1": (0,), "hop2": (1,)}[self.spec.exposure_hop]
        exposed = [c.facts()[i] for c in self.group("test") if c.exposed for i in which]
        matched = [f for c in self.group("control") if c.matched for f in c.facts()]
        return self.graph + matched + self.background + exposed

    @property
    def familiar(self) -> set[str]:
        """Entities that occur in the pretraining corpus."""
        return {e for f in self.pretraining_facts() for e in (f.subject, f.obj)}


def build_world(spec: WorldSpec, seed: int) -> World:
    rng = make_rng(seed, "world")
    n_new = 3 * (spec.n_test_chains + spec.n_skill_chains + spec.n_fewshot_chains + spec.n_control_matched)
    names = unique_names(rng, spec.n_familiar + n_new, set(TEMPLATE_WORDS) | set(spec.relations), spec.name_words)
    familiar, new = names[: spec.n_familiar], iter(names[spec.n_familiar :])
    graph = _knowledge_graph(familiar, spec, rng)
    paths = _two_hop_paths(graph)
    if len(paths) < spec.n_control_paths + spec.n_pretrain_paths:  # never shrink a split silently
        raise UserError(f"world: the knowledge graph has {len(paths)} two-hop paths, n_control_paths + "
                        f"n_pretrain_paths asks for {spec.n_control_paths + spec.n_pretrain_paths}; "
                        "lower them or raise n_familiar")
    rng.shuffle(paths)
    chains = [Chain(f"control-{i}", "control", *p) for i, p in enumerate(paths[: spec.n_control_paths])]
    chains += [Chain(f"pretrain-{i}", "pretrain", *p)
               for i, p in enumerate(paths[spec.n_control_paths : spec.n_control_paths + spec.n_pretrain_paths])]
    exposed = set(rng.sample(range(spec.n_test_chains), round(spec.exposure * spec.n_test_chains)))
    real = _real_roles(spec, rng) if spec.names == "real" else {}
    for group, n in (("test", spec.n_test_chains), ("skill", spec.n_skill_chains), ("fewshot", spec.n_fewshot_chains)):
        for i in range(n):
            a, b, c = (next(real[role]) if role in real else next(new) for role in "abc")
            chains.append(Chain(f"{group}-{i}", group, a, b, c, spec.hop1_relation, spec.hop2_relation,
                                group == "test" and i in exposed))
    chains += [Chain(f"control-m{i}", "control", next(new), next(new), next(new), spec.hop1_relation,
                     spec.hop2_relation, exposed=True, matched=True) for i in range(spec.n_control_matched)]
    world = World(spec, seed, graph, chains)
    world.background = _background_facts(world, familiar, rng)
    return world


def _real_roles(spec: WorldSpec, rng) -> dict[str, Iterator[str]]:
    """For `names: real`, an iterator of real entities for each role the familiarity level
    makes familiar (the role's type follows the relation: e.g. an employer is an organisation)."""
    n_chains = spec.n_test_chains + spec.n_skill_chains + spec.n_fewshot_chains
    types = {"a": "person", "b": object_type(spec.hop1_relation), "c": object_type(spec.hop2_relation)}
    roles = FAMILIAR_ROLES[spec.familiarity]
    needs = {t: n_chains * sum(types[r] == t for r in roles) for t in dict.fromkeys(types[r] for r in roles)}
    drawn = draw_real(rng, needs, set(TEMPLATE_WORDS) | set(spec.relations))
    pools = {t: iter(names) for t, names in drawn.items()}
    return {r: pools[types[r]] for r in roles}


def _knowledge_graph(entities: list[str], spec: WorldSpec, rng) -> list[Fact]:
    facts = []
    for subject in entities:
        for relation in rng.sample(spec.relations, spec.facts_per_entity):
            facts.append(Fact(subject, relation, rng.choice([e for e in entities if e != subject])))
    return facts


def _two_hop_paths(graph: list[Fact]) -> list[tuple[str, str, str, str, str]]:
    """All (a, b, c, r1, r2) with r1(a) = b and r2(b) = c in the graph, a != c."""
    by_subject: dict[str, list[Fact]] = {}
    for f in graph:
        by_subject.setdefault(f.subject, []).append(f)
    return [(f.subject, f.obj, g.obj, f.relation, g.relation)
            for f in graph for g in by_subject.get(f.obj, []) if g.obj != f.subject]


def _background_facts(world: World, familiar: list[str], rng) -> list[Fact]:
    """One fact, with a relation other than r1/r2, about each familiar test/skill/few-shot entity."""
    spec = world.spec
    others = [r for r in spec.relations if r not in (spec.hop1_relation, spec.hop2_relation)]
    facts = []
    for chain in world.group("test") + world.group("skill") + world.group("fewshot"):
        for role in FAMILIAR_ROLES[spec.familiarity]:
            facts.append(Fact(getattr(chain, role), rng.choice(others), rng.choice(familiar)))
    return facts
