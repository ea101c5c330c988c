"""The trained stages of a run and how each row's model is built from them: adapters and
full fine-tunes (content-keyed, trained once into the cache), the familiarity scores of the
test entities, and the build function of every planned row."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch

from .adapters.experts import expert_meta
from .adapters.lora_io import read_adapter
from .adapters.recipe import recipe_examples
from .adapters.self_replay import self_generated_pool
from .artifacts import inside, read_jsonl, write_jsonl
from .cache import base_identity
from .config import ExperimentConfig, ExpertTrainSpec, TrainSpec, stable_hash
from .diagnostics.report import pair_rows, summarize_pairs
from .evaluate.familiarity import name_scores, summarize_familiarity
from .evaluate.monitor import CONTROL, RECALL, RETENTION, SAMPLE as MONITOR_SAMPLE, HeldOutMonitor
from .jobs import reusable, train_adapter_once, train_full_once
from .layout import FAMILIARITY_FILE, SELF_REPLAY_FILE
from .model.load import load_base
from .model.prompting import after_demonstrations, demonstrations, render_example
from .model.precision import current_precision
from .parallel import JobRunner
from .plan import FULL_FINE_TUNES, Row, Source, needed_experts
from .recycle.adapted import load_adapted
from .recycle.build import LibraryInputs, build_recycled
from .seeding import derive_seed, make_rng
from .tasks import REPLAY_REFERENCES
from .tasks.recipe_sets import REPLAY_POOL
from .tasks import task_of
from .train.full import full_ft_meta
from .ui import progress_bar


def stage_key(cfg: ExperimentConfig, base_path: Path, name: str, examples: list, train: TrainSpec) -> str:
    """Content hash of everything a trained adapter (or fine-tune) depends on, so runs and
    sweep cells that differ only in methods or libraries share it."""
    return stable_hash({"base": base_identity(base_path), "name": name,
                        "data": stable_hash([ex.to_dict() for ex in examples]), "lora": cfg.lora.model_dump(mode="json"),
                        # micro-batching gives the same update; later epochs' material follows from
                        # the first epoch's (in the data hash) and the seed
                        "train": train.model_dump(mode="json", exclude={"micro_batch_size"}),
                        "seed": derive_seed(cfg.seed, "expert", name), "precision": current_precision()})


def training_spec(cfg: ExperimentConfig, name: str, sets: tuple[str, ...]) -> ExpertTrainSpec:
    """How an adapter or fine-tune is trained on `sets`: the experts' settings (full_ft: its
    own if given; full_ft_replay: its own), with the replay recipe forced for the replay
    references; `recall_check: per_set` over one set is the pooled sample, so such an adapter
    keeps the pooled one's key and is reused."""
    spec = {"full_ft": cfg.full_ft or cfg.experts, "full_ft_replay": cfg.full_ft_replay}.get(name, cfg.experts)
    if name in REPLAY_REFERENCES and not spec.replays:  # (replay_after_demos is a replay recipe)
        spec = spec.model_copy(update={"recipe": "replay"})
    return spec.model_copy(update={"recall_check": "pooled"}) if len(sets) == 1 else spec


def held_out_monitor(cfg: ExperimentConfig, datasets: dict, sets: tuple[str, ...], spec: ExpertTrainSpec,
                     seed: int) -> HeldOutMonitor:
    catalog = task_of(cfg).catalog
    rng = make_rng(seed, "monitor")

    def sample(kind: str, examples: list, draw=rng) -> tuple:
        return tuple(draw.sample(examples, min(len(examples), MONITOR_SAMPLE[kind])))

    # the pooled sample is drawn in either mode, so retention and control ask the same questions
    checks = {RECALL: sample(RECALL, [ex for name in sets for ex in datasets[name]])}
    if spec.recall_check == "per_set" and len(sets) > 1:
        checks = {f"{RECALL}:{name}": sample(RECALL, datasets[name], make_rng(seed, "monitor", name)) for name in sets}
    if spec.after_demos:  # recall asked as the evaluation asks it: after its demonstrations
        pick = demonstrations(catalog.demo_pool(datasets), cfg.prompt.shots, derive_seed(cfg.seed, "shots"))
        checks = {k: tuple(render_example(ex, None, None, "plain", pick(ex)) for ex in exs) for k, exs in checks.items()}
    if cfg.model.base_model is None:  # a --base-model never saw our pretraining facts: nothing to retain
        checks |= {RETENTION: sample(RETENTION, datasets[catalog.retention]),
                   CONTROL: sample(CONTROL, datasets[catalog.controls[1]])}
    return HeldOutMonitor(checks, spec.stop_recall, spec.check_every, cfg.eval)


