"""run_experiment: tasks -> base model -> experts -> recycle -> evaluate -> report.

The only module (with cli/) that reaches across stages. Every stage leaves an artifact in
the run directory; re-running the same config resumes and skips finished rows.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import peft
import torch
import transformers
import yaml

from . import __version__
from .adapters.experts import expert_meta
from .adapters.lora_io import read_adapter
from .cache import base_identity, cache_dir, check_version as check_cache_version
from .artifacts import (append_jsonl, atomic_write_text, check_output_dir, inside, read_json, read_jsonl,
                        remove_stray_temporaries, run_lock, write_json, write_jsonl, RUN_LOCK)
from .adapters.recipe import recipe_examples
from .config import ExperimentConfig, ExpertTrainSpec, MethodSpec, TrainSpec, stable_hash
from .evaluate.monitor import SAMPLE as MONITOR_SAMPLE, HeldOutMonitor
from .diagnostics.report import pair_rows, summarize_pairs
from .errors import UserError
from .model.device import current_device
from .model.precision import current_precision, probe_cpu, set_precision
from .model.step_probe import probe_steps
from .model.prompting import resolve_format, render_datasets
from .model.targets import resolve_target_modules, skeleton
from .model.tiny import tiny_llama_config
from .model.load import base_meta, check_model_dir, load_base, load_tokenizer
from .recycle.adapted import load_adapted
from .recycle.registry import RECYCLERS, LibraryInputs
from .report.gates import attributable, evaluate_gates
from .report.markdown import render_report
from .seeding import derive_seed, make_rng
from .evaluate.familiarity import name_scores, summarize_familiarity
from .evaluate.oracle import oracle_rows
from .layout import CONFIG_FILE, FAMILIARITY_FILE, RESULTS_FILE, SAMPLES_FILE, STAGES_FILE
from .jobs import (EvalContext, Row, build_recycled, evaluate_row, reusable, trace_path, train_adapter_once,
                   train_full_once)
from .parallel import JobRunner
from .tasks.catalog import REPLAY_REFERENCES
from .tasks.recipe_sets import REPLAY_POOL
from .runtime import crash_point
from .tasks.registry import task_of
from .train.full import full_ft_meta
from .results import SCHEMA_VERSION, ResultRow, data_access_of
from .train.pretrain import prepare_base, pretraining_material
from .tasks.templates import normalize
from .ui import console, progress_bar


def validate(cfg: ExperimentConfig) -> None:
    """Reject bad method names/parameters, references and base-model paths before anything is written."""
    if cfg.model.base_model is not None:
        path = check_model_dir(Path(cfg.model.base_model))
        tokenizer = load_tokenizer(path)  # a base-model directory whose tokenizer does not load fails here
        specs = [spec for spec in (cfg.experts, cfg.full_ft, cfg.full_ft_replay) if spec is not None]
        if resolve_format(cfg.prompt, tokenizer) == "chat":
            if any(spec.chain_form for spec in specs):  # drawn every epoch, after the prompts are rendered
                raise UserError("experts.chain_form writes plain texts, and this model's prompts are chat turns "
                                "(set prompt.format: plain, or chain_form: false)")
        model = skeleton(path)
    else:
        model = skeleton(tiny_llama_config(cfg.model, None))
    resolve_target_modules(model, cfg.lora.target_modules)
    chained = [name for name in ("experts", "full_ft", "full_ft_replay")  # the sections this run trains with
               if (spec := getattr(cfg, name)) is not None and spec.chain_form and spec.recipe == "replay"
               and (name == "experts" or name in cfg.references)]
    if cfg.pretrain.chain_form and cfg.model.base_model is None:
        chained.insert(0, "pretrain")
    if chained and task_of(cfg).chain_forms is None:
        raise UserError(f"{chained[0]}.chain_form: task {cfg.task} has no chain forms (its facts are a CoT's first "
                        f"step, which cot_form trains); set {chained[0]}.chain_form: false")
    if cfg.prompt.shots and cfg.model.base_model is None:
        raise UserError("prompt.shots: the built-in model is pretrained on the answer format and its context "
                        f"({cfg.model.max_positions} positions) has no room for demonstrations; use it with --base-model")
    for spec in cfg.methods:
        recycler = RECYCLERS.get(spec.name)
        for experts in cfg.libraries.values():
            recycler.check(spec.params, len(experts))




def check_fewshot(cfg: ExperimentConfig, datasets: dict) -> None:
    """Few-shot material must exist, be large enough, and share no chain with the test splits."""
    catalog = task_of(cfg).catalog
    test_chains = {ex.chain for split in catalog.test_splits for ex in datasets[split]} - {""}
    for spec in cfg.methods:
        recycler = RECYCLERS.get(spec.name)
        sources = [s or catalog.fewshot_examples for s in recycler.example_sets(spec.params)]
        if recycler.reads_expert_examples:
            sources += [catalog.fewshot_sources[e] for experts in cfg.libraries.values() for e in experts]
        for source in dict.fromkeys(sources):
            if source not in datasets:
                raise UserError(f"method {spec.row_name!r}: unknown example set {source!r}; "
                                f"known: {', '.join(sorted(datasets))}")
            shared = sorted({ex.chain for ex in datasets[source]} & test_chains)
            if shared:
                raise UserError(f"method {spec.row_name!r}: few-shot examples from {source!r} overlap the test "
                                f"chains ({len(shared)} shared, e.g. {shared[0]})")
            shots = recycler.with_defaults(spec.params).get("shots")
            if shots is not None and shots > len(datasets[source]):
                raise UserError(f"method {spec.row_name!r}: shots={shots} but {source!r} has only "
                                f"{len(datasets[source])} examples (world.n_fewshot_chains)")


def prepare_run_dir(out: Path, cfg: ExperimentConfig) -> None:
    check_output_dir(out)
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
    if out.exists() and any(p.name != RUN_LOCK for p in out.iterdir()):
        raise UserError(f"{out} is not empty and holds no {CONFIG_FILE}; choose another --out")
    resolved = {"config_hash": cfg.config_hash(), **cfg.model_dump(mode="json")}
    atomic_write_text(config_path, yaml.safe_dump(resolved, sort_keys=False))


def check_stages(out: Path, stages: dict[str, str], resuming: bool) -> None:
    """Record which base and adapters (directory names carry their content keys) this run's
    rows come from; refuse to add rows to results computed with other ones. The config hash
    covers the config, not the code that turns it into data: a run resumed after an upgrade,
    or on another cache, would otherwise mix rows of two recipes in one table."""
    path = out / STAGES_FILE
    recorded = read_json(path) if path.is_file() else {}
    changed = [name for name in stages if name in recorded and recorded[name] != stages[name]]
    if resuming and changed:
        name = changed[0]
        raise UserError(f"{out / RESULTS_FILE}: its rows were computed with other trained stages ({name}: "
                        f"{recorded[name]}, now {stages[name]}; the code, the cache or the data changed since); "
                        f"choose another --out, or delete {RESULTS_FILE} there to evaluate again")
    if recorded != {**recorded, **stages}:
        write_json(path, {**recorded, **stages})


def versions() -> dict:
    return {"lorarecycle": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "python": platform.python_version()}


def write_data(out: Path, datasets: dict) -> None:
    for name, examples in datasets.items():
        write_jsonl(out / f"{name}.jsonl", (ex.to_dict() for ex in examples))


def needed_experts(cfg: ExperimentConfig) -> list[str]:
    names = {e for experts in cfg.libraries.values() for e in experts}
    names |= {e for spec in cfg.methods for e in RECYCLERS.get(spec.name).extra_experts(spec.params)}
    expert_data = task_of(cfg).catalog.expert_data
    names |= {r for r in cfg.references if r in expert_data}
    return sorted(names, key=list(expert_data).index)


def stage_key(cfg: ExperimentConfig, base_path: Path, name: str, examples: list, train: TrainSpec) -> str:
    """Content hash of everything a trained adapter (or fine-tune) depends on, so cells of a
    sweep that differ only in methods or libraries share it."""
    return stable_hash({"base": base_identity(base_path), "name": name, "data": stable_hash([ex.to_dict() for ex in examples]),
                        "lora": cfg.lora.model_dump(mode="json"),
                        # micro-batching gives the same update; later epochs' material follows from
                        # the first epoch's (in the data hash) and the seed
                        "train": train.model_dump(mode="json", exclude={"micro_batch_size"}),
                        "seed": derive_seed(cfg.seed, "expert", name), "precision": current_precision()})


FULL_FINE_TUNES = ("full_ft", "full_ft_replay")


def training_spec(cfg: ExperimentConfig, name: str, sets: tuple[str, ...]) -> ExpertTrainSpec:
    """How an adapter or fine-tune is trained on `sets`: the experts' settings (full_ft: its
    own if given; full_ft_replay: its own), with the replay recipe forced for the replay
    references; `recall_check: per_set` over one set is the pooled sample, so such an adapter
    keeps the pooled one's key and is reused."""
    spec = {"full_ft": cfg.full_ft or cfg.experts, "full_ft_replay": cfg.full_ft_replay}.get(name, cfg.experts)
    if name in REPLAY_REFERENCES:
        spec = spec.model_copy(update={"recipe": "replay"})
    return spec.model_copy(update={"recall_check": "pooled"}) if len(sets) == 1 else spec


