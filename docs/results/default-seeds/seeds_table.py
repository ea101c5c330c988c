"""The README's tables of this grid, from the committed files alone: per seed, the gates'
checks and the diagnostics beside them; pooled over seeds, each model's two-hop CoT and its
composition given knowledge.

    python docs/results/default-seeds/seeds_table.py [GRID_DIR]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

GATE0 = ("base twohop_cot: subject restated", "base control_matched_cot (matched control)")
GATE2 = ("union_replay hop1", "union_replay hop2", "union_replay twohop_cot: first hop", "union_replay twohop_cot")


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
    print("| seed | Gate 0: subject restated / matched control | Gate 2 (`union_replay`): hop1 / hop2 / CoT first "
          "hop / CoT (Wilson lower) | attributable | diagnostics: in context / with distractors (bridge) / "
          "`union_replay` retention |")
    print("|---|---|---|---|---|")
    for manifest, _ in cells:
        checks = {c["check"]: c for g in manifest["gates"] for c in g["checks"]}
        diag = {d["check"]: d for d in manifest.get("gate_diagnostics", [])}
        gate0 = " / ".join(value(checks, c) for c in GATE0)
        gate2 = " / ".join(value(checks, c) for c in GATE2)
        wilson_low = value(checks, "union_replay twohop_cot: Wilson lower bound")
        incontext = diag.get("base incontext_twohop_cot", {}).get("value")
        distractor = diag.get("base incontext_distractor_cot", {})
        retention = diag.get("union_replay retention", {}).get("value")
        print(f"| {manifest['seed']} | {gate0} | {gate2} ({wilson_low}) | {'yes' if manifest['attributable'] else 'no'}"
              f" | {incontext:.2f} / {distractor.get('value', 0):.2f} ({distractor.get('bridge') or 0:.2f}) / "
              f"{retention:.2f} |")


def pooled(cells: list[tuple[dict, Path]], attributable_only: bool) -> None:
    chosen = [(m, c) for m, c in cells if m["attributable"] or not attributable_only]
    cot: dict[tuple, list[int]] = {}
    given: dict[tuple, list[int]] = {}
    for manifest, cell in chosen:
        rows = [json.loads(line) for line in (cell / "results.jsonl").read_text().splitlines() if line.strip()]
        for r in rows:
            if r["split"] == "twohop_cot":
                acc = cot.setdefault((r["model"], r["library"]), [0, 0])
                acc[0] += r["correct"]
                acc[1] += r["n"]
        for e in manifest.get("composition", []):
            acc = given.setdefault((e["model"], e["library"]), [0, 0, 0, 0])
            for i, k in enumerate(("right_given_both", "both_recalled", "wrong_with_fact_missing", "wrong")):
                acc[i] += e[k]
    seeds = ", ".join(str(m["seed"]) for m, _ in chosen)
    print(f"\npooled over seeds {seeds} ({'attributable seeds only' if attributable_only else 'all seeds'}):\n")
    print("| model [library] | two-hop CoT [95% Wilson] | both facts recalled | CoT right given both [95%] | "
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
    cells = sorted(((json.loads(p.read_text()), p.parent) for p in grid.glob("cells/*/run.json")),
                   key=lambda c: c[0]["seed"])
    per_seed(cells)
    pooled(cells, attributable_only=True)
    if not all(m["attributable"] for m, _ in cells):
        pooled(cells, attributable_only=False)


if __name__ == "__main__":
    main()
