"""`lorarecycle diagnose`: data-free diagnostics of a practitioner's own adapters."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..artifacts import check_output_file, write_json
from ..errors import UserError
from ..inputs import check_adapter_config
from ..ui import report_console
from .options import PrecisionOpt

PROBE_METHODS = "uniform_delta,uniform_factors,ties,arrow"
PROBE_TOKENS = 48


def check_device_env() -> None:
    """The probe's device comes from $LORARECYCLE_DEVICE: diagnose has no --device flag."""
    import os

    from ..model.device import DEVICE_ENV, resolve_device

    resolve_device(os.environ.get(DEVICE_ENV, "auto"), source=DEVICE_ENV)


def diagnose(
    adapters: Annotated[list[Path], typer.Argument(help="two or more PEFT adapter directories")],
    density: Annotated[float, typer.Option(help="TIES trim density for the sign-conflict rate")] = 1.0,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="write every per-module number here")] = None,
    probe: Annotated[Optional[Path], typer.Option(help="JSONL rows {prompt, answer, adapters[, kind]} to evaluate")] = None,
    base_model: Annotated[Optional[Path], typer.Option("--base-model", help="the adapters' base model (for --probe)")] = None,
    methods: Annotated[Optional[str], typer.Option(
        help=f"recycling methods to probe, comma-separated (for --probe) [default: {PROBE_METHODS}]")] = None,
    max_new_tokens: Annotated[Optional[int], typer.Option(
        help=f"generation budget per probe row (for --probe) [default: {PROBE_TOKENS}]")] = None,
    precision: PrecisionOpt = None,
) -> None:
    """Subspace overlap (principal angles of column and row spaces), delta-W cosine, TIES sign
    conflicts, effective rank, norms and module coverage, per module and pair of adapters."""
    max_new_tokens, method_list = _check_arguments(adapters, density, json_out, probe, base_model, methods,
                                                   max_new_tokens, precision)
    # torch and the adapter readers load only after the arguments are checked
    from ..diagnostics.probe import check_methods, evaluate_probe, load_probe, summarize_probe
    from ..diagnostics.report import adapter_rows, pair_rows
    from ..model.load import check_model_dir
    from ..model.precision import set_precision

    loaded, labels = _load(adapters)
    probe_set = None
    if probe is not None:  # validate the probe before any work
        check_model_dir(base_model)
        check_methods(method_list, len(adapters))
        check_device_env()
        probe_set = load_probe(probe, labels)
        set_precision(precision or "auto")
    pairs, singles = pair_rows(loaded, labels, density), adapter_rows(loaded, labels)
    console = report_console(160)  # the pair table is wide
    _print_library(console, singles, pairs, loaded, labels)
    report = {"adapters": singles, "pairs": pairs}
    if probe_set is not None:
        with tempfile.TemporaryDirectory() as work:
            correct = evaluate_probe(base_model, list(adapters), labels, probe_set, method_list, Path(work), max_new_tokens)
        report["probe"] = summarize_probe(correct, probe_set, labels, method_list)
        _print_probe(console, report["probe"])
    if json_out is not None:
        write_json(json_out, report)


def _check_arguments(adapters: list[Path], density: float, json_out: Path | None, probe: Path | None,
                     base_model: Path | None, methods: str | None, max_new_tokens: int | None,
                     precision: str | None) -> tuple[int, list[str]]:
    """Every flag checked before anything loads: (the probe's token budget, its methods)."""
    if len(adapters) < 2:
        raise UserError("diagnose needs at least two adapters")
    if not 0 < density <= 1:
        raise UserError(f"--density must be in (0, 1], got {density}")
    probe_flags = {"--base-model": base_model, "--methods": methods, "--max-new-tokens": max_new_tokens,
                   "--precision": precision}
    if probe is None:  # a flag the mode ignores is refused, not silently dropped
        given = [flag for flag, value in probe_flags.items() if value is not None]
        if given:
            raise UserError(f"{given[0]} applies only with --probe")
    elif base_model is None:
        raise UserError("--probe needs --base-model pointing to a Hugging Face model directory")
    max_new_tokens = PROBE_TOKENS if max_new_tokens is None else max_new_tokens
    if max_new_tokens < 1:
        raise UserError(f"--max-new-tokens must be at least 1, got {max_new_tokens}")
    method_list = [m.strip() for m in (PROBE_METHODS if methods is None else methods).split(",") if m.strip()]
    if json_out is not None:
        check_output_file(json_out, "--json")
    for path in adapters:
        check_adapter_config(path)
    return max_new_tokens, method_list


def _load(adapters: list[Path]) -> tuple[list, list[str]]:
    """The adapters, checked to share a base and to stay within their dtype's range, and their labels."""
    from ..adapters.lora_io import read_adapter
    from ..recycle.merge.apply import check_compatible, check_magnitude

    loaded = [read_adapter(p) for p in adapters]
    check_compatible(loaded)
    for path, adapter in zip(adapters, loaded):
        for name, module in adapter.modules.items():
            check_magnitude(module, 1.0, module.A.dtype, f"{path}: module {name}")
    labels = [p.name or str(p) for p in adapters]
    return loaded, [f"{lab}#{i}" if labels.count(lab) > 1 else lab for i, lab in enumerate(labels)]


def _print_library(console, singles: list[dict], pairs: list[dict], loaded: list, labels: list[str]) -> None:
    from ..diagnostics.report import summarize_adapters, summarize_pairs

    table = Table(title="adapters")
    for col in ("adapter", "modules", "missing modules", "median effective rank", "|delta W|"):
        table.add_column(col, justify="right" if col != "adapter" else "left")
    for r in summarize_adapters(singles, loaded, labels):
        table.add_row(r["adapter"], str(r["modules"]), str(r["missing_modules"]), f"{r['median_effective_rank']:.2f}",
                      f"{r['total_norm']:.3g}")
    console.print(table)
    table = Table(title="pairs (median over shared modules)")
    for col in ("pair", "shared", "column overlap", "row overlap", "delta-W cosine", "sign conflict", "norm ratio"):
        table.add_column(col, justify="right" if col != "pair" else "left", no_wrap=col == "pair")
    for r in summarize_pairs(pairs):
        table.add_row(f"{r['a']} ~ {r['b']}", str(r["modules"]), f"{r['column_overlap']:.3f}", f"{r['row_overlap']:.3f}",
                      f"{r['delta_cosine']:+.3f}", f"{r['sign_conflict']:.3f}", f"{r['norm_ratio']:.2f}")
    console.print(table)
    console.print("overlap: mean squared cosine of the principal angles (1 = same subspace; random rank-r "
                  "subspaces of dimension d give about r/d). sign conflict: share of entries kept by both "
                  "whose signs differ (0.5 = unrelated).")


def _print_probe(console, summary: dict) -> None:
    table = Table(title=f"probe: {summary['n_single']} single-adapter rows, {summary['n_cross']} cross-adapter rows")
    for col in ("model", "single-adapter rows", "cross-adapter rows"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for name, acc in summary["models"].items():
        table.add_row(name, *("-" if acc[k] is None else f"{acc[k]:.2f}" for k in ("single", "cross")))
    console.print(table)
    console.print(f"verdict: {summary['verdict']}")
