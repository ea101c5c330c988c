"""Gate 0's base numbers of the gate0-* lever runs, per config and seed, from whatever rows
landed (a run cut by its deadline after the base was evaluated still counts):

  python docs/results/gate-probes/gate0_levers.py RUNS_DIR   # run dirs named <config>-seed<N>
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def base_numbers(run: Path) -> dict | None:
    path = run / "results.jsonl"
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    cell = {r["split"]: r for r in rows if r["model"] == "base" and r.get("library") is None}
    if not {"twohop_cot", "incontext_twohop_cot", "control_cot"} <= cell.keys():
        return None
    return {"subject": cell["twohop_cot"]["subject_accuracy"],
            "incontext": cell["incontext_twohop_cot"]["accuracy"],
            "incontext_bridge": cell["incontext_twohop_cot"]["first_hop_accuracy"],
            "control": cell["control_cot"]["accuracy"]}


def pretrain_seconds(run: Path) -> str:
    manifest = run / "run.json"
    if not manifest.is_file():
        return ""
    stats = json.loads(manifest.read_text())["base"]["pretrain"] or {}
    return f"{stats.get('seconds', 0) + stats.get('layout_warmup', {}).get('seconds', 0):.0f}"


def main(runs: Path) -> None:
    print("| config | seed | subject restated | in context: bridge / answer | matched control | pretraining s |")
    print("|---|---:|---:|---|---:|---:|")
    for run in sorted(p for p in runs.iterdir() if p.is_dir() and re.search(r"-seed\d$", p.name)):
        name, seed = run.name.rsplit("-seed", 1)
        got = base_numbers(run)
        if got is None:
            print(f"| {name} | {seed} | not reached | | | |")
            continue
        print(f"| {name} | {seed} | {got['subject']:.2f} | {got['incontext_bridge']:.2f} / {got['incontext']:.2f} "
              f"| {got['control']:.2f} | {pretrain_seconds(run)} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
