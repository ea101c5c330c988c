"""Which held-out old facts a model forgets (Gate 2's retention split), from a grid run of
`docs/results/default-seeds/config.yaml` (its cells keep samples.jsonl and data/):

  python docs/results/gate-probes/retention_errors.py GRID_RUN_DIR [MODEL ...]

Per model, over the cells: retention of old facts whose relation the new facts also use
(mentor, employer) against the others, and what a forgotten fact's answer becomes.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(run: Path, models: list[str]) -> None:
    right, total, wrong = Counter(), Counter(), Counter()
    for cell in sorted((run / "cells").iterdir()):
        samples = read(cell / "samples.jsonl")
        new = read(cell / "data" / "hop1.jsonl") + read(cell / "data" / "hop2.jsonl")
        new_relations = {ex["id"].split(":")[1] for ex in new}
        new_objects = {ex["answer"].lower() for ex in new}
        familiar = {ex["answer"].lower() for ex in read(cell / "data" / "pretrain.jsonl") if ex["kind"] == "fact"}
        for x in samples:
            if x["model"] not in models or x["split"] != "retention" or x["library"] is not None:
                continue
            group = "same relation as the new facts" if x["id"].split(":")[1] in new_relations else "other relations"
            right[x["model"], group] += x["correct"]
            total[x["model"], group] += 1
            if not x["correct"]:
                p = x["prediction"]
                wrong[x["model"], "a new fact's object" if p in new_objects else
                      "another old fact's object" if p in familiar else "no known name"] += 1
    print("| model | retention: same relation as the new facts | other relations | forgotten answers: another old fact's object / a new fact's object / no known name |")
    print("|---|---|---|---|")
    for m in models:
        cells = [f"{right[m, g]}/{total[m, g]} = {right[m, g] / max(total[m, g], 1):.2f}"
                 for g in ("same relation as the new facts", "other relations")]
        kinds = " / ".join(str(wrong[m, k]) for k in ("another old fact's object", "a new fact's object", "no known name"))
        print(f"| {m} | {cells[0]} | {cells[1]} | {kinds} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:] or ["union_replay", "expert:hop1", "expert:hop2", "expert:skill"])
