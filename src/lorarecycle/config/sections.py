"""The sections of an experiment config other than training and the tasks' own sections:
the model, LoRA, prompts, methods, evaluation. Unknown fields are refused."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ..schema import SafeName, StrictModel


class ModelSpec(StrictModel):
    base_model: str | None = Field(None, description="local HF causal-LM directory; None = built-in tiny model")
    hidden_size: int = Field(256, ge=2, le=65536)
    num_layers: int = Field(4, ge=1, le=1024)
    num_heads: int = Field(4, ge=1)
    intermediate_size: int = Field(512, ge=1, le=262144)
    max_positions: int = Field(128, ge=8, le=1 << 20)

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> ModelSpec:
        head_dim, rest = divmod(self.hidden_size, self.num_heads)
        if rest or head_dim % 2:  # rotary embeddings rotate pairs of a head's dimensions
            raise ValueError(f"hidden_size {self.hidden_size} must be num_heads ({self.num_heads}) times an even "
                             "head size")
        return self


class LoraSpec(StrictModel):
    r: int = Field(16, ge=1)
    alpha: float = Field(32.0, gt=0, le=1e5, description="scale alpha / r (rsLoRA-size values stay far below 1e5)")
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | Literal["auto"] = Field(
        "auto", description="module names to adapt; auto = every attention and MLP linear layer of the architecture")

    @field_validator("target_modules")
    @classmethod
    def _nonempty(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("give at least one module name, or auto")
        return value


class PromptSpec(StrictModel):
    format: Literal["auto", "plain", "chat"] = Field(
        "auto", description="plain text, or the tokenizer's chat template; auto = chat when the tokenizer has one")
    system: str | None = Field(None, description="system message for chat prompts (none by default)")
    shots: int = Field(
        0, ge=0, le=16, description="format demonstrations before each evaluated question: this many examples of "
        "the same kind, from the few-shot chains only (never a test chain); for real LMs that do not know the "
        "answer format (the built-in model is pretrained on it)")


class MethodSpec(StrictModel):
    name: SafeName
    label: SafeName | None = Field(None, description="row name in results; defaults to the method name")
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def row_name(self) -> str:
        return self.label or self.name


class EvalSpec(StrictModel):
    batch_size: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        128, description="sequences per decoding batch; auto = from free memory")
    max_new_tokens_direct: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        12, description="generation budget of direct answers; auto = the split's longest gold completion in the "
        "model's tokens, plus a margin (for tokenizers whose names take many tokens)")
    max_new_tokens_cot: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(48, description="the same for CoT")
    loglik_choices: int = Field(
        0, ge=0, description="also rank the gold answer of direct questions among this many answers of the split by "
        "log-likelihood (generation-free; 0 = off, else >= 2)")

    @field_validator("loglik_choices")
    @classmethod
    def _two_or_more(cls, k: int) -> int:
        if k == 1:
            raise ValueError("loglik_choices must be 0 (off) or at least 2 (the gold answer and one other)")
        return k


