"""run_experiment: tasks -> base model -> experts -> recycle -> evaluate -> report.

The only module (with cli/) that reaches across stages; it reads as the run's table of
contents. Every stage leaves an artifact in the run directory (`rundir.py`) or the cache
(`stages.py`); re-running the same config resumes and skips finished rows.
"""

from __future__ import annotations

import platform
import time
from functools import partial
from pathlib import Path

import peft
import torch
import transformers

from . import __version__
from .adapters.experts import expert_meta
from .artifacts import (append_jsonl, atomic_write_text, check_output_dir, inside, read_json, remove_stray_temporaries,
                        run_lock, write_json, write_jsonl)
from .cache import cache_dir, check_version as check_cache_version
from .config import ExperimentConfig
from .errors import UserError
from .evaluate.oracle import oracle_rows
from .jobs import EvalContext, evaluate_row, trace_path
from .layout import RESULTS_FILE, SAMPLES_FILE, TIMINGS_FILE
from .timings import run_seconds
from .model.device import current_device, free_memory_bytes
from .model.load import base_meta, check_model_dir, load_tokenizer
from .model.memory import training_bytes
from .model.precision import current_precision, probe_cpu, set_precision
from .model.prompting import DEMO_SEPARATOR, render_datasets, resolve_format
from .model.step_probe import probe_steps
from .model.targets import resolve_target_modules, skeleton
from .model.tiny import tiny_llama_config
from .parallel import JobRunner
from .plan import Row, Source, plan
from .recycle.build import RECYCLERS
from .report.figures import plot_routing_trace
from .report.markdown import render_report
from .report.verdict import verdict_fields
from .results import SCHEMA_VERSION, ResultRow
from .rundir import check_before_writing, check_stages, finished_rows, prepare_run_dir, write_data
from .runtime import crash_point
from .seeding import derive_seed
from .stages import ensure_adapters, library_diagnostics, measure_familiarity, model_builder
from .tasks import task_of
from .tasks.text import normalize
from .train.full import full_ft_meta
from .train.pretrain import prepare_base, pretraining_material
from .ui import console, progress_bar


def validate(cfg: ExperimentConfig) -> None:
    """Reject bad method names/parameters, references and base-model paths before anything is written."""
    if cfg.model.base_model is not None:
        path = check_model_dir(Path(cfg.model.base_model))
        tokenizer = load_tokenizer(path)  # a base-model directory whose tokenizer does not load fails here
        if resolve_format(cfg.prompt, tokenizer) == "chat":
            plain = [f"{name}.{what}" for name, spec in trained_specs(cfg).items()
                     for what, on in (("chain_form", spec.chain_form), ("recipe", spec.after_demos)) if on]
            if plain:  # drawn every epoch, after the prompts are rendered
                raise UserError(f"{plain[0]} writes plain texts, and this model's prompts are chat turns "
                                "(set prompt.format: plain)")
        model = skeleton(path)
    else:
        model = skeleton(tiny_llama_config(cfg.model, None))
    check_memory(cfg, model, resolve_target_modules(model, cfg.lora.target_modules))
    chained = [name for name, spec in trained_specs(cfg).items() if spec.chain_form and spec.replays]
    if cfg.pretrain.chain_form and cfg.model.base_model is None:
        chained.insert(0, "pretrain")
    if chained and task_of(cfg).chain_forms is None:
        raise UserError(f"{chained[0]}.chain_form: task {cfg.task} has no chain forms (its facts are a CoT's first "
                        f"step, which cot_form trains); set {chained[0]}.chain_form: false")
    demoed = [name for name, spec in trained_specs(cfg).items() if spec.after_demos]
    if demoed and not cfg.prompt.shots:
        raise UserError(f"{demoed[0]}.recipe replay_after_demos trains after the prompt.shots demonstrations: "
                        "set prompt.shots (with --base-model)")
    if cfg.prompt.shots and cfg.model.base_model is None:
        raise UserError("prompt.shots: the built-in model is pretrained on the answer format and its context "
                        f"({cfg.model.max_positions} positions) has no room for demonstrations; use it with --base-model")
    for spec in cfg.methods:
        recycler = RECYCLERS.get(spec.name)
        for experts in cfg.libraries.values():
            recycler.check(spec.params, len(experts))


def check_memory(cfg: ExperimentConfig, model: torch.nn.Module, targets: list[str]) -> None:
    """Refuse, with the estimate, a config whose training cannot fit in the device's free
    memory (e.g. lora.r: 1000000000 asked for 256 GB, and the allocator failed mid-run)."""
    full = any(name in cfg.references for name in ("full_ft", "full_ft_replay"))
    needs = {f"an adapter of lora.r {cfg.lora.r}": training_bytes(model, targets, cfg.lora.r, False),
             "a full fine-tune": training_bytes(model, targets, cfg.lora.r, True) if full else 0}
    what, need = max(needs.items(), key=lambda item: item[1])
    free = free_memory_bytes(current_device())
    if need > free:
        raise UserError(f"this config needs at least {need / 2**30:.1f} GiB to train {what} (weights and optimizer "
                        f"state), and {free / 2**30:.1f} GiB are free; lower lora.r or the model's size")


