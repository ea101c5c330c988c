"""The training loop's held-out checks and per-epoch fresh examples."""

from lorarecycle.config import EvalSpec, TrainSpec
from lorarecycle.evaluate.monitor import HeldOutMonitor, exact_match
from lorarecycle.model.load import load_base, load_tokenizer
from lorarecycle.tasks.datasets import Example
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
