"""How task examples are shown to a model: plain text for base LMs, or the model's own
chat template (`apply_chat_template`) for instruct models.

Rendering happens once, between the tasks and every model stage (training, few-shot
search, decoding, traces), so all of them see the same text; the raw examples stay in
`data/*.jsonl`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from transformers import BatchEncoding, PreTrainedTokenizerBase

from ..config import PromptSpec
from ..errors import UserError
from ..seeding import derive_seed, make_rng
from ..tasks.example import Example

# The user turn states the expected answer form; the raw prompt's own cue ("Answer:",
# "Reasoning:") stays, so plain and chat runs ask the same question.
INSTRUCTIONS = {
    "fact": "Complete the sentence.",
    "direct": "Reply with the answer only.",
    "cot": "Think step by step, then end with: So the answer is <answer>.",
}


# Between solved examples in a plain few-shot prompt; a model that continues the pattern
# writes it after its answer, so decoding stops there (lm-evaluation-harness's `until`)
DEMO_SEPARATOR = "\n\n"


def resolve_format(spec: PromptSpec, tokenizer: PreTrainedTokenizerBase) -> str:
    """`plain` or `chat`; `auto` is chat exactly when the tokenizer ships a chat template."""
    if spec.format != "auto":
        return spec.format
    return "chat" if getattr(tokenizer, "chat_template", None) else "plain"


def render_example(ex: Example, tokenizer: PreTrainedTokenizerBase, spec: PromptSpec, fmt: str,
                   demos: Sequence[Example] = ()) -> Example:
    """The example as the model sees it; `demos` (solved examples of the same kind) come
    first: as earlier turns in chat, as solved text blocks in plain format."""
    if fmt == "plain":
        if not demos:
            return ex
        shown = "".join(f"{d.prompt}{d.completion}{DEMO_SEPARATOR}" for d in demos)
        return replace(ex, prompt=f"{shown}{ex.prompt}")
    messages = [{"role": "system", "content": spec.system}] if spec.system else []
    for d in demos:
        messages += [{"role": "user", "content": _user_turn(d)}, {"role": "assistant", "content": d.completion.strip()}]
    messages.append({"role": "user", "content": _user_turn(ex)})
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return replace(ex, prompt=prompt, completion=ex.completion.lstrip())


def _user_turn(ex: Example) -> str:
    return f"{INSTRUCTIONS.get(ex.kind, '')}\n{ex.prompt}".strip()


def demonstrations(pool: Sequence[Example], shots: int, seed: int) -> Callable[[Example], list[Example]]:
    """For each question, `shots` solved examples of its kind drawn from `pool` (the
    few-shot chains), fixed per question id, so every model sees the same demonstrations."""
    by_kind: dict[str, list[Example]] = {}
    for ex in pool:
        by_kind.setdefault(ex.kind, []).append(ex)

    def pick(ex: Example) -> list[Example]:
        candidates = by_kind.get(ex.kind, [])
        return make_rng(seed, "shots", ex.id).sample(candidates, min(shots, len(candidates)))

    return pick


def after_demonstrations(pool: Sequence[Example], shots: int, examples: Sequence[Example], seed: int,
                         epoch: int) -> list[Example]:
    """Each example after `shots` solved examples of its kind from `pool`, in plain text as the
    evaluation renders them, drawn anew for `epoch` (training material of `replay_after_demos`).
    The prompt, demonstrations included, is context: loss on the answer only, so the few-shot
    chains' own facts are not trained as facts."""
    pick = demonstrations(pool, shots, derive_seed(seed, "training demonstrations", str(epoch)))
    return [replace(render_example(ex, None, None, "plain", pick(ex)), id=f"demos:{ex.id}", loss_on_prompt=False)
            for ex in examples]


def render_datasets(datasets: dict[str, list[Example]], tokenizer: PreTrainedTokenizerBase,
                    spec: PromptSpec, evaluated: Sequence[str] = (), pool: Sequence[Example] = (),
                    seed: int = 0, split_pools: Mapping[str, Sequence[Example]] | None = None,
                    ) -> tuple[str, dict[str, list[Example]]]:
    """(format used, every dataset rendered for the model); the `evaluated` splits get
    `spec.shots` demonstrations before each question: from `split_pools[split]` where given
    (demonstrations in the split's own form, e.g. with facts stated in context), else from `pool`."""
    fmt = resolve_format(spec, tokenizer)
    if fmt == "chat" and not getattr(tokenizer, "chat_template", None):
        raise UserError("prompt.format chat: the base model's tokenizer has no chat template")
    split_pools = split_pools or {}

    def picker(name: str) -> Callable[[Example], list[Example]]:
        if not spec.shots or name not in evaluated:
            return lambda ex: []
        return demonstrations(split_pools.get(name, pool), spec.shots, seed)

    rendered = {}
    for name, examples in datasets.items():
        pick = picker(name)
        rendered[name] = [render_example(ex, tokenizer, spec, fmt, pick(ex)) for ex in examples]
    return fmt, rendered


def encode(tokenizer: PreTrainedTokenizerBase, texts: str | Sequence[str], **kwargs) -> BatchEncoding:
    """Tokenize model inputs; text rendered by a chat template already holds the BOS
    token, so the tokenizer must not add a second one."""
    first = texts if isinstance(texts, str) else texts[0]
    bos = tokenizer.bos_token
    return tokenizer(texts if isinstance(texts, str) else list(texts),
                     add_special_tokens=not (bos and first.startswith(bos)), **kwargs)
