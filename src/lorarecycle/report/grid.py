"""A grid's report: report.md (tables, linked figures) and a self-contained report.html
(the same content, figures embedded), from every cell's rows."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from ..artifacts import atomic_write_text
from ..evaluate.oracle import oracle_rows
from .aggregate import Aggregate, aggregate
from ..tasks import Catalog, task_of
from .gates import attributable, evaluate_gates
from .figures import plot_axis_curves, plot_error_bars, plot_accuracy_heatmap
from .tables import requirement_rank


def _conditions(aggs: Sequence[Aggregate]) -> list[tuple]:
    return list(dict.fromkeys(a.condition for a in aggs))


def _cell_text(a: Aggregate | None) -> str:
    if a is None:
        return ""
    low, high = a.interval
    if len(a.accuracies) == 1:
        return f"{a.mean:.2f} [{low:.2f}, {high:.2f}] (n=1)"
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
    return ", ".join(f"{k}={v}" for k, v in condition) or "all cells"


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


GATE_HEADER = ["cell", "gate0 (base procedure)", "gate1 (exposed vs matched control)", "gate2 (union_replay)",
               "recycled rows attributable"]


def gate_rows(cells, by_cell: dict[str, list[dict]]) -> list[list[str]]:
    """One line per cell: each gate's result (the checks are in the cell's report)."""
    mark = {True: "pass", False: "FAIL", None: "not measured"}
    out = []
    for cell in cells:
        rows = by_cell.get(cell.id, [])
        if not rows:
            continue
        world = cell.config.world
        gates = evaluate_gates(rows, task_of(cell.config).catalog, world.exposure, world.exposure_hop,
                               cell.config.model.base_model is None)
        axes = ", ".join(f"{k}={v}" for k, v in rows[0].get("axes", {}).items()) or cell.config.name
        out.append([axes, *(mark[g["passed"]] for g in gates), "yes" if attributable(gates) else "NO"])
    return out


def render_markdown(title: str, aggs: Sequence[Aggregate], figures: dict[str, str], n_cells: int,
                    gates: Sequence[list[str]] = ()) -> str:
    parts = [f"# {title}", "", f"{n_cells} cells. Cells: mean accuracy over seeds, t interval over seeds and "
             "Wilson interval of the pooled questions (95%); with one seed, the Wilson interval of that run.", ""]
    if gates:
        parts += ["## Gates per cell", "", "| " + " | ".join(GATE_HEADER) + " |", "|---" * len(GATE_HEADER) + "|"]
        parts += ["| " + " | ".join(row) + " |" for row in gates] + [""]
    for name, caption in figures.items():
        parts += [f"![{caption}](figures/{name})", "", f"*{caption}*", ""]
    for condition in _conditions(aggs):
        header, body = _table(aggs, condition)
        parts += [f"## {_title(condition)}", "", "| " + " | ".join(header) + " |",
                  "|---|---|" + "---:|" * (len(header) - 2)]
        parts += ["| " + " | ".join(row) + " |" for row in body] + [""]
    return "\n".join(parts)


def render_html(title: str, aggs: Sequence[Aggregate], figures: dict[str, str], figure_dir: Path, n_cells: int,
                gates: Sequence[list[str]] = ()) -> str:
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;"
             "font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}img{max-width:100%}</style></head><body>",
             f"<h1>{esc(title)}</h1><p>{n_cells} cells. Cells: mean accuracy over seeds, t interval over seeds and "
             "Wilson interval of the pooled questions (95%).</p>"]
    if gates:
        parts.append("<h2>Gates per cell</h2><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in GATE_HEADER)
                     + "</tr>" + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in gates)
                     + "</table>")
    for name, caption in figures.items():
        data = base64.b64encode((figure_dir / name).read_bytes()).decode()
        parts.append(f"<figure><img alt='{esc(caption)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{esc(caption)}</figcaption></figure>")
    for condition in _conditions(aggs):
        header, body = _table(aggs, condition)
        parts.append(f"<h2>{esc(_title(condition))}</h2><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header)
                     + "</tr>" + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in body)
                     + "</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


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
    figures = make_figures(run_dir, aggs, list(axes), task_of(cells[0].config).catalog) if cells else {}
    title = f"lorarecycle {'grid' if axes else 'experiment'} {name}"
    gates = gate_rows(cells, by_cell)
    if markdown:
        atomic_write_text(run_dir / "report.md", render_markdown(title, aggs, figures, len(cells), gates))
    atomic_write_text(run_dir / "report.html", render_html(title, aggs, figures, run_dir / "figures", len(cells), gates))
    return run_dir / "report.html"
