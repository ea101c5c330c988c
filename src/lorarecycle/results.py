"""The results schema: one row per (model, library, split) in `results.jsonl`.

Versioned (`schema_version`); every field is declared here and nowhere else, so rows,
run.json and reports use the same names. Readers should check `schema_version` and ignore
nothing silently: `ResultRow.model_validate(row)` refuses an unknown field.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

# What a row's model needed beyond the adapters, in report order.
DATA_ACCESS = ("none", "single expert", "data-free", "few-shot", "oracle", "data-access")
DataAccess = Literal[DATA_ACCESS]


class Metric(NamedTuple):
    higher_is_better: bool
    description: str


METRICS: dict[str, Metric] = {
    "accuracy": Metric(True, "exact match of the extracted answer"),
    "ci_low": Metric(True, "95% Wilson interval, lower end"),
    "ci_high": Metric(True, "95% Wilson interval, upper end"),
    "chance": Metric(True, "1 / the split's distinct answers (uniform guessing)"),
    "subject_accuracy": Metric(True, "CoT: the question's subject restated in the first step"),
    "first_hop_accuracy": Metric(True, "CoT: the first step right (two-hop: the bridge under the first relation)"),
    "second_hop_given_first": Metric(True, "CoT: the second step right among answers with a right first step"),
    "loglik_accuracy": Metric(True, "the gold answer ranked first among loglik_choices candidates"),
    "loglik_mean_rank": Metric(False, "mean rank of the gold answer (1 = best)"),
}


class ResultRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="this schema's version")
    # identity: which run, which model, which questions
    experiment: str = Field(description="the config's name")
    config_hash: str = Field(description="hash of the configuration sections the run uses")
    seed: int = Field(description="the experiment seed (every stage's seed derives from it)")
    model: str = Field(description="base | expert:NAME | a recycling label | a reference")
    library: str | None = Field(description="the library a recycled model was built from; None otherwise")
    method: str = Field(description="recycling method, reference or base | single_expert")
    split: str = Field(description="the test split (the task catalog lists them)")
    data_requirement: str = Field(description='display label, e.g. "few-shot (10)"')
    data_access: DataAccess = Field(description="what the model needed beyond the adapters (the report groups by it)")
    # conditions
    familiarity: Literal["F", "H", "R"] = Field(description="entity familiarity: fictional, hybrid, real")
    exposure: float = Field(description="share of test chains whose facts pretraining held")
    device: str = Field(description="cpu | cuda | mps")
    precision: Literal["fp32", "bf16"] = Field(description="the precision the run computed in (what `auto` resolved to)")
    measured_familiarity: dict[str, float] = Field(description="mean name log-probability per entity role (nats/token)")
    # metrics (see METRICS)
    n: int = Field(description="questions in the split")
    correct: int = Field(description="questions answered right")
    accuracy: float = Field(description=METRICS["accuracy"].description)
    ci_low: float = Field(description=METRICS["ci_low"].description)
    ci_high: float = Field(description=METRICS["ci_high"].description)
    chance: float = Field(description=METRICS["chance"].description)
    errors: dict[str, int] | None = Field(None, description="wrong answers by kind: bridge, other_entity, other")
    subject_accuracy: float | None = Field(None, description=METRICS["subject_accuracy"].description)
    first_hop_accuracy: float | None = Field(None, description=METRICS["first_hop_accuracy"].description)
    second_hop_given_first: float | None = Field(None, description=METRICS["second_hop_given_first"].description)
    loglik_accuracy: float | None = Field(None, description=METRICS["loglik_accuracy"].description)
    loglik_mean_rank: float | None = Field(None, description=METRICS["loglik_mean_rank"].description)
    loglik_choices: int | None = Field(None, description="candidates ranked (eval.loglik_choices)")
    selected: dict[str, float] | None = Field(None, description="per-query selection: share of queries per expert")
    oracle_of: str | None = Field(None, description="oracle rows: the expert whose row this is")
    # sweeps
    cell: str | None = Field(None, description="grid runs: the cell id")
    axes: dict[str, str] | None = Field(None, description="grid runs: the cell's axis values")


def schema_table() -> list[tuple[str, str, str]]:
    """(field, type, description) for the README."""
    return [(name, str(f.annotation).replace("typing.", ""), f.description or "")
            for name, f in ResultRow.model_fields.items()]
