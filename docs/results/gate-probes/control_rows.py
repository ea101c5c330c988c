"""The controls of one or more run directories, one after another: each run's gate checks
and, for the base, the experts and the references (rows without a library), the accuracy of
every split with the CoT steps (subject / first hop / second given first / final) where a
row has them.

    python docs/results/gate-probes/control_rows.py RUN_DIR [RUN_DIR ...]

Prints markdown; reads only `run.json` and `results.jsonl`, so it needs no model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lorarecycle.report.tables import fmt_optional

CONTROL_MODELS = ("base", "expert:", "union", "full_ft", "target_expert")
VERDICT = {True: "", False: " FAIL", None: " (not measured)", "n/a": " (n/a)"}


def rows_of(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines() if line.strip()]


def cell(row: dict) -> str:
    steps = [row.get(k) for k in ("subject_accuracy", "first_hop_accuracy", "second_hop_given_first")]
    if all(s is None for s in steps):
        return f"{row['accuracy']:.2f}"
    return " / ".join("-" if s is None else f"{s:.2f}" for s in steps) + f" / {row['accuracy']:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    for run in args.runs:
        meta = json.loads((run / "run.json").read_text())
        machine = meta.get("machine", {})
        print(f"\n### {run} (config {meta['config_hash']}, seed {meta['seed']}, {meta['precision']['resolved']}, "
              f"{machine.get('cpu')} {machine.get('capability')})\n")
        for gate in meta["gates"]:
            checks = "; ".join(f"{c['check']} {fmt_optional(c['value'])}{VERDICT.get(c['passed'], '')}"
                               for c in gate["checks"])
            print(f"- {gate['gate']}: {checks or gate['note']}")
        rows = [r for r in rows_of(run) if r["model"].startswith(CONTROL_MODELS) and r.get("library") is None]
        splits = list(dict.fromkeys(r["split"] for r in rows))
        print("\n| model | " + " | ".join(splits) + " |\n|---|" + "---|" * len(splits))
        for model in dict.fromkeys(r["model"] for r in rows):
            by_split = {r["split"]: r for r in rows if r["model"] == model}
            print(f"| {model} | " + " | ".join(cell(by_split[s]) if s in by_split else "" for s in splits) + " |")


if __name__ == "__main__":
    main()
