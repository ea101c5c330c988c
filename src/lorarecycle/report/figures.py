"""Figures for report.md (PNG, written atomically next to the report)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path



def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    os.replace(tmp, path)


def plot_routing_trace(trace: dict, title: str, path: Path, max_examples: int = 3) -> None:
    """One column per traced prompt, one row per expert: that expert's gate per layer
    (rows) and token (columns), 0 white to 1 dark."""
    plt = _pyplot()
    examples, experts = trace["examples"][:max_examples], trace["experts"]
    fig, axes = plt.subplots(len(experts), len(examples), squeeze=False,
                             figsize=(4.2 * len(examples), 1.3 * len(experts) + 1.4))
    for col, ex in enumerate(examples):
        tokens = ex["tokens"]
        for row, expert in enumerate(experts):
            ax = axes[row][col]
            grid = [[layer[t][row] for t in range(len(tokens))] for layer in ex["gates"]]
            image = ax.imshow(grid, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
            ax.set_yticks(range(len(grid)))
            ax.set_ylabel(f"{expert}\nlayer", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.set_xticks([])
            if row == 0:
                ax.set_title(f"{ex['kind']}: {ex['id']}", fontsize=8)
            if row == len(experts) - 1:
                ax.set_xticks(range(len(tokens)))
                ax.set_xticklabels(tokens, rotation=90, fontsize=5)
            for t in range(1, len(tokens)):  # segment boundaries
                if ex["segments"][t] != ex["segments"][t - 1]:
                    ax.axvline(t - 0.5, color="tab:red", linewidth=0.6)
    fig.colorbar(image, ax=axes, shrink=0.6, label="gate")
    fig.suptitle(title, fontsize=9)
    _save(fig, path)
    plt.close(fig)


ERROR_COLORS = {"correct": "tab:green", "bridge": "tab:orange", "other_entity": "tab:blue", "other": "tab:gray"}


# One colour per method family (the row label's colour in the heatmap), by data requirement.
FAMILY_COLORS = {"none": "black", "single expert": "tab:gray", "data-free": "tab:blue", "few-shot": "tab:purple",
                 "oracle": "tab:orange", "data-access": "tab:green"}


def plot_accuracy_heatmap(aggs, path: Path) -> None:
    """Per condition, a model x split heatmap: the mean accuracy and its 95% interval written
    in each cell, rows grouped by data requirement (row labels coloured by family), chance
    per split under the column label. Readable for any number of methods."""
    plt = _pyplot()
    conditions = list(dict.fromkeys(a.condition for a in aggs))
    splits = list(dict.fromkeys(a.split for a in aggs))
    order = list(FAMILY_COLORS)
    labels = sorted(dict.fromkeys(a.label for a in aggs),
                    key=lambda lab: order.index(next(a.data_access for a in aggs if a.label == lab)))
    family = {a.label: a.data_access for a in aggs}
    cols = min(2, len(conditions))
    rows = -(-len(conditions) // cols)
    cell_w, cell_h = 0.95, 0.3
    fig, axes = plt.subplots(rows, cols, squeeze=False, layout="constrained",
                             figsize=(cols * (cell_w * len(splits) + 2.6), rows * (cell_h * len(labels) + 1.4)))
    for i, condition in enumerate(conditions):
        ax = axes[i // cols][i % cols]
        cells = {(a.label, a.split): a for a in aggs if a.condition == condition}
        grid = [[cells[(lab, s)].mean if (lab, s) in cells else float("nan") for s in splits] for lab in labels]
        image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        for r, lab in enumerate(labels):
            for c, split in enumerate(splits):
                a = cells.get((lab, split))
                if a is not None:
                    low, high = a.interval
                    ax.text(c, r, f"{a.mean:.2f}\n[{low:.2f},{high:.2f}]", ha="center", va="center", fontsize=5,
                            color="white" if a.mean < 0.6 else "black")
        chance = {s: next((a.chance for (lab, sp), a in cells.items() if sp == s and a.chance), None) for s in splits}
        ax.set_xticks(range(len(splits)))
        ax.set_xticklabels([f"{s}\nchance {chance[s]:.2f}" if chance[s] else s for s in splits],
                           fontsize=6, rotation=30, ha="right")
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=6)
        for tick, lab in zip(ax.get_yticklabels(), labels):
            tick.set_color(FAMILY_COLORS[family[lab]])
        for r in range(1, len(labels)):  # a rule between requirement groups
            if family[labels[r]] != family[labels[r - 1]]:
                ax.axhline(r - 0.5, color="white", linewidth=1.5)
        ax.set_title(", ".join(f"{k}={v}" for k, v in condition) or "accuracy", fontsize=8)
    for i in range(len(conditions), rows * cols):
        axes[i // cols][i % cols].axis("off")
    fig.colorbar(image, ax=axes, shrink=min(1.0, 6 / max(6, len(labels))), label="accuracy")
    present = [f for f in FAMILY_COLORS if f in family.values()]
    handles = [plt.Line2D([], [], color=FAMILY_COLORS[f], linewidth=4) for f in present]
    fig.legend(handles, present, loc="outside upper center", ncol=len(present), fontsize=6, frameon=False)
    _save(fig, path)
    plt.close(fig)


def _compared(aggs) -> list[str]:
    """Labels a curve figure shows: the expert ceiling, recycled libraries, references."""
    labels = [a.label for a in aggs if a.library is not None or a.data_access == "data-access"]
    return list(dict.fromkeys(labels))


def plot_axis_curves(aggs, axis: str, path: Path, splits: Sequence[str]) -> None:
    """Accuracy against one axis (e.g. familiarity F/H/R, exposure) per model [library], one
    panel per split; other non-seed axes become separate lines."""
    plt = _pyplot()
    values = list(dict.fromkeys(dict(a.condition).get(axis) for a in aggs if axis in dict(a.condition)))
    try:
        values.sort(key=float)
    except ValueError:
        pass
    labels = _compared(aggs)
    fig, axes = plt.subplots(1, len(splits), figsize=(4.2 * len(splits), 3.4), sharey=True, squeeze=False)
    axes = axes[0]
    cmap = plt.get_cmap("tab20")
    for ax, split in zip(axes, splits):
        lines: dict[tuple, dict] = {}
        chance = {}
        for a in aggs:
            cond = dict(a.condition)
            if a.split != split or axis not in cond or a.label not in labels:
                continue
            rest = tuple((k, v) for k, v in a.condition if k != axis)
            lines.setdefault((a.label, rest), {})[cond[axis]] = a
            if a.chance:
                chance[cond[axis]] = a.chance
        for n, ((label, rest), points) in enumerate(sorted(lines.items())):
            xs = [i for i, v in enumerate(values) if v in points]
            ys = [points[values[i]].mean for i in xs]
            err = [[max(0.0, points[values[i]].mean - points[values[i]].interval[0]) for i in xs],
                   [max(0.0, points[values[i]].interval[1] - points[values[i]].mean) for i in xs]]
            name = label + (" " + ",".join(f"{k}={v}" for k, v in rest) if rest else "")
            ax.errorbar(xs, ys, yerr=err, marker="o", markersize=3, capsize=2, linewidth=1, label=name,
                        color=cmap(n % 20))
        if chance:
            ax.plot(range(len(values)), [chance.get(v, float("nan")) for v in values], "k--", linewidth=0.7)
        ax.set_xticks(range(len(values)))
        ax.set_xticklabels(values)
        ax.set_xlabel(axis)
        ax.set_title(split, fontsize=9)
        ax.set_ylim(0, 1.05)
    axes[0].set_ylabel("accuracy")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(4, max(1, len(names))), fontsize=7)
    fig.tight_layout(rect=(0, 0.08 + 0.04 * (len(names) // 4), 1, 1))
    _save(fig, path)
    plt.close(fig)


def plot_error_bars(aggs, path: Path, splits: Sequence[str]) -> bool:
    """Share of the composed questions answered correctly / with the bridge entity / another
    known entity / anything else, per model [library], pooled over all cells: one panel per
    split whose rows carry an error taxonomy. False (and no figure) when none does."""
    splits = [s for s in splits if any(a.split == s and a.error_shares() is not None for a in aggs)]
    if not splits:
        return False
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(splits), figsize=(7 * len(splits), 4.5), sharey=True, squeeze=False)
    axes = axes[0]
    for ax, split in zip(axes, splits):
        pooled: dict[str, list[dict]] = {}
        for a in aggs:
            if a.split == split and a.error_shares() is not None:
                pooled.setdefault(a.label, []).extend(a.rows)
        labels = list(pooled)
        bottom = [0.0] * len(labels)
        for kind, color in ERROR_COLORS.items():
            shares = []
            for label in labels:
                rows = pooled[label]
                n = sum(r["n"] for r in rows)
                count = sum(r["correct"] for r in rows) if kind == "correct" else sum(r["errors"][kind] for r in rows)
                shares.append(count / n)
            ax.barh(labels, shares, left=bottom, color=color, label=kind)
            bottom = [b + s for b, s in zip(bottom, shares)]
        ax.set_title(split, fontsize=9)
        ax.tick_params(labelsize=6)
        ax.set_xlim(0, 1)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return True


def plot_composition(entries: Sequence[dict], path: Path) -> bool:
    """One point per model: how often it recalls both facts of a test chain (x) against how
    often its chain of thought composes them when it does (y, with a Wilson interval).
    False (nothing drawn) when no model recalls both facts of any chain."""
    points = [e for e in entries if e["given_both"] is not None]
    if not points:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for e in points:
        x = e["both_recalled"] / e["n"]
        low, high = e["ci_low"], e["ci_high"]
        color = "tab:green" if e["library"] is None else "tab:blue"
        ax.errorbar(x, e["given_both"], yerr=[[e["given_both"] - low], [high - e["given_both"]]], fmt="o",
                    color=color, markersize=4, capsize=2, linewidth=0.8)
        label = e["model"] if e["library"] is None else f"{e['model']} [{e['library']}]"
        ax.annotate(label, (x, e["given_both"]), fontsize=5, xytext=(3, 2), textcoords="offset points")
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("both facts recalled (share of test chains)")
    ax.set_ylabel("CoT right given both facts recalled")
    ax.set_title("Composition given knowledge (blue: recycled, green: single adapters and references)", fontsize=8)
    _save(fig, path)
    plt.close(fig)
    return True
