"""Probe rows for `lorarecycle diagnose --probe` from a default run's data: the first N hop-1
facts (adapter hop1), hop-2 facts (hop2) and two-hop CoT questions (both), the test chains
in file order.

    python docs/results/diagnose-default/make_probe.py RUN_DIR [N] > rows.jsonl
"""

import json
import sys
from pathlib import Path

run, n = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 40
for split, adapters in (("hop1", ["hop1"]), ("hop2", ["hop2"]), ("twohop_cot", ["hop1", "hop2"])):
    with open(run / "data" / f"{split}.jsonl") as f:
        for line in list(f)[:n]:
            row = json.loads(line)
            print(json.dumps({"prompt": row["prompt"], "answer": row["answer"], "adapters": adapters,
                              "kind": row["kind"]}))
