"""The README's tables of this grid, from the committed files alone: per seed, the gates'
checks and the diagnostics beside them; pooled over seeds, each model's two-hop CoT and its
composition given knowledge.

    python docs/results/default-seeds/seeds_table.py [GRID_DIR [COMPOSED_COT_SPLIT]]

(the math grid: `docs/results/math/ math_cot`)
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path



def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def value(checks: dict, name: str) -> str:
    check = checks.get(name)
    if check is None:
        return "-"
    return f"**{check['value']:.2f}**" if check["passed"] is False else f"{check['value']:.2f}"


def per_seed(cells: list[tuple[dict, Path]]) -> None:
    print("| seed | Gate 0 checks | Gate 2 checks | attributable | diagnostics (value, bridge right) |")
    print("|---|---|---|---|---|")
    for manifest, _ in cells:
        gates = {g["gate"]: g for g in manifest["gates"]}
        text = {name: " / ".join(f"{c['check']} {value({c['check']: c}, c['check'])}" for c in gates[name]["checks"])
                for name in ("gate0", "gate2")}
        diag = " / ".join(f"{d['check']} {d['value']:.2f}" + (f" ({d['bridge']:.2f})" if d.get("bridge") is not None
                                                              else "") for d in manifest.get("gate_diagnostics", []))
        print(f"| {manifest['seed']} | {text['gate0']} | {text['gate2']} | "
              f"{'yes' if manifest['attributable'] else 'no'} | {diag} |")


def pooled(cells: list[tuple[dict, Path]], attributable_only: bool, split: str) -> None:
    chosen = [(m, c) for m, c in cells if m["attributable"] or not attributable_only]
    cot: dict[tuple, list[int]] = {}
    given: dict[tuple, list[int]] = {}
    for manifest, cell in chosen:
        rows = [json.loads(line) for line in (cell / "results.jsonl").read_text().splitlines() if line.strip()]
        for r in rows:
            if r["split"] == split:
                acc = cot.setdefault((r["model"], r["library"]), [0, 0])
                acc[0] += r["correct"]
                acc[1] += r["n"]
        for e in manifest.get("composition", []):
            acc = given.setdefault((e["model"], e["library"]), [0, 0, 0, 0])
            for i, k in enumerate(("right_given_both", "both_recalled", "wrong_with_fact_missing", "wrong")):
                acc[i] += e[k]
    seeds = ", ".join(str(m["seed"]) for m, _ in chosen)
    print(f"\npooled over seeds {seeds} ({'attributable seeds only' if attributable_only else 'all seeds'}):\n")
    print(f"| model [library] | {split} [95% Wilson] | both facts recalled | CoT right given both [95%] | "
          "wrong with a fact missing |")
    print("|---|---|---|---|---|")
    for (model, library), (k, n) in cot.items():
        low, high = wilson(k, n)
        label = model if library is None else f"{model} [{library}]"
        g = given.get((model, library))
        if g and g[1]:
            glow, ghigh = wilson(g[0], g[1])
            given_text = f"{g[0]} / {g[1]} = {g[0] / g[1]:.2f} [{glow:.2f}, {ghigh:.2f}]"
        else:
            given_text = "-"
        missing = f"{g[2]} / {g[3]}" if g and g[3] else "-"
        print(f"| {label} | {k} / {n} = {k / n:.2f} [{low:.2f}, {high:.2f}] | {g[1] if g else '-'} / {n} | "
              f"{given_text} | {missing} |")


def main() -> None:
    grid = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    split = sys.argv[2] if len(sys.argv) > 2 else "twohop_cot"
    cells = sorted(((json.loads(p.read_text()), p.parent) for p in grid.glob("cells/*/run.json")),
                   key=lambda c: c[0]["seed"])
    per_seed(cells)
    if any(m["attributable"] for m, _ in cells):
        pooled(cells, attributable_only=True, split=split)
    if not all(m["attributable"] for m, _ in cells):
        pooled(cells, attributable_only=False, split=split)


if __name__ == "__main__":
    main()
