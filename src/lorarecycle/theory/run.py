"""`lorarecycle theory`: run the three experiments, write a table and figures."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..artifacts import atomic_write_text
from ..inputs import check_seed
from .lab import OUTCOMES, collateral, one_layer_two_hop, one_layer_two_hop_lora, two_layer_two_hop


def run_theory(out: Path, seed: int = 0, quick: bool = False) -> dict:

    g = torch.Generator().manual_seed(check_seed(seed))  # 2**70 overflowed here, after imports
    widths, counts = ((16, 64), (50, 400)) if quick else ((16, 32, 64, 128), (50, 200, 400))
    n_chains = 30 if quick else 100
    edit_rows = [collateral(d, n, 10 if quick else 30, g) for d in widths for n in counts]
    two_hop = [one_layer_two_hop(64, n_chains, g), one_layer_two_hop_lora(64, n_chains, 4, g),
               two_layer_two_hop(64, n_chains, True, g), two_layer_two_hop(64, n_chains, False, g)]
    result = {"seed": seed, "collateral": edit_rows, "two_hop": two_hop}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "theory.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(out / "theory.md", render(result))
    plot(result, out)
    return result


def render(result: dict) -> str:
    lines = ["# Key-value theory, measured", "", "## One closed-form edit per fact", "",
             "| d | MLP width m | stored facts | recall before | edit success | other facts changed |",
             "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['d']} | {r['m']} | {r['facts']} | {r['recall']:.2f} | {r['edit_success']:.2f} | {r['collateral']:.3f} |"
              for r in result["collateral"]]
    lines += ["", "## Two hops: edits r1(A) = B and r2(B) = C summed, asked r2(r1(A))", "",
              "| setting | " + " | ".join(OUTCOMES) + " | single hops kept |", "|---|" + "---:|" * (len(OUTCOMES) + 1)]
    for r in result["two_hop"]:
        kept = "" if r["single_hop_after_sum"] is None else f"{r['single_hop_after_sum']:.2f}"
        lines.append(f"| {r['setting']} | " + " | ".join(f"{r[o]:.2f}" for o in OUTCOMES) + f" | {kept} |")
    lines += ["", "![collateral](collateral.png)", "", "![two-hop outcomes](two_hop.png)", ""]
    return "\n".join(lines)


def plot(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for n in sorted({r["facts"] for r in result["collateral"]}):
        rows = [r for r in result["collateral"] if r["facts"] == n]
        ax.plot([r["d"] for r in rows], [r["collateral"] for r in rows], marker="o", label=f"{n} facts")
    ax.set(xscale="log", xlabel="embedding width d (MLP width 4d)", ylabel="other facts changed per edit",
           title="Collateral of one rank-one edit")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "collateral.png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = [r["setting"] for r in result["two_hop"]]
    bottom = [0.0] * len(labels)
    for outcome in OUTCOMES:
        values = [r[outcome] for r in result["two_hop"]]
        ax.barh(labels, values, left=bottom, label=outcome)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set(xlabel="fraction of two-hop prompts", title="Summed single-hop edits on r2(r1(A))")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "two_hop.png", dpi=120)
    plt.close(fig)
