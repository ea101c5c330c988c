"""The prompt format a real LM follows, chosen on the base's own checks only (the real-LM issue).

For each candidate `prompt` section and each familiarity, the base model (no adapter) is
evaluated on the checks Gate 0 reads over a --base-model: `twohop_cot` (does it restate the
subject in the "Reasoning: ... So the answer is X." format?) and the in-context checks
(`incontext_twohop_cot`, `incontext_distractor_cot`: both facts stated, without and with a
second fact of each relation). Nothing is trained; recycled models play no part. The rule
that picks the winner from these rows is written in docs/probes.md before this runs.

    python scripts/probe_real_lm_format.py --base-model ~/.cache/lorarecycle/models/smollm2-135m-instruct \\
        --out docs/results/real-lm/format-probe
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from lorarecycle.cli.resolve import resolve
from lorarecycle.config.loading import validate_experiment
from lorarecycle.evaluate.evaluator import evaluate_split
from lorarecycle.model.load import load_base, load_tokenizer
from lorarecycle.model.precision import cpu_description
from lorarecycle.model.prompting import DEMO_SEPARATOR
from lorarecycle.pipeline import rendered_for_model
from lorarecycle.tasks import task_of
from lorarecycle.tasks.text import normalize

CANDIDATES = {"plain-3shot": {"format": "plain", "shots": 3}, "chat-3shot": {"format": "chat", "shots": 3}}
SPLITS = ("twohop_cot", "incontext_twohop_cot", "incontext_distractor_cot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", type=Path, required=True)
    parser.add_argument("--preset", default="real-lm-cpu")
    parser.add_argument("--familiarity", nargs="+", default=["F", "R"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    grid = resolve(None, args.preset, args.base_model, None)
    model = load_base(args.base_model, dtype=torch.float32)
    tokenizer = load_tokenizer(args.base_model)
    rows = []
    for familiarity in args.familiarity:
        template = grid.experiment
        # exact match and step scores only: the rule reads no log-likelihood rank (and ranking
        # five continuations after a three-shot prompt costs more than decoding it)
        cfg = validate_experiment({**template, "seed": args.seed, "eval": {**template.get("eval", {}), "loglik_choices": 0},
                                   "world": {**template.get("world", {}), "familiarity": familiarity}}, args.preset)
        task = task_of(cfg)
        world, datasets = task.build(cfg)
        entities = frozenset(normalize(e) for e in world.entities)
        for name, prompt in CANDIDATES.items():
            rendered_cfg = cfg.model_copy(update={"prompt": cfg.prompt.model_copy(update=prompt)})
            fmt, rendered = rendered_for_model(rendered_cfg, datasets, tokenizer)
            for split in SPLITS:
                started = time.perf_counter()
                stop = (DEMO_SEPARATOR,) if fmt == "plain" else ()  # as the grid decodes
                summary, samples = evaluate_split(model, tokenizer, rendered[split], cfg.eval, entities, task.cot_steps,
                                                  stop)
                row = {"candidate": name, "format": fmt, "shots": prompt["shots"], "familiarity": familiarity,
                       "seed": args.seed, "split": split, "seconds": round(time.perf_counter() - started, 1),
                       **{k: v for k, v in summary.items() if not isinstance(v, dict)}}
                rows.append(row)
                print(json.dumps(row), flush=True)
                args.out.mkdir(parents=True, exist_ok=True)
                with open(args.out / "samples.jsonl", "a") as f:
                    for ex, s in list(zip(rendered[split], samples))[:10]:  # enough to read the format
                        f.write(json.dumps({"candidate": name, "familiarity": familiarity, "split": split,
                                            "prompt": ex.prompt, **s}) + "\n")
    (args.out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (args.out / "machine.json").write_text(json.dumps(cpu_description()))


if __name__ == "__main__":
    main()
