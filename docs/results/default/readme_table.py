"""The README's table of the default run: one line per model, from `results.jsonl` alone.

    python docs/results/default/readme_table.py [RUN_DIR]   # default: this directory
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SPLITS = ("hop1", "hop2", "twohop_direct", "twohop_cot", "control_cot", "retention")


def main() -> None:
    run = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines() if line.strip()]
    models = dict.fromkeys((r["model"], r["library"]) for r in rows)
    print("| model [library] | data | " + " | ".join(SPLITS) + " | CoT subject / first hop |")
    print("|---|---|" + "---:|" * (len(SPLITS) + 1))
    for model, library in models:
        mine = {r["split"]: r for r in rows if r["model"] == model and r["library"] == library}
        cot = mine["twohop_cot"]
        name = f"{model} [{library}]" if library else model
        cells = [f"{mine[s]['accuracy']:.2f}" if s in mine else "" for s in SPLITS]
        steps = f"{cot['subject_accuracy']:.2f} / {cot['first_hop_accuracy']:.2f}"
        print(f"| {name} | {cot['data_requirement']} | " + " | ".join(cells) + f" | {steps} |")


if __name__ == "__main__":
    main()