def trained_specs(cfg: ExperimentConfig) -> dict:
    """The training sections this run reads, by name: the experts', and each full fine-tune's
    that is a reference (`full_ft` without its own section trains with the experts')."""
    specs = {"experts": cfg.experts}
    if "full_ft" in cfg.references and cfg.full_ft is not None:
        specs["full_ft"] = cfg.full_ft
    if "full_ft_replay" in cfg.references:
        specs["full_ft_replay"] = cfg.full_ft_replay
    return specs


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


def run_experiment(cfg: ExperimentConfig, out: Path, store: Path | None = None, extra: dict | None = None,
                   controls_only: bool = False) -> list[dict]:
    """Run (or resume) one experiment into `out`. `store` holds trained adapters (default: the
    content-keyed cache, shared by every run and sweep cell); `extra` fields go into every row.
    `controls_only`: train and evaluate only what the gates read (the base, `union_replay`); the
    same run without it later resumes there and adds the experts and recycled rows."""
    out = Path(out)
    validate(cfg)
    check_before_writing(out)
    check_cache_version()
    task = task_of(cfg)
    world, datasets = task.build(cfg)
    check_fewshot(cfg, datasets)
    prepare_run_dir(out, cfg)
    with run_lock(out), JobRunner(current_device()) as runner:  # a second run here is refused while this one lives
        remove_stray_temporaries(out)
        return _run_locked(cfg, out, world, datasets, store, extra, runner, controls_only)


def _run_locked(cfg: ExperimentConfig, out: Path, world, datasets: dict, store: Path | None, extra: dict | None,
                runner: JobRunner, controls_only: bool) -> list[dict]:
    started, task = time.perf_counter(), task_of(cfg)
    set_precision(cfg.precision)
    step_probe = _precision_probe(cfg)
    write_data(out / "data", datasets)
    # 1. the base model: pretrained once per content key, or the user's
    base_path = prepare_base(cfg, *pretraining_material(cfg, world, datasets["pretrain"]),
                             partial(task.incontext, world, fixed_layout=True))
    tokenizer = load_tokenizer(base_path)
    # 2. what every model stage sees: plain text, or the base model's chat template
    prompt_format, datasets = rendered_for_model(cfg, datasets, tokenizer)
    familiarity = measure_familiarity(base_path, tokenizer, task.probe_entities(world), out)
    # 3. the adapters and fine-tunes, from the cache or trained now
    store = Path(store) if store is not None else cache_dir("adapters")
    check_output_dir(store, "cache directory")
    rows = plan(cfg, controls_only)
    only = tuple(r.name for r in rows if r.source in (Source.ADAPTER, Source.FULL)) if controls_only else None
    adapters_started = time.perf_counter()
    experts, full = ensure_adapters(cfg, base_path, datasets, store, runner, world, out, only=only)
    adapters_seconds = time.perf_counter() - adapters_started
    results = finished_rows(out)
    check_stages(out, {"base": base_path.name, **{name: path.name for name, path in {**experts, **full}.items()}},
                 bool(results))
    # 4. every planned row's model, built and evaluated on the splits it still lacks
    build = model_builder(cfg, base_path, experts, full, datasets, out)
    common = {"schema_version": SCHEMA_VERSION,
              "measured_familiarity": {r["role"]: round(r["name_logprob"], 4) for r in familiarity},
              "config_hash": cfg.config_hash(), "seed": cfg.seed, "experiment": cfg.name,
              "device": current_device().type, "precision": current_precision(),
              "familiarity": cfg.world.familiarity, "exposure": cfg.world.exposure, **(extra or {})}
    stop = (DEMO_SEPARATOR,) if prompt_format == "plain" and cfg.prompt.shots else ()
    ctx = EvalContext(cfg, base_path, out, datasets, frozenset(normalize(e) for e in world.entities), stop)
    todo = _evaluate(rows, build, ctx, results, common, runner)
    # 5. the gates, the manifest and the report
    manifest = _manifest(cfg, out, base_path, experts, full, familiarity, prompt_format, step_probe)
    manifest["controls_only"] = controls_only
    manifest |= verdict_fields(cfg, out, results)
    manifest["seconds"] = run_seconds(out, manifest["base"]["pretrain"], manifest["experts"], adapters_seconds,
                                   time.perf_counter() - started)
    write_json(out / "run.json", manifest)
    order = {row.key: i for i, row in enumerate(rows)}
    split_order = task.catalog.splits_for("base")
    results.sort(key=lambda r: (order.get((r["model"], r["library"]), len(order)), split_order.index(r["split"])))
    if todo:  # rows landed as parallel jobs finished: store them in plan order
        write_jsonl(out / RESULTS_FILE, results)
    _draw_routing_traces(out)
    crash_point("report")
    atomic_write_text(out / "report.md", render_report(manifest, results + oracle_rows(results, cfg.libraries), task.catalog))
    console.print(f"results: {out / RESULTS_FILE}; report: {out / 'report.md'}")
    return results


