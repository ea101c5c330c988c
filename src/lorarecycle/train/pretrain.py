"""Pretrain the built-in model once per configuration, cached by content hash: the base
whose every training token we know."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from functools import partial
from pathlib import Path

from ..artifacts import atomic_dir, check_output_dir, file_lock, write_json
from ..cache import CACHE_VERSION
from ..config import ExperimentConfig, stable_hash
from ..model.device import current_device
from ..model.load import BASE_META, check_model_dir, safetensors_problem
from ..model.precision import current_precision
from ..model.tiny import build_tiny_llama
from ..model.tokenizer import build_tokenizer
from ..parallel import threads
from ..runtime import cache_root
from ..seeding import derive_seed
from ..tasks.example import Example
from ..tasks import task_of
from ..ui import console
from .trainer import train_causal_lm

# Pretraining on a CPU computes with this many threads whatever the machine: the weight
# gradients' reductions are split by thread count, so the base's last bits (and through them
# rows that sit on a gate's edge) would otherwise follow the core count and the grid's
# executor, which the cache key does not hold. Two is the committed artifacts' count (2-core
# CPUs); on a one-core slot two threads run time-sliced (default shape ~8% slower a step
# than one; tiny shapes pay more when another process shares the cores).
PRETRAIN_THREADS = 2
LAYOUT_CHUNK = 1024  # warmup sequences drawn per pass: names unique within a pass (math has ~4900 one-word names)

Fresh = Callable[[int], list[Example]]  # epoch -> examples seen in that epoch only
Layout = Callable[[int, int], list[Example]]  # (n, pass) -> fixed-layout in-context sequences


def base_model_key(cfg: ExperimentConfig) -> str:
    """Everything the pretrained weights depend on."""
    spec = cfg.model.model_dump(mode="json", exclude={"base_model"})
    device = current_device().type
    return stable_hash(
        {"v": CACHE_VERSION, "task": cfg.task, **task_of(cfg).pretraining_sections(cfg),
         "model": spec,
         "pretrain": cfg.pretrain.model_dump(mode="json"), "seed": cfg.seed, "precision": current_precision(),
         # a GPU pretrains other weights than a CPU from the same config (measured: Gate 0's
         # composition in context 0.08 on an H200 against 0.03 on a Xeon, docs/results/gate-probes),
         # so a cache shared between them must not hand one's base to the other
         "device": device}
    )


def prepare_base(cfg: ExperimentConfig, pretrain_corpus: list[Example], fresh: Fresh | None = None,
                 layout: Layout | None = None) -> Path:
    """Path of the base model directory, pretraining the built-in model if not cached.
    `fresh(epoch)` adds examples seen in that epoch only (see `train_causal_lm`); `layout`
    gives the warmup stage's sequences (`pretrain.layout_warmup_steps`)."""
    if cfg.model.base_model is not None:
        return check_model_dir(Path(cfg.model.base_model))
    path = Path(cache_root()) / "base" / base_model_key(cfg)
    check_output_dir(path, "cache directory")
    with file_lock(path):
        if not cached_base_ok(path):
            if path.exists():
                console.print(f"cached base model {path} is damaged; pretraining it again", markup=False)
            _pretrain(cfg, pretrain_corpus, fresh, layout, path)
    return path


def cached_base_ok(path: Path) -> bool:
    """A finished pretraining whose weights file opens: a truncated or corrupt cache entry
    (a full disk, a killed copy) is rebuilt instead of failing every later run."""
    return (path / BASE_META).is_file() and safetensors_problem(path / "model.safetensors") is None


def pretrain_model(model, tokenizer, cfg: ExperimentConfig, corpus: list[Example], fresh: Fresh | None,
                   layout: Layout | None, monitor=None) -> dict:
    """Train the freshly initialised model in place: the fixed-layout warmup (if any), then
    the corpus with `fresh` sequences each epoch; returns the training statistics."""
    spec, seed = cfg.pretrain, derive_seed(cfg.seed, "pretrain")
    warmup_stats = None
    if layout is not None and spec.incontext_loss == "answer":
        layout = partial(answers_only, layout)
    if spec.layout_warmup_steps:
        if layout is None:
            raise ValueError("pretrain.layout_warmup_steps needs the task's fixed-layout sequences")
        n = spec.layout_warmup_steps * spec.batch_size
        passes = -(-n // LAYOUT_CHUNK)
        warmup = spec.model_copy(update={"epochs": passes})
        warmup_stats = train_causal_lm(
            model, tokenizer, [], warmup, derive_seed(seed, "layout"), "pretraining: fixed-layout warmup",
            loss_on_prompt=True, fresh=partial(layout, -(-n // passes)),
        )
    stats = train_causal_lm(model, tokenizer, corpus, spec, seed, "pretraining base model", loss_on_prompt=True,
                            fresh=fresh, monitor=monitor)
    return {**stats, **({"layout_warmup": warmup_stats} if warmup_stats else {})}


def pretraining_material(cfg: ExperimentConfig, world, corpus: list[Example]) -> tuple[list[Example], Fresh]:
    """What the main pretraining stage reads: the task's corpus (plus each fact's single-hop
    CoT form with `pretrain.cot_form`) and, every epoch, fresh in-context sequences (plus each
    fact as a two-hop CoT's second step with `pretrain.chain_form`, its invented first step
    context only, as `experts.chain_loss: second_step` trains it)."""
    task, spec = task_of(cfg), cfg.pretrain
    facts = [ex for ex in corpus if ex.kind == "fact"]
    if spec.cot_form:
        corpus = corpus + [form for ex in facts if (form := task.cot_form(ex)) is not None]
    fresh = partial(task.incontext, world, cfg.world.n_incontext)
    if spec.incontext_loss == "answer":
        fresh = partial(answers_only, fresh)
    if spec.chain_form:
        chains = partial(task.chain_forms, world, facts, derive_seed(cfg.seed, "pretrain", "chain-forms"),
                         loss="second_step")
        fresh = partial(_joined, fresh, chains)
    return corpus, fresh


def answers_only(make: Callable[..., list[Example]], *args) -> list[Example]:
    """`make(*args)`'s examples with loss on their completions only (`pretrain.incontext_loss: answer`)."""
    return [replace(ex, loss_on_prompt=False) for ex in make(*args)]


def _joined(first: Fresh, second: Fresh, epoch: int) -> list[Example]:
    return first(epoch) + second(epoch)


def _pretrain(cfg: ExperimentConfig, pretrain_corpus: list[Example], fresh: Fresh | None, layout: Layout | None,
              path: Path) -> None:
    tokenizer = build_tokenizer(task_of(cfg).vocabulary(cfg))
    device = current_device()
    model = build_tiny_llama(cfg.model, tokenizer, derive_seed(cfg.seed, "init")).to(device)
    with threads(PRETRAIN_THREADS) if device.type == "cpu" else nullcontext():
        stats = pretrain_model(model, tokenizer, cfg, pretrain_corpus, fresh, layout)
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / BASE_META, {"key": path.name, "pretrain": stats, "config": cfg.model_dump(mode="json")})
