"""One candidate of the rule in docs/probes.md (*Facts after demonstrations on a real LM*) on
one real-LM cell: trains `union_replay` alone (the rule reads nothing else) with the cell's
settings and the candidate's recipe (A: replay; B: replay_after_demos), evaluates it on Gate 2's
splits as the cell's run would (same rendering, demonstrations and stop string; no
log-likelihood ranking, which no gate reads) and prints one JSON line: Gate 2 and its numbers.

The adapter lands in the content-keyed cache under the key a grid run would give it, so a run
of the cell reuses it; the cell's samples go to OUT/samples-<split>.jsonl.

    python scripts/probe_real_lm_demo_form.py CELL/config.yaml F replay_after_demos OUT [SELF_REPLAY]

SELF_REPLAY: the cell's replay pool (data/self_replay.jsonl), copied in rather than sampled again
(it depends on the base and the seed only).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import yaml

from lorarecycle.artifacts import write_jsonl
from lorarecycle.cache import cache_dir
from lorarecycle.config import ExperimentConfig
from lorarecycle.evaluate.evaluator import evaluate_split
from lorarecycle.layout import SELF_REPLAY_FILE
from lorarecycle.model.device import resolve_device
from lorarecycle.model.load import load_tokenizer
from lorarecycle.model.prompting import DEMO_SEPARATOR
from lorarecycle.parallel import JobRunner, threads
from lorarecycle.pipeline import rendered_for_model
from lorarecycle.recycle.adapted import load_adapted
from lorarecycle.report.gates import evaluate_gates
from lorarecycle.runtime import configure_runtime
from lorarecycle.stages import ensure_adapters
from lorarecycle.tasks import task_of
from lorarecycle.tasks.text import normalize

REFERENCE = "union_replay"


def probe_config(cell_config: Path, familiarity: str, recipe: str) -> ExperimentConfig:
    resolved = yaml.safe_load(cell_config.read_text())
    resolved.pop("config_hash", None)
    resolved["world"]["familiarity"] = familiarity
    resolved["experts"]["recipe"] = recipe
    resolved |= {"methods": [], "references": [REFERENCE]}
    return ExperimentConfig.model_validate(resolved)


def main(cell_config: Path, familiarity: str, recipe: str, out: Path, self_replay: Path | None = None) -> None:
    configure_runtime()
    cfg = probe_config(cell_config, familiarity, recipe)
    task, base = task_of(cfg), Path(cfg.model.base_model)
    world, datasets = task.build(cfg)
    _, rendered = rendered_for_model(cfg, datasets, load_tokenizer(base))
    if self_replay is not None and not (out / "data" / SELF_REPLAY_FILE).is_file():
        (out / "data").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self_replay, out / "data" / SELF_REPLAY_FILE)
    started = time.perf_counter()
    with JobRunner(resolve_device("cpu")) as runner:  # a lone job trains on one thread, as in a grid cell
        adapters, _ = ensure_adapters(cfg, base, rendered, cache_dir("adapters"), runner, world, out,
                                       only=(REFERENCE,))
    trained = time.perf_counter() - started
    model = load_adapted(base, adapters[REFERENCE]).eval()
    tokenizer, eval_spec = load_tokenizer(base), cfg.eval.model_copy(update={"loglik_choices": 0})
    rows, entities = [], {normalize(e) for e in world.entities}
    with threads(1):  # an evaluation job of a run works on one thread
        for split in (*task.catalog.hops, task.catalog.composed[1]):
            summary, samples = evaluate_split(model, tokenizer, rendered[split], eval_spec, entities, task.cot_steps,
                                              (DEMO_SEPARATOR,))
            write_jsonl(out / f"samples-{split}.jsonl", samples)
            rows.append({"model": REFERENCE, "library": None, "split": split, **summary})
    gate2 = evaluate_gates(rows, task.catalog, cfg.world.exposure, cfg.world.exposure_hop, False)[2]
    print(json.dumps({"familiarity": familiarity, "seed": cfg.seed, "recipe": recipe, "adapter": adapters[REFERENCE].name,
                      "passed": gate2["passed"], "checks": gate2["checks"], "adapter_seconds": round(trained, 1),
                      "evaluation_seconds": round(time.perf_counter() - started - trained, 1)}), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]), args[1], args[2], Path(args[3]), Path(args[4]) if len(args) > 4 else None)
