"""Across-seed aggregation of result rows: mean accuracy and two 95% intervals per
(condition, model, library, split), where a condition is the cell's non-seed axis values:
a t interval over seeds (seed-to-seed variation) and a Wilson interval of the pooled
questions (sampling error of all questions together)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from scipy import stats

from ..evaluate.metrics import wilson_interval

SEED_AXIS = "seed"


@dataclass
class Aggregate:
    condition: tuple[tuple[str, str], ...]  # non-seed (axis, value) pairs
    model: str
    library: str | None
    split: str
    data_requirement: str  # display label, e.g. "few-shot (10)"
    data_access: str  # its family (results.DATA_ACCESS)
    accuracies: list[float] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.model} [{self.library}]" if self.library else self.model

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def interval(self) -> tuple[float, float]:
        """t interval over seeds; with one seed, that run's Wilson interval."""
        n = len(self.accuracies)
        if n == 1:
            return self.rows[0]["ci_low"], self.rows[0]["ci_high"]
        half = stats.t.ppf(0.975, n - 1) * statistics.stdev(self.accuracies) / math.sqrt(n)
        return max(0.0, self.mean - half), min(1.0, self.mean + half)

    @property
    def pooled_interval(self) -> tuple[float, float]:
        """Wilson interval of all seeds' questions pooled: unlike the t interval it never
        collapses to [0, 0] when every seed scores 0 (the seeds then still bound the rate)."""
        return wilson_interval(sum(r["correct"] for r in self.rows), sum(r["n"] for r in self.rows))

    @property
    def chance(self) -> float | None:
        values = [r["chance"] for r in self.rows if "chance" in r]
        return statistics.fmean(values) if values else None

    def error_shares(self) -> dict[str, float] | None:
        if not all("errors" in r for r in self.rows):
            return None
        n = sum(r["n"] for r in self.rows)
        shares = {"correct": sum(r["correct"] for r in self.rows) / n}
        for kind in self.rows[0]["errors"]:
            shares[kind] = sum(r["errors"][kind] for r in self.rows) / n
        return shares


def condition_of(row: dict) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(v)) for k, v in row.get("axes", {}).items() if k != SEED_AXIS)


def aggregate(rows: Sequence[dict]) -> list[Aggregate]:
    groups: dict[tuple, Aggregate] = {}
    for r in rows:
        key = (condition_of(r), r["model"], r["library"], r["split"])
        if key not in groups:
            groups[key] = Aggregate(*key, data_requirement=r["data_requirement"], data_access=r["data_access"])
        groups[key].accuracies.append(r["accuracy"])
        groups[key].rows.append(r)
    return list(groups.values())
