"""Routing traces: which expert each layer's router weights on each token of a two-hop
prompt, teacher-forced on the gold text, summarised per segment of the text.

Segments of a chain-of-thought text: the question, the first hop sentence ("The r1 of A
is B."), the second ("The r2 of B is C."), and the final answer; a direct text has the
question and the answer. A router that composes should move weight from the hop-1 expert
to the hop-2 expert where the second hop begins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..model.precision import autocast
from ..model.prompting import encode
from ..tasks.example import Example

_LAYER = re.compile(r"\.(?:layers?|h|blocks?)\.(\d+)\.")  # Llama-style, GPT-2 (h.N)


def segments(ex: Example) -> list[tuple[str, int, int]]:
    """(name, start, end) character spans of prompt + completion."""
    start = len(ex.prompt)
    if ex.kind != "cot":
        return [("question", 0, start), ("answer", start, len(ex.text))]
    hop1_end = start + ex.completion.index(".") + 1
    hop2_end = hop1_end + ex.completion[hop1_end - start :].index(".") + 1
    return [("question", 0, start), ("hop1", start, hop1_end), ("hop2", hop1_end, hop2_end),
            ("answer", hop2_end, len(ex.text))]


def layer_gates(record: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean gate over the adapted modules of each layer: (n_layers, batch, seq, E)."""
    by_layer: dict[int, list[torch.Tensor]] = {}
    for name, gates in record.items():
        match = _LAYER.search(name)
        by_layer.setdefault(int(match.group(1)) if match else -1, []).append(gates)
    return torch.stack([torch.stack(by_layer[k]).mean(0) for k in sorted(by_layer)])


def trace_examples(model, tokenizer: PreTrainedTokenizerBase, examples: Sequence[Example],
                   expert_names: Sequence[str]) -> dict:
    """Per example: tokens, segment of each token, gates (layers x tokens x experts);
    and the mean weight of each expert per segment over all examples."""
    device = next(model.parameters()).device
    traces, sums, counts = [], {}, {}
    for ex in examples:
        enc = encode(tokenizer, ex.text, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0].tolist()
        prompt_length = len(encode(tokenizer, ex.prompt)["input_ids"])
        with autocast(device):
            gates = layer_gates(model.trace(enc["input_ids"].to(device), enc["attention_mask"].to(device),
                                            prompt_length))[:, 0]
        spans = segments(ex)
        token_segments = [next((name for name, s, e in spans if s <= a < e), "special") if b > a else "special"
                          for a, b in offsets]
        for i, seg in enumerate(token_segments):
            seg = f"{ex.kind}/{seg}"
            sums[seg] = sums.get(seg, 0) + gates[:, i].mean(0)
            counts[seg] = counts.get(seg, 0) + 1
        traces.append({"id": ex.id, "kind": ex.kind,
                       "tokens": tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist()),
                       "segments": token_segments, "gates": gates.tolist()})
    summary = {seg: dict(zip(expert_names, (sums[seg] / counts[seg]).tolist())) for seg in sums if not seg.endswith("/special")}
    return {"experts": list(expert_names), "segment_means": summary, "examples": traces}
