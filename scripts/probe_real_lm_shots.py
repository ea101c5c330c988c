"""Exact match of a real-LM cell's trained adapters on their own facts' evaluation split (the
first 50 questions), with no demonstration and with the cell's `prompt.shots` format
demonstrations before each question, rendered as the cell's evaluation renders them. Reads
the cell's config.yaml and its stages.json, which names the adapters in the content-keyed
cache (`LORARECYCLE_CACHE`, default ~/.cache/lorarecycle).

    python scripts/probe_real_lm_shots.py RUN/cells/<id> > rows.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import yaml
from peft import PeftModel

from lorarecycle.cache import cache_dir
from lorarecycle.config import ExperimentConfig
from lorarecycle.evaluate.evaluator import evaluate_split
from lorarecycle.model.load import load_base, load_tokenizer
from lorarecycle.model.prompting import DEMO_SEPARATOR
from lorarecycle.pipeline import rendered_for_model
from lorarecycle.tasks import task_of

PAIRS = [("hop1", "hop1"), ("hop2", "hop2"), ("union_replay", "hop1"), ("union_replay", "hop2")]


def main(cell: Path, n: int = 50) -> None:
    torch.set_num_threads(1)
    resolved = yaml.safe_load((cell / "config.yaml").read_text())
    cfg = ExperimentConfig.model_validate({k: v for k, v in resolved.items() if k != "config_hash"})
    task = task_of(cfg)
    _, datasets = task.build(cfg)
    base, stages = Path(cfg.model.base_model), json.loads((cell / "stages.json").read_text())
    tokenizer = load_tokenizer(base)
    rendered = {shots: rendered_for_model(cfg.model_copy(update={"prompt": cfg.prompt.model_copy(
        update={"shots": shots})}), datasets, tokenizer)[1] for shots in (0, cfg.prompt.shots)}
    spec = cfg.eval.model_copy(update={"loglik_choices": 0})
    for name, split in PAIRS:
        model = PeftModel.from_pretrained(load_base(base, dtype=torch.float32), cache_dir("adapters") / stages[name])
        for shots, splits in rendered.items():
            summary, _ = evaluate_split(model.eval(), tokenizer, splits[split][:n], spec, set(), task.cot_steps,
                                        (DEMO_SEPARATOR,) if shots else ())
            print(json.dumps({"adapter": name, "split": split, "shots": shots, "n": summary["n"],
                              "accuracy": summary["accuracy"]}), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