def held_out_monitor(cfg: ExperimentConfig, datasets: dict, sets: tuple[str, ...], spec: ExpertTrainSpec,
                     seed: int) -> HeldOutMonitor:
    control = task_of(cfg).catalog.controls[1]
    rng = make_rng(seed, "monitor")

    def sample(kind: str, examples: list, draw=rng) -> tuple:
        return tuple(draw.sample(examples, min(len(examples), MONITOR_SAMPLE[kind])))

    # the pooled sample is drawn in either mode, so retention and control ask the same questions
    checks = {"recall": sample("recall", [ex for name in sets for ex in datasets[name]])}
    if spec.recall_check == "per_set" and len(sets) > 1:
        checks = {f"recall:{name}": sample("recall", datasets[name], make_rng(seed, "monitor", name)) for name in sets}
    if cfg.model.base_model is None:  # a --base-model never saw our pretraining facts: nothing to retain
        checks |= {"retention": sample("retention", datasets["retention"]),
                   "control": sample("control", datasets[control])}
    return HeldOutMonitor(checks, spec.stop_recall, spec.check_every, cfg.eval)


def ensure_adapters(cfg: ExperimentConfig, base_path: Path, datasets: dict, store: Path,
                    runner: JobRunner, world) -> tuple[dict[str, Path], dict[str, Path]]:
    """Train (or reuse from `store`) every adapter the config needs, and the full fine-tunes
    that are references: independent jobs, run on worker processes. Returns (adapters,
    full fine-tunes), by name."""
    catalog, paths, full, jobs = task_of(cfg).catalog, {}, {}, []
    if cfg.model.base_model is not None:  # a model we did not pretrain: our corpus is not its past, so no replay
        datasets = {**datasets, REPLAY_POOL: []}
    wanted = [(n, catalog.expert_data[n]) for n in needed_experts(cfg)]
    wanted += [(n, catalog.full_ft_data) for n in FULL_FINE_TUNES if n in cfg.references]
    chain_forms = partial(task_of(cfg).chain_forms, world) if task_of(cfg).chain_forms is not None else None
    for name, sets in wanted:
        spec, seed = training_spec(cfg, name, sets), derive_seed(cfg.seed, "expert", name)
        recipe = recipe_examples(sets, datasets, spec, seed, chain_forms)
        key = stage_key(cfg, base_path, name, recipe.first_epoch(), spec)
        path = inside(store, f"{name}-{key}")
        monitor = held_out_monitor(cfg, datasets, sets, spec, seed)
        if name in FULL_FINE_TUNES:
            full[name] = path
            if not reusable(path, key, full_ft_meta, "model.safetensors", notice=True):
                jobs.append(partial(train_full_once, base_path, recipe, spec, seed, path, key, monitor))
        else:
            paths[name] = path
            if not reusable(path, key, expert_meta, "adapter_model.safetensors", notice=True):
                jobs.append(partial(train_adapter_once, base_path, recipe, cfg.lora, spec, seed, path, name, key,
                                    monitor))
    for _ in runner.run(jobs):
        pass
    return paths, full


