"""The README's per-seed table of this grid (gates, positive controls, recycled rows' two-hop
CoT) and the pooled two-hop CoT per reference, from the committed files alone.

    python docs/results/default-seeds/seeds_table.py [GRID_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def value(checks: dict, name: str) -> str:
    check = checks.get(name)
    if check is None:
        return "-"
    return f"**{check['value']:.2f}**" if check["passed"] is False else f"{check['value']:.2f}"


def main() -> None:
    grid = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    cells = [(json.loads(p.read_text()), p.parent) for p in grid.glob("cells/*/run.json")]
    print("| seed | Gate 0: subject restated / in context / matched control | Gate 2 (`union_replay`): hop1 / hop2 / "
          "retention / CoT first hop / CoT (Wilson lower) | `union_demos` / `full_ft_replay` CoT | recycled rows' CoT |")
    print("|---|---|---|---|---|")
    pooled: dict[str, list[int]] = {}
    for manifest, cell in sorted(cells, key=lambda c: c[0]["seed"]):
        checks = {c["check"]: c for g in manifest["gates"] for c in g["checks"]}
        rows = [json.loads(line) for line in (cell / "results.jsonl").read_text().splitlines() if line.strip()]
        cot = {(r["model"], r["library"]): r for r in rows if r["split"] == "twohop_cot"}
        for (model, library), r in cot.items():
            key = "recycled" if library else model
            pooled.setdefault(key, [0, 0])
            pooled[key][0] += r["correct"]
            pooled[key][1] += r["n"]
        recycled = [r for (_, library), r in cot.items() if library]
        above = [f"`{r['model']}` [{r['library']}] {r['correct']}" for r in recycled if r["correct"]]
        gate0 = " / ".join(value(checks, c) for c in ("base twohop_cot: subject restated", "base incontext_twohop_cot",
                                                        "base control_cot (matched control)"))
        gate2 = " / ".join(value(checks, c) for c in ("union_replay hop1", "union_replay hop2", "union_replay retention",
                                                        "union_replay twohop_cot: first hop", "union_replay twohop_cot"))
        wilson = value(checks, "union_replay twohop_cot: Wilson lower bound")
        refs = " / ".join(f"{cot[(m, None)]['accuracy']:.2f}" for m in ("union_demos", "full_ft_replay"))
        summary = (f"{len(recycled) - len(above)} of {len(recycled)} rows 0 of {recycled[0]['n']}"
                   + (f"; {', '.join(above)} of {recycled[0]['n']}" if above else ""))
        print(f"| {manifest['seed']} | {gate0} | {gate2} ({wilson}) | {refs} | {summary} |")
    print()
    print("pooled two-hop CoT: " + ", ".join(f"{k} {c}/{n} ({c / n:.2f})" for k, (c, n) in pooled.items()))


if __name__ == "__main__":
    main()
