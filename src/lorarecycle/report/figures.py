"""Figures for report.md (PNG, written atomically next to the report)."""

from __future__ import annotations

import os
from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
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
