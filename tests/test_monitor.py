"""The training loop's held-out checks and per-epoch fresh examples."""

from lorarecycle.config import EvalSpec, TrainSpec
from lorarecycle.evaluate.monitor import HeldOutMonitor, exact_match
from lorarecycle.model.load import load_base, load_tokenizer
from lorarecycle.tasks.example import Example
from lorarecycle.train.trainer import train_causal_lm

FACTS = [Example(f"fact:mentor:{n}", "fact", f"The mentor of {n} is", f" {m}.", m)
         for n, m in (("Kato Rimu", "Bove Saru"), ("Vize Zoli", "Lapi Fiva"), ("Rupu Taki", "Befe Lumo"))]


class StopAt:
    def __init__(self, epoch):
        self.epoch, self.calls, self.every = epoch, [], 1

    def due(self, epoch, epochs):
        return True

    def __call__(self, model, tokenizer):
        self.calls.append(model.training)
        return len(self.calls) >= self.epoch, {"recall": len(self.calls) / 10}


def test_training_stops_when_the_monitor_says_so_and_keeps_its_checks(tiny_base):
    model, tokenizer = load_base(tiny_base), load_tokenizer(tiny_base)
    monitor = StopAt(2)
    stats = train_causal_lm(model, tokenizer, FACTS, TrainSpec(epochs=6, lr=1e-3, batch_size=2), 0, "t", monitor=monitor)
    assert stats["epochs"] == 2 and [c["epoch"] for c in stats["checks"]] == [1, 2]
    assert stats["checks"][1]["recall"] == 0.2 and monitor.calls == [False, False]  # evaluated in eval mode


def test_fresh_examples_are_drawn_once_per_epoch(tiny_base):
    model, tokenizer = load_base(tiny_base), load_tokenizer(tiny_base)
    asked = []

    def fresh(epoch):
        asked.append(epoch)
        return [FACTS[epoch % 3]]

    stats = train_causal_lm(model, tokenizer, FACTS[:1], TrainSpec(epochs=3, lr=1e-3, batch_size=1), 0, "t", fresh=fresh)
    assert asked == [0, 1, 2] and stats["steps"] == 6 and stats["examples"] == 2


def test_exact_match_monitor_measures_recall_and_stops_at_its_target(tiny_base):
    model, tokenizer = load_base(tiny_base), load_tokenizer(tiny_base)
    spec = EvalSpec(max_new_tokens_direct=6)
    assert exact_match(model, tokenizer, FACTS, spec) == 0.0  # random weights know nothing
    monitor = HeldOutMonitor({"recall": tuple(FACTS), "retention": ()}, 0.5, 2, spec)
    assert monitor.due(2, 9) and not monitor.due(3, 9) and monitor.due(9, 9)
    stop, metrics = monitor(model, tokenizer)
    assert not stop and metrics == {"recall": 0.0}
    trained = train_causal_lm(model, tokenizer, FACTS, TrainSpec(epochs=60, lr=1e-2, batch_size=3, warmup_frac=0.0),
                              0, "t", monitor=HeldOutMonitor({"recall": tuple(FACTS)}, 1.0, 5, spec))
    assert trained["checks"][-1]["recall"] == 1.0 and trained["epochs"] < 60


def test_per_set_recall_stops_only_when_every_set_reaches_the_target(monkeypatch):
    """A union of a small fact set and a large procedure set: one pooled sample can pass while
    the facts are half learned; with one sample per set each must reach the target."""
    from lorarecycle.evaluate import monitor as monitor_module

    scores = {"facts": 0.5, "procedure": 1.0}
    monkeypatch.setattr(monitor_module, "exact_match", lambda model, tok, exs, spec: scores[exs[0].answer])
    facts, procedure = (Example(name, "fact", "p", " a.", name) for name in ("facts", "procedure"))
    per_set = HeldOutMonitor({"recall:facts": (facts,), "recall:procedure": (procedure,), "retention": (facts,)},
                             0.98, 5, EvalSpec())
    assert per_set(None, None) == (False, {"recall:facts": 0.5, "recall:procedure": 1.0, "retention": 0.5})
    scores["facts"] = 1.0
    assert per_set(None, None)[0]
    # no recall check at all never stops (retention alone is not a stop criterion)
    assert not HeldOutMonitor({"retention": (facts,)}, 0.5, 5, EvalSpec())(None, None)[0]


def test_the_recall_sample_is_pooled_or_one_per_training_set(smoke_cfg):
    """`experts.recall_check`: pooled draws the sample the runs before it drew (so their
    adapters' stop epochs are unchanged); per_set draws up to the same size from each set."""
    from lorarecycle.stages import held_out_monitor
    from lorarecycle.seeding import make_rng

    def examples(prefix, n):
        return [Example(f"{prefix}{i}", "fact", f"q{i}", " a.", "a") for i in range(n)]

    datasets = {"small": examples("s", 10), "large": examples("l", 300), "retention": examples("r", 60),
                "control_cot": examples("c", 40)}
    pooled = held_out_monitor(smoke_cfg, datasets, ("small", "large"), smoke_cfg.experts, 7)
    rng = make_rng(7, "monitor")
    assert pooled.checks["recall"] == tuple(rng.sample(datasets["small"] + datasets["large"], 64))
    assert list(pooled.checks) == ["recall", "retention", "control"]
    spec = smoke_cfg.experts.model_copy(update={"recall_check": "per_set"})
    per_set = held_out_monitor(smoke_cfg, datasets, ("small", "large"), spec, 7)
    assert set(per_set.checks["recall:small"]) == set(datasets["small"])  # all 10: fewer than the sample size
    assert len(per_set.checks["recall:large"]) == 64 and set(per_set.checks["recall:large"]) <= set(datasets["large"])
    assert len(per_set.checks["retention"]) == 48 and "recall" not in per_set.checks
    # the same retention and control questions in either mode: the checks' curves compare
    assert per_set.checks["retention"] == pooled.checks["retention"]
    assert per_set.checks["control"] == pooled.checks["control"]
    # one set: per_set is the pooled sample
    assert held_out_monitor(smoke_cfg, datasets, ("large",), spec, 7).checks == \
        held_out_monitor(smoke_cfg, datasets, ("large",), smoke_cfg.experts, 7).checks


def test_per_set_recall_leaves_single_set_adapters_as_they_were(smoke_cfg):
    """Over one training set per_set draws the pooled sample, so those adapters keep the
    pooled key and are reused; a union's spec keeps per_set."""
    from lorarecycle.stages import training_spec

    cfg = smoke_cfg.model_copy(update={"experts": smoke_cfg.experts.model_copy(update={"recall_check": "per_set"})})
    assert training_spec(cfg, "hop1", ("hop1_facts",)) == training_spec(smoke_cfg, "hop1", ("hop1_facts",))
    union = training_spec(cfg, "union_replay", ("hop1_facts", "hop2_facts"))
    assert union.recall_check == "per_set" and union.recipe == "replay"
