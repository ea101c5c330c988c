"""How many of a model's wrong two-hop CoT first hops name another test chain's bridge?

Reads a run directory's config and samples (`samples.jsonl` or `samples.jsonl.gz`), takes
the bridge each `twohop_cot` answer of MODEL states (`cot_steps`) and compares it with its
chain's bridge and with the set of every test chain's bridge:

    python docs/results/gate-probes/wrong_first_hops.py RUN_DIR [MODEL ...]   # default union_replay
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import yaml

from lorarecycle.config import validate_experiment
from lorarecycle.tasks.registry import task_of
from lorarecycle.tasks.templates import cot_steps, normalize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("models", nargs="*", default=["union_replay"])
    args = parser.parse_args()
    raw = yaml.safe_load((args.run_dir / "config.yaml").read_text())
    raw.pop("config_hash", None)
    cfg = validate_experiment(raw, str(args.run_dir / "config.yaml"))
    _, data = task_of(cfg).build(cfg)
    gold = {ex.id: normalize(ex.bridge) for ex in data["twohop_cot"]}
    bridges = set(gold.values())
    packed = args.run_dir / "samples.jsonl.gz"
    lines = gzip.open(packed, "rt") if packed.exists() else (args.run_dir / "samples.jsonl").open()
    counts = {m: [0, 0, 0] for m in args.models}  # answers, wrong first hops, of them another chain's bridge
    with lines:
        for line in lines:
            row = json.loads(line)
            if row["split"] != "twohop_cot" or row["model"] not in counts:
                continue
            bridge = cot_steps(row["generation"])[1]
            c = counts[row["model"]]
            c[0] += 1
            c[1] += bridge != gold[row["id"]]
            c[2] += bridge != gold[row["id"]] and bridge in bridges
    for model, (n, wrong, other) in counts.items():
        print(f"{model}: {n} CoT answers, {wrong} wrong first hops, {other} of them another test chain's bridge")


if __name__ == "__main__":
    main()
