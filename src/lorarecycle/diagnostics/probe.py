"""Probe a library with the user's own questions: each adapter alone vs recycled methods,
on rows that need one adapter's knowledge vs rows that need several."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError

from ..config import StrictModel
from ..errors import UserError, invalid
from ..evaluate.decode import greedy_decode
from ..model.load import load_base, load_tokenizer
from ..recycle.adapted import load_adapted
from ..recycle.build import RECYCLERS, LibraryInputs, build_recycled
from ..tasks.text import extract_answer, normalize
from ..ui import progress_bar

KINDS = ("fact", "cot")


class ProbeRow(StrictModel):
    prompt: str
    answer: str
    adapters: list[str] = Field(min_length=1)
    kind: str = "fact"  # fact: the answer is the first sentence; cot: what follows "So the answer is"


@dataclass(frozen=True)
class ProbeSet:
    rows: list[ProbeRow]

    @property
    def single(self) -> list[int]:
        return [i for i, r in enumerate(self.rows) if len(set(r.adapters)) == 1]

    @property
    def cross(self) -> list[int]:
        return [i for i, r in enumerate(self.rows) if len(set(r.adapters)) > 1]


def load_probe(path: Path, adapter_labels: list[str]) -> ProbeSet:
    rows = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise UserError(f"{path}: cannot read probe file ({err.strerror})") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = ProbeRow.model_validate(json.loads(line))
        except json.JSONDecodeError as err:
            raise UserError(f"{path}:{n}: malformed JSON ({err.msg})") from None
        except ValidationError as err:
            raise invalid(f"{path}:{n}", err) from None
        unknown = [a for a in row.adapters if a not in adapter_labels]
        if unknown:
            raise UserError(f"{path}:{n}: adapter {unknown[0]!r} was not given (adapters: {', '.join(adapter_labels)})")
        if row.kind not in KINDS:
            raise UserError(f"{path}:{n}: kind must be one of {', '.join(KINDS)}")
        rows.append(row)
    if not rows:
        raise UserError(f"{path}: no probe rows")
    return ProbeSet(rows)


def accuracy(correct: list[bool], indices: list[int]) -> float | None:
    return sum(correct[i] for i in indices) / len(indices) if indices else None


def verdict(single_alone: float | None, cross_best: float | None, best_method: str) -> str:
    """One plain sentence from the numbers: cross-adapter rows with the best recycled model vs
    single-adapter rows answered by their own adapter alone."""
    if single_alone is None or cross_best is None:
        return "the probe needs both single-adapter and cross-adapter rows for a verdict"
    # a best method named among methods that all score 0 would be a tie-break, not a finding
    best = f"best recycled method: {best_method}" if cross_best > 0 else "no recycled method above 0%"
    numbers = (f"cross-adapter rows: {cross_best:.0%} ({best}) vs "
               f"{single_alone:.0%} on single-adapter rows with their own adapter alone")
    if single_alone == 0:
        return f"{numbers}; the adapters do not answer even their own rows, so composition cannot be judged"
    ratio = cross_best / single_alone
    if ratio >= 0.8:
        return f"{numbers}; the recycled library composes this knowledge"
    if ratio >= 0.3:
        return f"{numbers}; the recycled library composes this knowledge only partly"
    return f"{numbers}; the recycled library does not compose this knowledge"


def check_methods(methods: list[str], n_adapters: int) -> None:
    """The probe's methods: known, data-free, at least one (before any model loads)."""
    if not methods:
        raise UserError("--methods is empty: name at least one data-free recycling method")
    for method in methods:
        recycler = RECYCLERS.get(method)
        recycler.check({}, n_adapters)
        if recycler.data_requirement({}) != "data-free" or recycler.extra_experts({}):
            raise UserError(f"method {method!r} needs data beyond the adapters ({recycler.data_requirement({})}); "
                            "the probe runs data-free methods only")


def evaluate_probe(base_path: Path, adapter_paths: list[Path], labels: list[str], probe: ProbeSet, methods: list[str],
                   work_dir: Path, max_new_tokens: int, batch_size: int = 64) -> dict:
    """Correctness per row for the base, each adapter alone and each recycled method."""
    check_methods(methods, len(adapter_paths))
    tokenizer = load_tokenizer(base_path)
    prompts = [r.prompt for r in probe.rows]

    def score(model) -> list[bool]:
        gens = greedy_decode(model, tokenizer, prompts, max_new_tokens, batch_size)
        return [extract_answer(g, r.kind) == normalize(r.answer) for g, r in zip(gens, probe.rows)]

    builders = {"base": lambda: load_base(base_path)}
    for label, path in zip(labels, adapter_paths):
        builders[label] = lambda p=path: load_adapted(base_path, p)
    for method in methods:
        inputs = LibraryInputs(base_path, adapter_paths, labels, work_dir / method, seed=0)
        builders[method] = lambda m=method, i=inputs: build_recycled(m, i, {})
    correct = {}
    with progress_bar("probing", len(builders)) as advance:
        for name, build in builders.items():
            try:
                correct[name] = score(build())
            except RuntimeError as err:  # e.g. adapter weights that do not fit the base model
                raise UserError(f"{name}: does not fit the base model {base_path} ({str(err).splitlines()[0][:200]})") from None
            advance(info=name)
    return correct


def summarize_probe(correct: dict[str, list[bool]], probe: ProbeSet, labels: list[str], methods: list[str]) -> dict:
    rows = {name: {"single": accuracy(c, probe.single), "cross": accuracy(c, probe.cross)} for name, c in correct.items()}
    own = [correct[probe.rows[i].adapters[0]][i] for i in probe.single]
    single_alone = sum(own) / len(own) if own else None
    scored = [(rows[m]["cross"], m) for m in methods if rows[m]["cross"] is not None]
    cross_best, best = max(scored, key=lambda s: s[0]) if scored else (None, "")  # first of the best
    return {"models": rows, "single_with_own_adapter": single_alone,
            "verdict": verdict(single_alone, cross_best, best), "n_single": len(probe.single), "n_cross": len(probe.cross)}
