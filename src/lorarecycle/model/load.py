"""Base model + tokenizer from a local HF causal-LM directory (our pretrained one, see
`train/pretrain.py`, or a user's): checked before any work, weights from safetensors only."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ..artifacts import read_json
from ..errors import UserError
from .device import current_device
from .precision import compute_dtype

BASE_META = "lorarecycle_base.json"


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
    if model.dtype != torch.float32:
        # LayerNorms stay fp32: a LoRA or routed layer adds its delta in fp32 and passes an fp32
        # sum on, which a bf16 LayerNorm refuses on CPU (GPT-2, OPT); an fp32 one takes either
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.float()
    return model.to(device).eval()