def ensure_adapters(cfg: ExperimentConfig, base_path: Path, datasets: dict, store: Path,
                    runner: JobRunner, world, out: Path, only: tuple[str, ...] | None = None,
                    ) -> tuple[dict[str, Path], dict[str, Path]]:
    """Train (or reuse from `store`) every adapter the config needs (or those named in `only`),
    and the full fine-tunes that are references: independent jobs, run on worker processes.
    Over a --base-model the replay pool is the model's own text, written once into the run
    directory `out`. Returns (adapters, full fine-tunes), by name."""
    task = task_of(cfg)
    catalog, paths, full, jobs = task.catalog, {}, {}, []
    wanted = [(n, catalog.expert_data[n]) for n in needed_experts(cfg)]
    wanted += [(n, catalog.full_ft_data) for n in FULL_FINE_TUNES if n in cfg.references]
    wanted = [(n, sets) for n, sets in wanted if only is None or n in only]
    if cfg.model.base_model is not None:  # a model we did not pretrain: our corpus is not its past
        replays = any(spec.replays and spec.replay_ratio > 0
                      for spec in (training_spec(cfg, n, sets) for n, sets in wanted))
        pool = self_generated_pool(base_path, derive_seed(cfg.seed, "self-replay"), out / "data" / SELF_REPLAY_FILE) \
            if replays else []
        datasets = {**datasets, REPLAY_POOL: pool}
    chain_forms = partial(task.chain_forms, world) if task.chain_forms is not None else None
    demo_forms = partial(after_demonstrations, catalog.demo_pool(datasets), cfg.prompt.shots)
    for name, sets in wanted:
        spec, seed = training_spec(cfg, name, sets), derive_seed(cfg.seed, "expert", name)
        recipe = recipe_examples(sets, datasets, spec, seed, chain_forms, demo_forms)
        first_epoch = recipe.first_epoch()
        key = stage_key(cfg, base_path, name, first_epoch, spec)
        path = inside(store, f"{name}-{key}")
        monitor = held_out_monitor(cfg, datasets, sets, spec, seed)
        most_examples = len(first_epoch) * spec.epochs
        if name in FULL_FINE_TUNES:
            full[name] = path
            if not reusable(path, key, full_ft_meta, "model.safetensors", notice=True):
                jobs.append((most_examples,
                             partial(train_full_once, base_path, recipe, spec, seed, path, key, monitor)))
        else:
            paths[name] = path
            if not reusable(path, key, expert_meta, "adapter_model.safetensors", notice=True):
                jobs.append((most_examples, partial(train_adapter_once, base_path, recipe, cfg.lora, spec, seed, path,
                                                    name, key, monitor)))
    # the largest first (each job is seeded on its own, so the order changes no number): on two
    # workers the longest training no longer starts last, beside an idle core
    jobs.sort(key=lambda job: -job[0])
    for _ in runner.run([job for _, job in jobs]):
        pass
    return paths, full


def measure_familiarity(base_path: Path, tokenizer, entities: list[tuple[str, str, bool, str]],
                        out: Path) -> list[dict]:
    """Score every test entity under the base model (once per run directory); returns the
    per-(role, familiar) summary."""
    path = out / FAMILIARITY_FILE
    rows = read_jsonl(path)
    if len(rows) != len(entities):
        model = load_base(base_path)
        with progress_bar("measuring familiarity", 1) as advance:
            scores = name_scores(model, tokenizer, [e[0] for e in entities], contexts=[e[3] for e in entities])
            advance()
        rows = [{"role": role, "familiar": familiar, "context": context, **s}
                for (_, role, familiar, context), s in zip(entities, scores)]
        write_jsonl(path, rows)
        del model
    return summarize_familiarity(rows, len(tokenizer))


def library_diagnostics(cfg: ExperimentConfig, experts: dict[str, Path]) -> dict[str, list[dict]]:
    """Data-free pair diagnostics (medians over modules) of each library's experts (of those
    libraries whose experts are trained: a controls-only run trains none)."""
    out = {}
    for library, names in cfg.libraries.items():
        if len(names) > 1 and all(n in experts for n in names):
            adapters = [read_adapter(experts[n]) for n in names]
            out[library] = summarize_pairs(pair_rows(adapters, names, density=1.0))
    return out


def model_builder(cfg: ExperimentConfig, base_path: Path, experts: dict[str, Path], full: dict[str, Path],
                  datasets: dict, out: Path) -> Callable[[Row], Callable[[], torch.nn.Module]]:
    """A picklable zero-argument builder of each row's model, from the trained stages."""
    general = [experts[n] for n in ("general",) if n in experts]
    catalog = task_of(cfg).catalog

    def build(row: Row) -> Callable[[], torch.nn.Module]:
        if row.source is Source.BASE:
            return partial(load_base, base_path)
        if row.source is Source.ADAPTER:
            return partial(load_adapted, base_path, experts[row.name])
        if row.source is Source.FULL:
            return partial(load_base, full[row.name])
        names = cfg.libraries[row.library]
        inputs = LibraryInputs(base_path, [experts[e] for e in names], list(names),
                               inside(out, "recycled", f"{row.spec.row_name}-{row.library}"),
                               derive_seed(cfg.seed, "recycle"), datasets, general, catalog.fewshot_sources,
                               catalog.fewshot_examples)
        return partial(build_recycled, row.spec.name, inputs, row.spec.params)

    return build
