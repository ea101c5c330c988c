"""What an experiment evaluates: one row per model (and library), in report order. The one
plan that execution, resume, sweeps and `validate` all read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .config import ExperimentConfig, MethodSpec
from .recycle.build import RECYCLERS
from .tasks import REPLAY_REFERENCES
from .tasks import task_of

FULL_FINE_TUNES = ("full_ft", "full_ft_replay")
# the rows the gates read (report.gates): a run's controls, evaluated first with --controls-only
CONTROL_MODELS = ("base", "union_replay")

REFERENCE_ROWS = {"union": "data-access (pooled expert data)",
                  "union_replay": "data-access (pooled expert data, replay recipe)",
                  "union_demos": "data-access (pooled + two-hop demos)",
                  "target_expert": "data-access (test questions)"}


class Source(str, Enum):
    """Where a row's model comes from."""

    BASE = "base"  # the base model as it is
    ADAPTER = "adapter"  # the base with one trained adapter (an expert or a reference)
    FULL = "full"  # a full fine-tune (a reference)
    RECYCLED = "recycled"  # a library of experts, recycled by a method


@dataclass(frozen=True)
class Row:
    """One row of the plan: its name in the table, its library, the method, what it needed
    beyond the adapters, and its source (`name`: the adapter or fine-tune; `spec`: the
    method spec of a recycled row)."""

    model: str
    library: str | None
    method: str
    data_requirement: str  # display label, e.g. "few-shot (10)"
    data_access: str  # its family (results.DATA_ACCESS): what the row's model needed beyond the adapters
    source: Source
    name: str = ""
    spec: MethodSpec | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        return self.model, self.library

    @property
    def trace_name(self) -> str:
        return f"{self.model}-{self.library}"


def needed_experts(cfg: ExperimentConfig) -> list[str]:
    """The adapters a config trains: its libraries' experts, its methods' extra experts and
    its adapter references, in the task's order."""
    names = {e for experts in cfg.libraries.values() for e in experts}
    names |= {e for spec in cfg.methods for e in RECYCLERS.get(spec.name).extra_experts(spec.params)}
    expert_data = task_of(cfg).catalog.expert_data
    names |= {r for r in cfg.references if r in expert_data}
    return sorted(names, key=list(expert_data).index)


def plan(cfg: ExperimentConfig, controls_only: bool = False) -> list[Row]:
    """Every row an experiment evaluates, in report order (`controls_only`: the rows the
    gates read, so a run learns whether it can attribute anything before training experts)."""
    rows = [Row("base", None, "base", "none", "none", Source.BASE)]
    for name in needed_experts(cfg):
        if name in REFERENCE_ROWS:
            rows.append(Row(name, None, name, REFERENCE_ROWS[name], "data-access", Source.ADAPTER, name))
        else:
            rows.append(Row(f"expert:{name}", None, "single_expert", "single expert", "single expert", Source.ADAPTER,
                            name))
    for name in (n for n in FULL_FINE_TUNES if n in cfg.references):
        what = "pooled expert data, all weights" + (", replay recipe" if name in REPLAY_REFERENCES else "")
        rows.append(Row(name, None, name, f"data-access ({what})", "data-access", Source.FULL, name))
    for library in cfg.libraries:
        for spec in cfg.methods:
            method = RECYCLERS.get(spec.name)
            rows.append(Row(spec.row_name, library, spec.name, method.data_requirement(spec.params), method.access,
                            Source.RECYCLED, spec=spec))
    return [r for r in rows if r.model in CONTROL_MODELS] if controls_only else rows


def row_keys(cfg: ExperimentConfig) -> list[tuple[str, str | None]]:
    """(model, library) of every planned row, in report order."""
    return [row.key for row in plan(cfg)]
