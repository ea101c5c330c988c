"""run_experiment: tasks -> base model -> experts -> recycle -> evaluate -> report.

The only module (with cli/) that reaches across stages. Every stage leaves an artifact in
the run directory; re-running the same config resumes and skips finished rows.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import peft
import torch
import transformers
import yaml
from peft import PeftModel

from . import __version__
from .adapters.experts import expert_meta, train_expert
from .adapters.lora_io import read_adapter
from .artifacts import append_jsonl, atomic_write_text, read_jsonl, write_json, write_jsonl
from .config import ExperimentConfig, stable_hash
from .diagnostics.report import pair_rows, summarize_pairs
from .errors import UserError
from .evaluate.evaluator import evaluate_split
from .model.load import base_meta, check_model_dir, load_base, load_tokenizer, prepare_base
from .recycle.registry import RECYCLERS, LibraryInputs
from .report.markdown import render_report
from .seeding import derive_seed
from .tasks.datasets import EXPERT_DATA, LIBRARIES, TEST_SPLITS, build_datasets
from .tasks.templates import normalize
from .tasks.world import build_world
from .ui import console, progress_bar

CONFIG_FILE = "config.yaml"
RESULTS_FILE = "results.jsonl"
SAMPLES_FILE = "samples.jsonl"


@dataclass(frozen=True)
class Row:
    """One model to evaluate: a name in the table, its library, and how to build it."""

    model: str
    library: str | None
    method: str
    data_requirement: str
    build: Callable[[], torch.nn.Module]


def validate(cfg: ExperimentConfig) -> None:
    """Reject bad method names/parameters and base-model paths before anything is written."""
    if cfg.model.base_model is not None:
        check_model_dir(Path(cfg.model.base_model))
    for spec in cfg.methods:
        recycler = RECYCLERS.get(spec.name)
        for library in cfg.libraries:
            recycler.check(spec.params, len(LIBRARIES[library]))


def prepare_run_dir(out: Path, cfg: ExperimentConfig) -> None:
    config_path = out / CONFIG_FILE
    if config_path.is_file():
        try:
            previous = yaml.safe_load(config_path.read_text()).get("config_hash")
        except (yaml.YAMLError, AttributeError):
            previous = None
        if previous != cfg.config_hash():
            raise UserError(
                f"{out} holds a different experiment (config hash {previous}, this one {cfg.config_hash()}); "
                "choose another --out"
            )
        return
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty and holds no {CONFIG_FILE}; choose another --out")
    resolved = {"config_hash": cfg.config_hash(), **cfg.model_dump(mode="json")}
    atomic_write_text(config_path, yaml.safe_dump(resolved, sort_keys=False))


def versions() -> dict:
    return {"lorarecycle": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "python": platform.python_version()}


def write_data(out: Path, datasets: dict) -> None:
    for name, examples in datasets.items():
        write_jsonl(out / f"{name}.jsonl", (ex.to_dict() for ex in examples))


def ensure_experts(cfg: ExperimentConfig, base_path: Path, datasets: dict, out: Path) -> dict[str, Path]:
    names = sorted({e for lib in cfg.libraries for e in LIBRARIES[lib]} | {"union"}, key=list(EXPERT_DATA).index)
    paths = {}
    for name in names:
        path = out / "adapters" / name
        key = stable_hash({"config": cfg.config_hash(), "expert": name, "base": str(base_path)})
        meta = expert_meta(path)
        if meta is None or meta.get("key") != key:
            examples = [ex for ds in EXPERT_DATA[name] for ex in datasets[ds]]
            train_expert(base_path, examples, cfg.lora, cfg.experts, derive_seed(cfg.seed, "expert", name), path, name, key)
        paths[name] = path
    return paths


def library_diagnostics(cfg: ExperimentConfig, experts: dict[str, Path]) -> dict[str, list[dict]]:
    """Data-free pair diagnostics (medians over modules) of each library's experts."""
    out = {}
    for library in cfg.libraries:
        names = list(LIBRARIES[library])
        adapters = [read_adapter(experts[n]) for n in names]
        out[library] = summarize_pairs(pair_rows(adapters, names, density=1.0))
    return out


