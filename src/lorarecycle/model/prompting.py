"""How task examples are shown to a model: plain text for base LMs, or the model's own
chat template (`apply_chat_template`) for instruct models.

Rendering happens once, between the tasks and every model stage (training, few-shot
search, decoding, traces), so all of them see the same text; the raw examples stay in
`data/*.jsonl`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from transformers import BatchEncoding, PreTrainedTokenizerBase

from ..config import PromptSpec
from ..errors import UserError
from ..tasks.datasets import Example

# The user turn states the expected answer form; the raw prompt's own cue ("Answer:",
# "Reasoning:") stays, so plain and chat runs ask the same question.
INSTRUCTIONS = {
    "fact": "Complete the sentence.",
    "direct": "Reply with the answer only.",
    "cot": "Think step by step, then end with: So the answer is <answer>.",
}


def resolve_format(spec: PromptSpec, tokenizer: PreTrainedTokenizerBase) -> str:
    """`plain` or `chat`; `auto` is chat exactly when the tokenizer ships a chat template."""
    if spec.format != "auto":
        return spec.format
    return "chat" if getattr(tokenizer, "chat_template", None) else "plain"


def render_example(ex: Example, tokenizer: PreTrainedTokenizerBase, spec: PromptSpec, fmt: str) -> Example:
    if fmt == "plain":
        return ex
    messages = [{"role": "system", "content": spec.system}] if spec.system else []
    messages.append({"role": "user", "content": f"{INSTRUCTIONS.get(ex.kind, '')}\n{ex.prompt}".strip()})
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return replace(ex, prompt=prompt, completion=ex.completion.lstrip())


def render_datasets(datasets: dict[str, list[Example]], tokenizer: PreTrainedTokenizerBase,
                    spec: PromptSpec) -> tuple[str, dict[str, list[Example]]]:
    """(format used, every dataset rendered for the model)."""
    fmt = resolve_format(spec, tokenizer)
    if fmt == "chat" and not getattr(tokenizer, "chat_template", None):
        raise UserError("prompt.format chat: the base model's tokenizer has no chat template")
    return fmt, {name: [render_example(ex, tokenizer, spec, fmt) for ex in examples]
                 for name, examples in datasets.items()}


def encode(tokenizer: PreTrainedTokenizerBase, texts: str | Sequence[str], **kwargs) -> BatchEncoding:
    """Tokenize model inputs; text rendered by a chat template already holds the BOS
    token, so the tokenizer must not add a second one."""
    first = texts if isinstance(texts, str) else texts[0]
    bos = tokenizer.bos_token
    return tokenizer(texts if isinstance(texts, str) else list(texts),
                     add_special_tokens=not (bos and first.startswith(bos)), **kwargs)
