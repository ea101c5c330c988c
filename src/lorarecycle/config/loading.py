"""Configs from presets and YAML files: a preset as a base, a file's fields merged over it,
one-line errors naming the file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import UserError, invalid
from ..inputs import parse_yaml, read_yaml_mapping
from .experiment import ExperimentConfig


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("lorarecycle.presets").iterdir() if p.name.endswith(".yaml"))


def preset_mapping(name: str) -> dict:
    """A preset's raw YAML mapping (an experiment, or a grid when it has `axes`)."""
    if name not in preset_names():
        raise UserError(f"unknown preset {name!r}. Available: {', '.join(preset_names())}")
    return parse_yaml(resources.files("lorarecycle.presets").joinpath(f"{name}.yaml").read_text(), f"preset {name}") or {}


def load_preset(name: str) -> ExperimentConfig:
    return validate_experiment(preset_mapping(name), f"preset {name}")


def read_mapping(path: Path) -> dict:
    """A YAML file's top-level mapping, read strictly (a regular UTF-8 file, unique keys,
    bounded nesting), with one-line errors naming the file."""
    return read_yaml_mapping(path, "config")


def load_config(path: Path) -> ExperimentConfig:
    return validate_experiment(read_mapping(path), str(path))


def validate_experiment(data: Any, source: str) -> ExperimentConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{source}: the config must be a YAML mapping")
    data = dict(data)
    preset = data.pop("preset", None)
    if preset is not None:
        base = load_preset(preset).model_dump(mode="json")
        data = _deep_merge(base, data)
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise invalid(source, err) from None


# Mappings an override replaces as a whole (a user's libraries do not add to the preset's).
REPLACED_KEYS = ("libraries",)


def _deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in REPLACED_KEYS:
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def set_base_model(mapping: dict, base_model: Path) -> dict:
    """A config mapping with model.base_model set (the --base-model flag)."""
    model = dict(mapping.get("model") or {})
    model["base_model"] = str(Path(base_model).resolve())
    return {**mapping, "model": model}