def library_diagnostics(cfg: ExperimentConfig, experts: dict[str, Path]) -> dict[str, list[dict]]:
    """Data-free pair diagnostics (medians over modules) of each library's experts."""
    out = {}
    for library, names in cfg.libraries.items():
        if len(names) > 1:
            adapters = [read_adapter(experts[n]) for n in names]
            out[library] = summarize_pairs(pair_rows(adapters, names, density=1.0))
    return out


REFERENCE_ROWS = {"union": "data-access (pooled expert data)",
                  "union_replay": "data-access (pooled expert data, replay recipe)",
                  "union_demos": "data-access (pooled + two-hop demos)",
                  "target_expert": "data-access (test questions)"}


@dataclass(frozen=True)
class PlannedRow:
    """One row of the plan: what the table shows and where its model comes from (`source`:
    base | adapter | full | recycled; `spec`: the method spec of a recycled row)."""

    model: str
    library: str | None
    method: str
    data_requirement: str
    source: str
    name: str = ""
    spec: MethodSpec | None = None


def plan(cfg: ExperimentConfig) -> list[PlannedRow]:
    """Every row an experiment evaluates, in report order: the one plan that execution,
    resume, sweeps and `validate` all read."""
    rows = [PlannedRow("base", None, "base", "none", "base")]
    for name in needed_experts(cfg):
        if name in REFERENCE_ROWS:
            rows.append(PlannedRow(name, None, name, REFERENCE_ROWS[name], "adapter", name))
        else:
            rows.append(PlannedRow(f"expert:{name}", None, "single_expert", "single expert", "adapter", name))
    for name in (n for n in FULL_FINE_TUNES if n in cfg.references):
        what = "pooled expert data, all weights" + (", replay recipe" if name in REPLAY_REFERENCES else "")
        rows.append(PlannedRow(name, None, name, f"data-access ({what})", "full", name))
    for library in cfg.libraries:
        for spec in cfg.methods:
            requirement = RECYCLERS.get(spec.name).data_requirement(spec.params)
            rows.append(PlannedRow(spec.row_name, library, spec.name, requirement, "recycled", spec=spec))
    return rows


