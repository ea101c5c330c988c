"""The pipeline's independent jobs, as picklable functions so `parallel.run_jobs` can run
them in worker processes: train one adapter (or the full fine-tune), build and evaluate
one model (figures are the report stage's)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .adapters.experts import expert_meta, train_expert
from .adapters.recipe import Recipe
from .artifacts import file_lock, inside, write_json
from .config import ExperimentConfig, LoraSpec, TrainSpec
from .evaluate.evaluator import evaluate_split
from .evaluate.monitor import HeldOutMonitor
from .evaluate.trace import trace_examples
from .model.load import load_tokenizer, safetensors_problem
from .recycle.build import RECYCLERS
from .recycle.routing.model import RoutedModel
from .tasks.example import Example
from .tasks import task_of
from .train.full import full_ft_meta, train_full
from .plan import Row
from .ui import console

TRACE_EXAMPLES = 2  # chain-of-thought prompts traced per routed model (plus one direct)


def reusable(path: Path, key: str, meta: Callable[[Path], dict | None], weights: str, notice: bool = False) -> bool:
    """A stored adapter/model for this key whose weights still read: a damaged one (a full
    disk, a killed copy) is trained again, with a one-line notice, instead of failing later."""
    try:
        if (meta(path) or {}).get("key") != key:
            return False
    except (ValueError, AttributeError):  # a corrupt metadata file, or one that is not a JSON object
        return False
    problem = safetensors_problem(path / weights)
    if problem and notice:
        console.print(f"{path} is damaged ({problem}); training it again", markup=False)
    return problem is None


def train_adapter_once(base_path: Path, recipe: Recipe, lora: LoraSpec, train: TrainSpec, seed: int,
                       path: Path, name: str, key: str, monitor: HeldOutMonitor) -> None:
    """Train the adapter unless `path` already holds it (cells of a sweep share adapters)."""
    with file_lock(path):
        if not reusable(path, key, expert_meta, "adapter_model.safetensors"):
            train_expert(base_path, recipe.fixed, lora, train, seed, path, name, key, recipe.loss_on_prompt, monitor,
                         recipe.regroup)


def train_full_once(base_path: Path, recipe: Recipe, spec: TrainSpec, seed: int, path: Path, key: str,
                    monitor: HeldOutMonitor) -> None:
    with file_lock(path):
        if not reusable(path, key, full_ft_meta, "model.safetensors"):
            train_full(base_path, recipe.fixed, spec, seed, path, key, recipe.loss_on_prompt, monitor, recipe.regroup)


@dataclass(frozen=True)
class EvalContext:
    """What every evaluation job shares."""

    cfg: ExperimentConfig
    base_path: Path
    out: Path
    datasets: dict[str, list[Example]]
    entities: frozenset[str]
    stop: tuple[str, ...] = ()  # where a generation ends besides EOS (a plain few-shot prompt's separator)


def trace_path(out: Path, row: Row) -> Path:
    return inside(out, "routing", f"{row.trace_name}.json")


def trace_routing(model: RoutedModel, tokenizer, ctx: EvalContext, row: Row) -> None:
    """Routing trace of a routed model on the first test questions (CoT and direct); the
    report stage draws its figure."""
    direct, cot = task_of(ctx.cfg).catalog.composed
    examples = ctx.datasets[cot][:TRACE_EXAMPLES] + ctx.datasets[direct][:1]
    trace = trace_examples(model, tokenizer, examples, model.expert_names)
    write_json(trace_path(ctx.out, row), {**trace, "title": f"routing trace: {row.model} [{row.library}] "
                                                            "(teacher-forced gold text)"})


def evaluate_row(row: Row, build: Callable[[], torch.nn.Module], splits: tuple[str, ...],
                 ctx: EvalContext) -> list[tuple[str, dict, list[dict]]]:
    """Build the row's model, trace its routing if it routes and has no trace yet, and
    evaluate it on `splits`: [(split, summary, samples)]. The first split's summary also
    holds the build's wall time (a merge, a search) under "seconds"."""
    task = task_of(ctx.cfg)
    tokenizer = load_tokenizer(ctx.base_path)
    started = time.perf_counter()
    model = build()
    built = round(time.perf_counter() - started, 2)
    # a routing method built through PEFT (arrow_peft) has no gates of ours to trace
    routes = row.library is not None and RECYCLERS.get(row.method).routes
    if routes and isinstance(model, RoutedModel) and not trace_path(ctx.out, row).is_file():
        trace_routing(model, tokenizer, ctx, row)
    out = []
    for split in splits:
        summary, samples = evaluate_split(model, tokenizer, ctx.datasets[split], ctx.cfg.eval, set(ctx.entities),
                                          task.cot_steps, ctx.stop)
        if isinstance(model, RoutedModel) and model.selector is not None:
            summary["selected"] = model.pop_choices()
        if not out:
            summary["seconds"]["build"] = built
        out.append((split, summary, samples))
    return out
