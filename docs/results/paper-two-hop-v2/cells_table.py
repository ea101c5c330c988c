"""One line per finished cell of this grid: its gates' numbers, the positive control and the
recycled rows' two-hop CoT (the README's table is printed from these committed files).

    python docs/results/paper-two-hop-v2/cells_table.py [GRID_DIR]
"""

import json
import sys
from pathlib import Path

grid = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
MODELS = [("uniform", "two"), ("arrow", "two"), ("uniform", "three"), ("arrow", "three")]


def value(checks: dict, name: str) -> str:
    check = checks.get(name)
    if check is None:
        return "-"
    return f"**{check['value']:.2f}**" if not check["passed"] else f"{check['value']:.2f}"


lines = []
for run in sorted(grid.glob("cells/*/run.json")):
    manifest = json.loads(run.read_text())
    checks = {c["check"]: c for g in manifest["gates"] for c in g["checks"]}
    rows = [json.loads(line) for line in (run.parent / "results.jsonl").read_text().splitlines()]
    acc = {(r["model"], r.get("library"), r["split"]): r for r in rows}
    cot = [f"{acc[(m, lib, 'twohop_cot')]['correct']}" for m, lib in MODELS if (m, lib, "twohop_cot") in acc]
    hops = [f"{acc[(m, lib, 'hop1')]['accuracy']:.2f}/{acc[(m, lib, 'hop2')]['accuracy']:.2f}"
            for m, lib in MODELS if (m, lib, "hop1") in acc]
    gate0 = " / ".join(value(checks, c) for c in ("base twohop_cot: subject restated", "base incontext_twohop_cot",
                                                   "base control_cot (matched control)"))
    gate2 = " / ".join(value(checks, c) for c in ("union_replay hop1", "union_replay hop2", "union_replay retention",
                                                   "union_replay twohop_cot: first hop", "union_replay twohop_cot"))
    key = (manifest["familiarity"], manifest["seed"])
    lines.append((key, f"| {key[0]} | {key[1]} | {gate0} | {gate2} | {' · '.join(hops)} | {' · '.join(cot)} of "
                       f"{acc[('base', None, 'twohop_cot')]['n']} | {manifest['seconds_this_invocation']:.0f} |"))
print("| familiarity | seed | Gate 0: subject / in context / matched control | Gate 2 (`union_replay`): hop1 / hop2 / "
      "retention / CoT first hop / CoT | hop1/hop2 of uniform [two] · arrow [two] · uniform [three] · arrow [three] | "
      "their two-hop CoT answers right | cell s |")
print("|---|---|---|---|---|---|---:|")
for _, line in sorted(lines):
    print(line)