def row_keys(cfg: ExperimentConfig) -> list[tuple[str, str | None]]:
    """(model, library) of every planned row, in report order."""
    return [(r.model, r.library) for r in plan(cfg)]


def plan_rows(cfg: ExperimentConfig, base_path: Path, experts: dict[str, Path], full: dict[str, Path],
              datasets: dict, out: Path) -> list[Row]:
    """The plan with a way to build each row's model (trained adapters and fine-tunes at hand)."""
    general = [experts[n] for n in ("general",) if n in experts]
    catalog = task_of(cfg).catalog

    def build(row: PlannedRow) -> Callable[[], torch.nn.Module]:
        if row.source == "base":
            return partial(load_base, base_path)
        if row.source == "adapter":
            return partial(load_adapted, base_path, experts[row.name])
        if row.source == "full":
            return partial(load_base, full[row.name])
        names = cfg.libraries[row.library]
        inputs = LibraryInputs(base_path, [experts[e] for e in names], list(names),
                               inside(out, "recycled", f"{row.spec.row_name}-{row.library}"),
                               derive_seed(cfg.seed, "recycle"), datasets, general, catalog.fewshot_sources,
                               catalog.fewshot_examples)
        return partial(build_recycled, row.spec.name, inputs, row.spec.params)

    return [Row(r.model, r.library, r.method, r.data_requirement, build(r)) for r in plan(cfg)]