def versions() -> dict:
    return {"lorarecycle": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "python": platform.python_version()}


def _manifest(cfg: ExperimentConfig, out: Path, base_path: Path, experts: dict[str, Path], full: dict[str, Path],
              familiarity: list[dict], prompt_format: str, step_probe: dict | None) -> dict:
    """run.json: what the run was, on what, with which stages (`verdict_fields` adds what its
    gates say)."""
    device = current_device()
    return {
        "name": cfg.name, "config_hash": cfg.config_hash(), "seed": cfg.seed,
        "familiarity": cfg.world.familiarity, "exposure": cfg.world.exposure, "versions": versions(),
        "device": str(device),
        "precision": {"config": cfg.precision, "resolved": current_precision(), "step_probe": step_probe},
        # on a CPU, also the (cached) precision probe's matmul GFLOP/s: the scale this run's timings are read on
        "machine": probe_cpu() if device.type == "cpu" else {"gpu": torch.cuda.get_device_name(device)},
        "prompt_format": prompt_format,
        "base": {"path": str(base_path), "pretrain": base_meta(base_path).get("pretrain")},
        "experts": {name: expert_meta(p) for name, p in experts.items()} | {n: full_ft_meta(p) for n, p in full.items()},
        "measured_familiarity": familiarity,
        "diagnostics": library_diagnostics(cfg, experts),
        "routing": {p.stem: read_json(p)["segment_means"] for p in sorted((out / "routing").glob("*.json"))},
    }


def _precision_probe(cfg: ExperimentConfig) -> dict | None:
    """On a CPU, this model's training step in fp32 and bf16 (cached per machine), and a line
    when bf16 would be worth choosing by hand: `auto` stays fp32 on every CPU."""
    if current_device().type != "cpu" or cfg.model.base_model is not None:
        return None
    probe = probe_steps(cfg)
    if probe["offered"] and current_precision() == "fp32" and cfg.precision == "auto":
        console.print(f"bf16 trains this model {probe['pretrain']['bf16_speedup']}x / {probe['lora']['bf16_speedup']}x "
                      "faster here (pretraining / LoRA step); --precision bf16 uses it, with numbers that differ from "
                      "fp32's", markup=False)
    return probe


def rendered_for_model(cfg: ExperimentConfig, datasets: dict, tokenizer) -> tuple[str, dict]:
    """The datasets in the prompt format the base model reads (few-shot demonstrations drawn
    from the few-shot chains only)."""
    catalog = task_of(cfg).catalog
    split_pools = {split: datasets[demos] for split, demos in catalog.demo_sets.items()}
    return render_datasets(datasets, tokenizer, cfg.prompt, catalog.splits_for("base"), catalog.demo_pool(datasets),
                           derive_seed(cfg.seed, "shots"), split_pools)


def _evaluate(rows: list[Row], build, ctx: EvalContext, results: list[dict], common: dict,
              runner: JobRunner) -> list[tuple[Row, str]]:
    """Evaluate every (row, split) not yet in `results`, one job per model; each result row
    lands (samples first) as its job finishes. Returns what was to do."""
    cfg, out = ctx.cfg, ctx.out
    catalog, own = task_of(cfg).catalog, cfg.model.base_model is None
    done = {(r["model"], r["library"], r["split"]) for r in results}
    todo = [(row, s) for row in rows for s in catalog.splits_for(row.model, own) if (*row.key, s) not in done]
    jobs, job_rows = [], []
    for row in rows:
        row_splits = tuple(s for r, s in todo if r is row)
        routes = row.library is not None and RECYCLERS.get(row.method).routes
        if row_splits or (routes and not trace_path(out, row).is_file()):
            jobs.append(partial(evaluate_row, row, build(row), row_splits, ctx))
            job_rows.append(row)
    with progress_bar("evaluating", len(todo)) as advance:
        for index, evaluated in runner.run(jobs):
            row = job_rows[index]
            for split, summary, samples in evaluated:
                ident = {"model": row.model, "library": row.library, "split": split}
                append_jsonl(out / SAMPLES_FILE, ({**ident, **s} for s in samples))
                append_jsonl(out / TIMINGS_FILE, [{**ident, **summary.pop("seconds")}])  # wall time: not a result
                result = {**common, **ident, "method": row.method, "data_requirement": row.data_requirement,
                          "data_access": row.data_access, **summary}
                ResultRow.model_validate(result)  # the documented schema, or fail before anything is written
                append_jsonl(out / RESULTS_FILE, [result])
                results.append(result)
                advance(info=f"{row.model} {row.library or ''} {split}")
    return todo


def _draw_routing_traces(out: Path) -> None:
    """The figure of every routing trace that has none yet (a resume draws only the new ones)."""
    for path in sorted((out / "routing").glob("*.json")):
        figure = inside(out, "figures", f"routing-{path.stem}.png")
        if not figure.is_file():
            trace = read_json(path)
            plot_routing_trace(trace, trace.get("title", f"routing trace: {path.stem}"), figure)
