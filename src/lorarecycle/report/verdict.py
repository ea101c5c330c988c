"""The sentence every report opens with: what recycling did on the composed question, against
a model trained on the same facts, and whether the gates let the run say it.

Attribution is per run (one seed, one cell): counts are pooled over the runs whose gates
passed, and separately over all runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..artifacts import read_jsonl
from ..config import ExperimentConfig
from ..layout import SAMPLES_FILE
from ..evaluate.composition import composition_given_knowledge
from ..tasks import Catalog, task_of
from .figures import plot_composition
from .gates import REFERENCE, attributable, diagnostics, evaluate_gates

RECYCLED = ("data-free", "few-shot")  # what the library alone gives; oracle and data-access rows are references


def pooled_counts(runs: Sequence[Sequence[dict]], split: str) -> dict[tuple, tuple[int, int]]:
    """(model, library) -> (right, asked) on `split`, summed over `runs`."""
    out: dict[tuple, tuple[int, int]] = {}
    for rows in runs:
        for r in rows:
            if r["split"] == split and (r.get("data_access") in RECYCLED or r["model"] == REFERENCE):
                key = (r["model"], r.get("library"))
                right, n = out.get(key, (0, 0))
                out[key] = (right + r["correct"], n + r["n"])
    return out


def _numbers(runs: Sequence[Sequence[dict]], catalog: Catalog) -> str:
    counts = pooled_counts(runs, catalog.composed[1])
    recycled = {k: v for k, v in counts.items() if k[1] is not None}
    reference = counts.get((REFERENCE, None))
    what = f"{catalog.question_noun} by chain of thought"
    if not recycled:
        text = "No recycled model in this run."
    else:
        # the first in name order among equals, so the sentence does not depend on row order
        (model, library), (best, n) = max(sorted(recycled.items()), key=lambda kv: kv[1][0] / kv[1][1])
        none = sum(1 for right, _ in recycled.values() if right == 0)
        if best == 0:  # no "best" among zeros
            text = f"None of the {len(recycled)} recycled models answered any of the {n} {what}."
        else:
            text = (f"Recycled models answered at most {best} of {n} {what} (best: {model} [{library}]); "
                    f"{none} of {len(recycled)} answered none.")
    if reference:
        text += f" {REFERENCE}, trained on the same facts, answered {reference[0]} of {reference[1]}."
    else:
        text += f" ({REFERENCE}, the model trained on the same facts, is not in this run.)"
    return text


def headline(runs: Sequence[tuple[Sequence[dict], Sequence[dict]]], catalog: Catalog) -> str:
    """One paragraph a newcomer understands: runs are (result rows, gates) per seed or cell."""
    passed = [rows for rows, gates in runs if attributable(gates)]
    if len(runs) == 1:
        rows, gates = runs[0]
        if passed:
            return f"Gates passed, so these numbers are recycling's. {_numbers([rows], catalog)}"
        failed = ", ".join(g["gate"] for g in gates if g["passed"] is not True and not
                           (g["gate"] == "gate1" and g["passed"] is None))
        return (f"This run cannot tell whether recycling composes: its positive controls failed ({failed}; see the "
                f"gates). {_numbers([rows], catalog)}")
    lead = f"Gates passed in {len(passed)} of {len(runs)} runs (seeds or cells)."
    if not passed:
        return f"{lead} No run can tell whether recycling composes. Over all runs: {_numbers([r for r, _ in runs], catalog)}"
    return (f"{lead} Over those runs: {_numbers(passed, catalog)} Over all {len(runs)} runs: "
            f"{_numbers([r for r, _ in runs], catalog)}")


def run_verdict(rows: list[dict], gates: list[dict], catalog: Catalog, samples: Path, figure: Path) -> dict:
    """run.json's verdict fields: the opening sentence, the diagnostics beside the gates, and
    composition given knowledge (from the samples: which chains each model knows both facts
    of), with its figure."""
    entries = composition_given_knowledge(read_jsonl(samples) if samples.exists() else [], catalog.hops,
                                          catalog.composed[1])
    return {"headline": headline([(rows, gates)], catalog), "gate_diagnostics": diagnostics(rows, catalog, gates),
            "composition": entries, "composition_figure": plot_composition(entries, figure)}


def verdict_fields(cfg: ExperimentConfig, out: Path, results: list[dict]) -> dict:
    """run.json's fields that the rows and samples decide: the gates, attribution, the
    opening sentence, the diagnostics and composition given knowledge (with its figure)."""
    catalog = task_of(cfg).catalog
    gates = evaluate_gates(results, catalog, cfg.world.exposure, cfg.world.exposure_hop, cfg.model.base_model is None)
    return {"gates": gates, "attributable": attributable(gates),
            **run_verdict(results, gates, catalog, out / SAMPLES_FILE, out / "figures" / "composition.png")}