def measure_familiarity(cfg: ExperimentConfig, base_path: Path, tokenizer, entities: list[tuple[str, str, bool, str]],
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


def run_experiment(cfg: ExperimentConfig, out: Path, store: Path | None = None, extra: dict | None = None) -> list[dict]:
    """Run (or resume) one experiment into `out`. `store` holds trained adapters (default: the
    content-keyed cache, shared by every run and sweep cell); `extra` fields go into every row."""
    validate(cfg)
    check_cache_version()
    out = Path(out)
    task = task_of(cfg)
    world, datasets = task.build(cfg)
    check_fewshot(cfg, datasets)
    prepare_run_dir(out, cfg)
    with run_lock(out), JobRunner(current_device()) as runner:  # a second run here is refused while this one lives
        remove_stray_temporaries(out)
        return _run_locked(cfg, out, task, world, datasets, store, extra, runner)


def _run_locked(cfg: ExperimentConfig, out: Path, task, world, datasets: dict, store: Path | None,
                extra: dict | None, runner: JobRunner) -> list[dict]:
    started = time.perf_counter()
    set_precision(cfg.precision)
    precision = current_precision()
    step_probe = probe_steps(cfg) if current_device().type == "cpu" and cfg.model.base_model is None else None
    if step_probe and step_probe["offered"] and precision == "fp32" and cfg.precision == "auto":
        console.print(f"bf16 trains this model {step_probe['pretrain']['bf16_speedup']}x / "
                      f"{step_probe['lora']['bf16_speedup']}x faster here (pretraining / LoRA step); --precision bf16 "
                      "uses it, with numbers that differ from fp32's", markup=False)
    write_data(out / "data", datasets)
    base_path = prepare_base(cfg, *pretraining_material(cfg, world, datasets["pretrain"]),
                             partial(task.incontext, world, fixed_layout=True))
    tokenizer = load_tokenizer(base_path)
    # what every model stage sees: plain text, or the base model's chat template
    catalog = task.catalog
    demo_pool = [ex for name in dict.fromkeys([catalog.fewshot_examples, *catalog.fewshot_sources.values()])
                 if name.startswith("fewshot") for ex in datasets[name]]
    prompt_format, datasets = render_datasets(datasets, tokenizer, cfg.prompt, catalog.splits_for("base"), demo_pool,
                                              derive_seed(cfg.seed, "shots"))
    familiarity = measure_familiarity(cfg, base_path, tokenizer, task.probe_entities(world), out)
    store = Path(store) if store is not None else cache_dir("adapters")
    check_output_dir(store, "cache directory")
    experts, full = ensure_adapters(cfg, base_path, datasets, store, runner, world)
    entities = {normalize(e) for e in world.entities}
    results = read_jsonl(out / RESULTS_FILE)
    check_stages(out, {"base": base_path.name, **{name: path.name for name, path in {**experts, **full}.items()}},
                 bool(results))
    done = {(r["model"], r["library"], r["split"]) for r in results}
    # Samples are written before their result row: after a crash, drop samples (and any
    # partial line) whose result row never landed, so a resume does not duplicate them.
    samples_path = out / SAMPLES_FILE
    if samples_path.exists():
        kept = [x for x in read_jsonl(samples_path) if (x["model"], x["library"], x["split"]) in done]
        write_jsonl(samples_path, kept)
    rows = plan_rows(cfg, base_path, experts, full, datasets, out)
    own = cfg.model.base_model is None
    todo = [(row, s) for row in rows for s in task.catalog.splits_for(row.model, own) if (row.model, row.library, s) not in done]
    common = {"schema_version": SCHEMA_VERSION, "measured_familiarity": {r["role"]: round(r["name_logprob"], 4) for r in familiarity},
              "config_hash": cfg.config_hash(), "seed": cfg.seed, "experiment": cfg.name, "device": current_device().type, "precision": precision,
              "familiarity": cfg.world.familiarity, "exposure": cfg.world.exposure, **(extra or {})}
    ctx = EvalContext(cfg, base_path, out, datasets, frozenset(entities))
    jobs, job_rows = [], []
    for row in rows:
        row_splits = tuple(s for r, s in todo if r is row)
        routes = row.library is not None and RECYCLERS.get(row.method).routes
        if row_splits or (routes and not trace_path(out, row).is_file()):
            jobs.append(partial(evaluate_row, row, row_splits, ctx))
            job_rows.append(row)
    with progress_bar("evaluating", len(todo)) as advance:
        # Each job evaluates one model; rows land as jobs finish (the report sorts them).
        for index, evaluated in runner.run(jobs):
            row = job_rows[index]
            for split, summary, samples in evaluated:
                ident = {"model": row.model, "library": row.library, "split": split}
                append_jsonl(out / SAMPLES_FILE, ({**ident, **s} for s in samples))
                result = {**common, **ident, "method": row.method, "data_requirement": row.data_requirement,
                          "data_access": data_access_of(row.data_requirement), **summary}
                ResultRow.model_validate(result)  # the documented schema, or fail before anything is written
                append_jsonl(out / RESULTS_FILE, [result])
                results.append(result)
                advance(info=f"{row.model} {row.library or ''} {split}")
    gates = evaluate_gates(results, task.catalog, cfg.world.exposure, cfg.world.exposure_hop,
                           cfg.model.base_model is None)
    diagnostics = library_diagnostics(cfg, experts)
    routing = {p.stem: read_json(p)["segment_means"] for p in sorted((out / "routing").glob("*.json"))}
    manifest = {
        "name": cfg.name, "config_hash": cfg.config_hash(), "seed": cfg.seed,
        "familiarity": cfg.world.familiarity, "exposure": cfg.world.exposure, "versions": versions(),
        "device": str(current_device()), "precision": {"config": cfg.precision, "resolved": precision, "step_probe": step_probe},
        # on a CPU, also the (cached) precision probe's matmul GFLOP/s: the scale this run's timings are read on
        "machine": probe_cpu() if current_device().type == "cpu" else {"gpu": torch.cuda.get_device_name(current_device())},
        "prompt_format": prompt_format,
        "base": {"path": str(base_path), "pretrain": base_meta(base_path).get("pretrain")},
        "experts": {name: expert_meta(p) for name, p in experts.items()} | {n: full_ft_meta(p) for n, p in full.items()},
        "gates": gates,
        "attributable": attributable(gates),
        "measured_familiarity": familiarity,
        "diagnostics": diagnostics,
        "routing": routing,
        "seconds_this_invocation": round(time.perf_counter() - started, 1),
    }
    write_json(out / "run.json", manifest)
    order = {(r.model, r.library): i for i, r in enumerate(rows)}
    split_order = task.catalog.splits_for("base")
    results.sort(key=lambda r: (order.get((r["model"], r["library"]), len(order)), split_order.index(r["split"])))
    if todo:  # rows landed as parallel jobs finished: store them in plan order
        write_jsonl(out / RESULTS_FILE, results)
    crash_point("report")
    atomic_write_text(out / "report.md", render_report(manifest, results + oracle_rows(results, cfg.libraries)))
    console.print(f"results: {out / RESULTS_FILE}; report: {out / 'report.md'}")
    return results
