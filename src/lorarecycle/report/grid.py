"""A grid's report: report.md (tables, linked figures) and a self-contained report.html
(the same content, figures embedded), from every cell's rows."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import atomic_write_text, read_json
from ..evaluate.composition import pool
from ..evaluate.oracle import oracle_rows
from ..tasks import Catalog, task_of
from .aggregate import Aggregate, aggregate
from .figures import plot_accuracy_heatmap, plot_axis_curves, plot_composition, plot_error_bars
from .gates import attributable, evaluate_gates
from .tables import (COMPOSITION_HEADER, NO_COMPOSITION, composition_rows, markdown_composition,
                     requirement_rank)
from .verdict import headline


def _conditions(aggs: Sequence[Aggregate]) -> list[tuple]:
    return list(dict.fromkeys(a.condition for a in aggs))


def _cell_text(a: Aggregate | None) -> str:
    if a is None:
        return ""
    low, high = a.interval
    if len(a.accuracies) == 1:  # one run: its Wilson interval
        return f"{a.mean:.2f} [{low:.2f}, {high:.2f}]"
    pooled_low, pooled_high = a.pooled_interval
    return (f"{a.mean:.2f} t[{low:.2f}, {high:.2f}] pooled Wilson[{pooled_low:.2f}, {pooled_high:.2f}] "
            f"(n={len(a.accuracies)})")


def _table(aggs: Sequence[Aggregate], condition: tuple) -> tuple[list[str], list[list[str]]]:
    chosen = [a for a in aggs if a.condition == condition]
    labels = sorted(dict.fromkeys(a.label for a in chosen),
                    key=lambda label: requirement_rank(next(a.data_access for a in chosen if a.label == label)))
    cells = {(a.label, a.split): a for a in chosen}
    splits = list(dict.fromkeys(a.split for a in chosen))
    header = ["model [library]", "data", *splits]
    body = []
    for label in labels:
        req = next(a.data_requirement for a in chosen if a.label == label)
        body.append([label, req, *(_cell_text(cells.get((label, s))) for s in splits)])
    chance = {s: next((a.chance for a in chosen if a.split == s and a.chance is not None), None) for s in splits}
    body.append(["chance (uniform over the split's answers)", "", *(f"{c:.3f}" if c else "" for c in chance.values())])
    return header, body


def _title(condition: tuple) -> str:
    return ", ".join(f"{k}={v}" for k, v in condition) or "accuracy"


def _intro(n_runs: int) -> str:
    if n_runs == 1:
        return "Accuracy: exact match with its 95% Wilson interval."
    return (f"{n_runs} runs (seeds or cells). Each table cell: mean accuracy over runs, t interval over runs and "
            "Wilson interval of the pooled questions (95%), and the number of runs.")


def make_figures(run_dir: Path, aggs: Sequence[Aggregate], axes: Sequence[str], catalog: Catalog) -> dict[str, str]:
    """{file name: caption} of the figures written to run_dir/figures; the task's catalog
    names the splits each figure shows (a math report has no two-hop panels)."""
    figures = {}
    out = run_dir / "figures"
    plot_accuracy_heatmap(aggs, out / "accuracy.png")
    figures["accuracy.png"] = ("Accuracy of every model per split and condition: mean over seeds [95% interval]; "
                               "rows grouped by data requirement, row labels coloured by family; chance under each split")
    for axis, name in (("world.familiarity", "familiarity.png"), ("world.exposure", "exposure.png")):
        if axis in axes:
            plot_axis_curves(aggs, axis, out / name, (*catalog.hops, *catalog.composed))
            figures[name] = f"Accuracy against {axis} per method (mean over seeds, 95% intervals; dashed: chance)"
    if plot_error_bars(aggs, out / "errors.png", catalog.composed):
        figures["errors.png"] = ("Error taxonomy of the composed questions (share of questions: right, the bridge "
                                 "entity, another known entity, other), pooled over cells")
    return figures


GATE_HEADER = ["run", "gate0 (base procedure)", "gate1 (exposed vs matched control)", "gate2 (union_replay)",
               "recycled rows attributable"]


def run_gates(cells, by_cell: dict[str, list[dict]]) -> list[tuple[str, list[dict], list[dict]]]:
    """(label, rows, gates) of every run (cell) with rows."""
    out = []
    for cell in cells:
        rows = by_cell.get(cell.id, [])
        if rows:
            world = cell.config.world
            gates = evaluate_gates(rows, task_of(cell.config).catalog, world.exposure, world.exposure_hop,
                                   cell.config.model.base_model is None)
            out.append((", ".join(f"{k}={v}" for k, v in rows[0].get("axes", {}).items()) or cell.config.name,
                        rows, gates))
    return out


def gate_rows(runs: Sequence[tuple[str, list[dict], list[dict]]]) -> list[list[str]]:
    """One line per run: each gate's result (the checks are in the run's report.md)."""
    mark = {True: "pass", False: "FAIL", None: "not measured"}
    return [[label, *(mark[g["passed"]] for g in gates), "yes" if attributable(gates) else "NO"]
            for label, _, gates in runs]


@dataclass(frozen=True)
class Page:
    title: str
    headline: str
    intro: str
    gates: list[list[str]]
    composition: list[tuple[str, list[dict]]]  # (caption, pooled entries) per block
    figures: dict[str, str]


def _markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|", *("| " + " | ".join(r) + " |" for r in body)]


def render_markdown(page: Page, aggs: Sequence[Aggregate]) -> str:
    parts = [f"# {page.title}", "", f"**{page.headline}**", "", page.intro, "", "## Gates per run", "",
             *_markdown_table(GATE_HEADER, page.gates), "", "## Composition given knowledge", ""]
    for caption, entries in page.composition:
        parts += [caption, ""] if caption else []
        parts += [markdown_composition(entries), ""]
    for name, caption in page.figures.items():
        parts += [f"![{caption}](figures/{name})", "", f"*{caption}*", ""]
    for condition in _conditions(aggs):
        header, body = _table(aggs, condition)
        parts += [f"## {_title(condition)}", "", *_markdown_table(header, body), ""]
    return "\n".join(parts)


def _html_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    esc = html.escape
    return ("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in body) + "</table>")


def _composition_html(blocks: list[tuple[str, list[dict]]]) -> str:
    out = []
    for caption, entries in blocks:
        out.append(f"<p>{html.escape(caption)}</p>" if caption else "")
        out.append(_html_table(COMPOSITION_HEADER, composition_rows(entries)) if entries
                   else f"<p>{html.escape(NO_COMPOSITION)}</p>")
    return "".join(out)


def render_html(page: Page, aggs: Sequence[Aggregate], figure_dir: Path) -> str:
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(page.title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;"
             "font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
             ".verdict{font-size:18px;line-height:1.4}</style></head><body>",
             f"<header><h1>{esc(page.title)}</h1><p class='verdict'><strong>{esc(page.headline)}</strong></p></header>",
             f"<p>{esc(page.intro)}</p><h2>Gates per run</h2>{_html_table(GATE_HEADER, page.gates)}",
             "<h2>Composition given knowledge</h2>" + _composition_html(page.composition)]
    for name, caption in page.figures.items():
        data = base64.b64encode((figure_dir / name).read_bytes()).decode()
        parts.append(f"<figure><img alt='{esc(caption)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{esc(caption)}</figcaption></figure>")
    for condition in _conditions(aggs):
        header, body = _table(aggs, condition)
        parts.append(f"<h2>{esc(_title(condition))}</h2>{_html_table(header, body)}")
    parts.append("</body></html>")
    return "\n".join(parts)


def composition_section(runs: Sequence[tuple[str, list[dict], list[dict]]],
                        per_run: Sequence[list[dict]]) -> list[tuple[str, list[dict]]]:
    """Composition given knowledge (each run's entries, as its run.json holds them) pooled over
    the runs whose gates passed, and over all runs when some did not: (caption, entries)."""
    every = pool(e for entries in per_run for e in entries)
    passed = [entries for (_, _, gates), entries in zip(runs, per_run) if attributable(gates)]
    if len(runs) == 1 or len(passed) == len(runs):
        return [("", every)]
    return [(f"Over the {len(passed)} runs whose gates passed:", pool(e for entries in passed for e in entries)),
            (f"Over all {len(runs)} runs:", every)]


def _manifest_of(run_dir: Path) -> dict:
    path = run_dir / "run.json"
    return read_json(path) if path.is_file() else {}


def write_grid_report(run_dir: Path, name: str, axes: Sequence[str], cells, rows: Sequence[dict],
                      markdown: bool = True) -> Path:
    """Figures, report.html and (unless `markdown` is off: a single experiment keeps its own
    detailed report.md) report.md of a run directory."""
    by_cell: dict[str, list[dict]] = {}
    for r in rows:
        by_cell.setdefault(r.get("cell", ""), []).append(r)
    derived = []
    for cell in cells:
        cell_rows = by_cell.get(cell.id, [])
        extra = {"cell": cell.id, "axes": cell_rows[0].get("axes", {})} if cell_rows else {}
        derived += [{**o, **extra} for o in oracle_rows(cell_rows, cell.config.libraries)]
    aggs = aggregate(list(rows) + derived)
    catalog = task_of(cells[0].config).catalog if cells else None
    figures = make_figures(run_dir, aggs, list(axes), catalog) if catalog else {}
    runs = run_gates(cells, by_cell)
    run_dirs = [run_dir] if len(cells) == 1 and not cells[0].id else \
        [run_dir / "cells" / cell.id for cell in cells if by_cell.get(cell.id)]
    composition = composition_section(runs, [_manifest_of(d).get("composition", []) for d in run_dirs])
    entries = composition[-1][1]
    if entries and plot_composition(entries, run_dir / "figures" / "composition.png"):
        figures["composition.png"] = ("Composition given knowledge, pooled over runs: both facts recalled (x) against "
                                      "CoT right given both (y, 95% Wilson interval), one point per model")
    page = Page(f"lorarecycle {'grid' if axes else 'experiment'} {name}",
                headline([(rows, gates) for _, rows, gates in runs], catalog) if catalog and runs else "No rows yet.",
                _intro(len(runs)), gate_rows(runs), composition, figures)
    if markdown:
        atomic_write_text(run_dir / "report.md", render_markdown(page, aggs))
    atomic_write_text(run_dir / "report.html", render_html(page, aggs, run_dir / "figures"))
    return run_dir / "report.html"
