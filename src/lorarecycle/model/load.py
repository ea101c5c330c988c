"""Base model + tokenizer: pretrain the built-in model once (cached by content hash), or
load any local HF causal-LM directory. Weights are read from safetensors only."""

from __future__ import annotations

import json

from collections.abc import Callable
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ..artifacts import atomic_dir, check_output_dir, file_lock, read_json, write_json
from ..config import ExperimentConfig, stable_hash
from ..errors import UserError
from ..runtime import cache_root
from ..seeding import derive_seed
from ..ui import console
from ..tasks.datasets import Example
from ..train.trainer import train_causal_lm
from .device import current_device
from .precision import compute_dtype, current_precision
from .tiny import build_tiny_llama
from .tokenizer import build_tokenizer

BASE_META = "lorarecycle_base.json"
FORMAT_VERSION = 2  # 2: fresh in-context sequences every pretraining epoch


def base_model_key(cfg: ExperimentConfig) -> str:
    """Everything the pretrained weights depend on."""
    spec = cfg.model.model_dump(mode="json", exclude={"base_model"})
    return stable_hash(
        {"v": FORMAT_VERSION, "task": cfg.task, "world": cfg.world.model_dump(mode="json"),
         **({"math": cfg.math.model_dump(mode="json")} if cfg.task == "math" else {}), "model": spec,
         "pretrain": cfg.pretrain.model_dump(mode="json"), "seed": cfg.seed, "precision": current_precision()}
    )


def prepare_base(cfg: ExperimentConfig, pretrain_corpus: list[Example],
                 fresh: Callable[[int], list[Example]] | None = None) -> Path:
    """Path of the base model directory, pretraining the built-in model if not cached.
    `fresh(epoch)` adds examples seen in that epoch only (see `train_causal_lm`)."""
    if cfg.model.base_model is not None:
        return check_model_dir(Path(cfg.model.base_model))
    path = Path(cache_root()) / "base" / base_model_key(cfg)
    check_output_dir(path, "cache directory")
    with file_lock(path):
        if not cached_base_ok(path):
            if path.exists():
                console.print(f"cached base model {path} is damaged; pretraining it again", markup=False)
            _pretrain(cfg, pretrain_corpus, fresh, path)
    return path


def cached_base_ok(path: Path) -> bool:
    """A finished pretraining whose weights file opens: a truncated or corrupt cache entry
    (a full disk, a killed copy) is rebuilt instead of failing every later run."""
    return (path / BASE_META).is_file() and safetensors_problem(path / "model.safetensors") is None


def safetensors_problem(file: Path) -> str | None:
    """Why `file` cannot be read as safetensors (header and every tensor's extent), or None.
    Reads the header only: cheap even for large checkpoints."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(file, "pt") as f:
            for key in f.keys():
                f.get_slice(key)
        return None
    except (OSError, SafetensorError) as err:
        return str(err).splitlines()[0] if str(err) else type(err).__name__


def _pretrain(cfg: ExperimentConfig, pretrain_corpus: list[Example], fresh: Callable[[int], list[Example]] | None,
              path: Path) -> None:
    from ..tasks.registry import task_of  # the task registry imports the config, as this module does

    tokenizer = build_tokenizer(task_of(cfg).vocabulary(cfg))
    model = build_tiny_llama(cfg.model, tokenizer, derive_seed(cfg.seed, "init")).to(current_device())
    stats = train_causal_lm(
        model, tokenizer, pretrain_corpus, cfg.pretrain, derive_seed(cfg.seed, "pretrain"),
        "pretraining base model", loss_on_prompt=True, fresh=fresh,
    )
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / BASE_META, {"key": path.name, "pretrain": stats, "config": cfg.model_dump(mode="json")})


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def check_model_dir(path: Path) -> Path:
    """A loadable HF directory, checked before any work: config, tokenizer, safetensors weights."""
    if not (path / "config.json").is_file():
        raise UserError(f"--base-model {path}: not a Hugging Face model directory (no config.json)")
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"--base-model {path / 'config.json'}: unreadable ({err})") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        raise UserError(f"--base-model {path / 'config.json'}: not a model config (a JSON object with model_type)")
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        found = " (found PyTorch .bin weights: only safetensors are loaded, never pickles)" \
            if list(path.glob("*.bin")) else ""
        raise UserError(f"--base-model {path}: no *.safetensors weights{found}")
    for file in weights:
        problem = safetensors_problem(file)
        if problem:
            raise UserError(f"--base-model {file}: unreadable safetensors ({problem})")
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise UserError(f"--base-model {path}: no tokenizer ({' / '.join(TOKENIZER_FILES)}); "
                        "save it next to the model with tokenizer.save_pretrained(DIR)")
    return path


def base_meta(path: Path) -> dict:
    meta = Path(path) / BASE_META
    return read_json(meta) if meta.is_file() else {}


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot load a tokenizer ({str(err).splitlines()[0]})") from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(path: Path, dtype: torch.dtype | None = None) -> PreTrainedModel:
    """The model on the run's device, in `dtype` (default: the run's compute precision)."""
    device = current_device()
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=dtype or compute_dtype(), use_safetensors=True, trust_remote_code=False, attn_implementation="sdpa"
        )
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot load model ({str(err).splitlines()[0]})") from None
    return model.to(device).eval()
