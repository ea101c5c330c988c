"""Experiment configuration: pydantic models with unknown fields forbidden.

One YAML per experiment; presets live in `presets/*.yaml`. The resolved config and its
hash are saved next to every result. `sections` holds the model, LoRA, prompt, method
and evaluation sections (each task package holds its own: `world`, `math`); `training` how
each stage trains; `experiment` the whole config and its hash; `loading` presets and files.
"""

from .experiment import ExperimentConfig, stable_hash
from .loading import (load_config, load_preset, preset_mapping, preset_names, read_mapping, set_base_model,
                      validate_experiment)
from ..schema import SafeName, StrictModel, safe_name
from ..tasks.math import MathSpec
from ..tasks.two_hop import WorldSpec
from .sections import EvalSpec, LoraSpec, MethodSpec, ModelSpec, PromptSpec
from .training import ExpertTrainSpec, FullFineTuneSpec, PretrainSpec, TrainSpec

__all__ = ["EvalSpec", "ExperimentConfig", "ExpertTrainSpec", "FullFineTuneSpec", "LoraSpec", "MathSpec", "MethodSpec", "ModelSpec",
           "PretrainSpec", "PromptSpec", "SafeName", "StrictModel", "TrainSpec", "WorldSpec", "load_config",
           "load_preset", "preset_mapping", "preset_names", "read_mapping", "safe_name", "set_base_model",
           "stable_hash", "validate_experiment"]
