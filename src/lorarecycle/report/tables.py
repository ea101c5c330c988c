"""Results rows -> accuracy tables (rich for the terminal, markdown for report.md)."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.markup import escape
from rich.table import Table

from ..results import DATA_ACCESS
from ..ui import REPORT_WIDTH


def fmt_optional(value: float | None) -> str:
    """A score with two decimals, or a dash where there is none."""
    return "–" if value is None else f"{value:.2f}"


def row_label(row: dict) -> str:
    return f"{row['model']} [{row['library']}]" if row.get("library") else row["model"]


def requirement_rank(access: str) -> int:
    """Report order of a data-access family (results.DATA_ACCESS)."""
    return DATA_ACCESS.index(access)


def splits_of(rows: Sequence[dict]) -> list[str]:
    """The splits present, in the rows' order (each task has its own)."""
    return list(dict.fromkeys(r["split"] for r in rows))


def _grid(rows: Sequence[dict]) -> tuple[list[str], dict[tuple[str, str], dict]]:
    """Row labels grouped by data requirement (stable within a group), and cells by (label, split)."""
    labels = list(dict.fromkeys(row_label(r) for r in rows))
    rank = {row_label(r): requirement_rank(r["data_access"]) for r in rows}
    return sorted(labels, key=lambda label: rank[label]), {(row_label(r), r["split"]): r for r in rows}


def _access(rows: Sequence[dict], label: str) -> str:
    return next(r["data_access"] for r in rows if row_label(r) == label)


def _requirement(rows: Sequence[dict], label: str) -> str:
    return next(r["data_requirement"] for r in rows if row_label(r) == label)


def _cell(row: dict | None) -> str:
    return "" if row is None else f"{row['accuracy']:.2f}"


TERMINAL_WIDTH = REPORT_WIDTH  # the printed table fits this; report.md has the full one with intervals


def rich_table(rows: Sequence[dict], title: str) -> Table:
    """Accuracy per split, rows grouped under their data requirement; split names break at
    underscores so the table fits TERMINAL_WIDTH columns."""
    labels, cells = _grid(rows)
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    # splits only the base model answers (its in-context checks) are in the gates and report.md
    splits = [s for s in splits_of(rows) if any(r["split"] == s and r["model"] != "base" for r in rows)] \
        or splits_of(rows)
    widths = [max(4, *(len(w) for w in split.split("_"))) for split in splits]
    room = TERMINAL_WIDTH - sum(w + 3 for w in widths) - 3  # each column: padding and a separator
    longest = max(len(label) for label in labels)
    table.add_column("model [library]", no_wrap=True, width=max(12, min(longest, room)), overflow="ellipsis")
    for split, width in zip(splits, widths):
        table.add_column(split.replace("_", "\n"), justify="right", no_wrap=True, width=width)
    group = None
    for label in labels:
        family = _access(rows, label)
        if family != group:
            group = family
            table.add_row(f"[dim italic]{escape(family)}[/]", *([""] * len(splits)))
        table.add_row(escape(label), *(_cell(cells.get((label, s))) for s in splits))
    return table


def markdown_accuracy(rows: Sequence[dict]) -> str:
    """Accuracy per split, with the 95% interval, one line per model/method x library."""
    labels, cells = _grid(rows)
    splits = splits_of(rows)
    lines = ["| model [library] | data | " + " | ".join(splits) + " |", "|---|---|" + "---:|" * len(splits)]
    for label in labels:
        parts = []
        for split in splits:
            r = cells.get((label, split))
            parts.append("" if r is None else f"{r['accuracy']:.2f} ({r['ci_low']:.2f}-{r['ci_high']:.2f})")
        lines.append(f"| {label} | {_requirement(rows, label)} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def markdown_errors(rows: Sequence[dict]) -> str:
    """Two-hop error taxonomy: counts of wrong answers that are the bridge entity B,
    another known entity, or anything else."""
    lines = ["| model [library] | split | n | correct | bridge B | other entity | other |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "errors" in r:  # the splits that need both experts, and their controls
            e = r["errors"]
            lines.append(f"| {row_label(r)} | {r['split']} | {r['n']} | {r['correct']} | {e['bridge']} | "
                         f"{e['other_entity']} | {e['other']} |")
    return "\n".join(lines)


STEP_KEYS = ("subject_accuracy", "first_hop_accuracy", "second_hop_given_first", "accuracy")


def markdown_steps(rows: Sequence[dict]) -> str:
    """Step-by-step scores of every chain-of-thought row."""
    lines = ["| model [library] | split | n | subject | first hop | second hop given first | final |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {row_label(r)} | {r['split']} | {r['n']} | " + " | ".join(fmt_optional(r.get(k)) for k in STEP_KEYS)
              + " |" for r in rows if "subject_accuracy" in r]
    return "\n".join(lines)


def markdown_loglik(rows: Sequence[dict]) -> str:
    """Exact match next to the generation-free ranking of the gold answer, per row."""
    lines = ["| model [library] | split | n | exact match | log-likelihood top-1 | mean rank | choices (chance) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {row_label(r)} | {r['split']} | {r['n']} | {r['accuracy']:.2f} | {r['loglik_accuracy']:.2f} | "
              f"{r['loglik_mean_rank']:.2f} | {r['loglik_choices']} ({1 / r['loglik_choices']:.2f}) |"
              for r in rows if "loglik_accuracy" in r]
    return "\n".join(lines) if len(lines) > 2 else "Not measured (`eval.loglik_choices: 0`)."


def markdown_selection(rows: Sequence[dict]) -> str:
    lines = ["| model [library] | split | share of questions per expert |", "|---|---|---|"]
    for r in rows:
        if r.get("selected"):
            shares = ", ".join(f"{e} {v:.2f}" for e, v in r["selected"].items())
            lines.append(f"| {row_label(r)} | {r['split']} | {shares} |")
    return "\n".join(lines) if len(lines) > 2 else "No per-query selector in this run."


NO_COMPOSITION = "(no model was evaluated on both hop splits and the composed CoT split)"
COMPOSITION_HEADER = ["model [library]", "chains", "both facts recalled", "CoT right", "CoT right given both [95%]",
                      "wrong answers with a fact missing"]


def composition_rows(entries: Sequence[dict]) -> list[list[str]]:
    """Composition given knowledge per model, as table cells: facts recalled, CoT right overall
    and given both facts (Wilson interval), wrong answers on a chain with a fact missing."""
    rows = []
    for e in entries:
        label = e["model"] if e["library"] is None else f"{e['model']} [{e['library']}]"
        given = "–" if e["given_both"] is None else \
            f"{e['right_given_both']}/{e['both_recalled']} = {e['given_both']:.2f} [{e['ci_low']:.2f}, {e['ci_high']:.2f}]"
        missing = "–" if not e["wrong"] else f"{e['wrong_with_fact_missing']}/{e['wrong']}"
        rows.append([label, str(e["n"]), str(e["both_recalled"]), str(e["composed_right"]), given, missing])
    return rows


def markdown_composition(entries: Sequence[dict]) -> str:
    if not entries:
        return NO_COMPOSITION
    lines = ["| " + " | ".join(COMPOSITION_HEADER) + " |", "|---|---:|---:|---:|---:|---:|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in composition_rows(entries)])