def plan_rows(cfg: ExperimentConfig, base_path: Path, experts: dict[str, Path], out: Path) -> list[Row]:
    def with_adapter(path: Path) -> Callable[[], torch.nn.Module]:
        return lambda: PeftModel.from_pretrained(load_base(base_path), path).merge_and_unload().eval()

    rows = [Row("base", None, "base", "none", lambda: load_base(base_path))]
    for name, path in experts.items():
        if name == "union":
            rows.append(Row("union", None, "union_lora", "data-access", with_adapter(path)))
        else:
            rows.append(Row(f"expert:{name}", None, "single_expert", "single expert", with_adapter(path)))
    for library in cfg.libraries:
        lib_paths = [experts[e] for e in LIBRARIES[library]]
        for spec in cfg.methods:
            recycler = RECYCLERS.get(spec.name)
            inputs = LibraryInputs(base_path, lib_paths, out / "recycled" / f"{spec.row_name}-{library}", derive_seed(cfg.seed, "recycle"))
            build = (lambda r=recycler, i=inputs, p=spec.params: r.build(i, **p))
            rows.append(Row(spec.row_name, library, spec.name, recycler.data_requirement, build))
    return rows


def run_experiment(cfg: ExperimentConfig, out: Path) -> list[dict]:
    validate(cfg)
    out = Path(out)
    prepare_run_dir(out, cfg)
    started = time.perf_counter()
    world = build_world(cfg.world, cfg.seed)
    datasets = build_datasets(world)
    write_data(out / "data", datasets)
    base_path = prepare_base(cfg, datasets["pretrain"])
    experts = ensure_experts(cfg, base_path, datasets, out)
    tokenizer = load_tokenizer(base_path)
    entities = {normalize(e) for e in world.entities}
    results = read_jsonl(out / RESULTS_FILE)
    done = {(r["model"], r["library"], r["split"]) for r in results}
    rows = plan_rows(cfg, base_path, experts, out)
    todo = [(row, s) for row in rows for s in TEST_SPLITS if (row.model, row.library, s) not in done]
    common = {"config_hash": cfg.config_hash(), "seed": cfg.seed, "experiment": cfg.name,
              "familiarity": cfg.world.familiarity, "exposure": cfg.world.exposure}
    with progress_bar("evaluating", len(todo)) as advance:
        for row in rows:
            splits = [s for r, s in todo if r is row]
            if not splits:
                continue
            # The whole model in bf16 rather than autocast: same rounding of the weights,
            # and PEFT's Arrow layer mixes dtypes under autocast.
            model = row.build().to(torch.bfloat16 if cfg.eval.bf16 else torch.float32)
            for split in splits:
                summary, samples = evaluate_split(model, tokenizer, datasets[split], cfg.eval, entities)
                ident = {"model": row.model, "library": row.library, "split": split}
                append_jsonl(out / SAMPLES_FILE, ({**ident, **s} for s in samples))
                result = {**common, **ident, "method": row.method, "data_requirement": row.data_requirement, **summary}
                append_jsonl(out / RESULTS_FILE, [result])
                results.append(result)
                advance(info=f"{row.model} {row.library or ''} {split}")
            del model
    diagnostics = library_diagnostics(cfg, experts)
    manifest = {
        "name": cfg.name, "config_hash": cfg.config_hash(), "seed": cfg.seed,
        "familiarity": cfg.world.familiarity, "exposure": cfg.world.exposure, "versions": versions(),
        "base": {"path": str(base_path), "pretrain": base_meta(base_path).get("pretrain")},
        "experts": {name: expert_meta(p) for name, p in experts.items()},
        "diagnostics": diagnostics,
        "seconds_this_invocation": round(time.perf_counter() - started, 1),
    }
    write_json(out / "run.json", manifest)
    order = {(r.model, r.library): i for i, r in enumerate(rows)}
    results.sort(key=lambda r: (order.get((r["model"], r["library"]), len(order)), TEST_SPLITS.index(r["split"])))
    atomic_write_text(out / "report.md", render_report(manifest, results))
    console.print(f"results: {out / RESULTS_FILE}; report: {out / 'report.md'}")
    return results
