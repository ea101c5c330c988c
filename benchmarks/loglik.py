"""Log-likelihood ranking after a few-shot prompt: the prompt read once per question (its KV
cache repeated for the k choices, `shared_prompt_logprobs`), and also the choices' shared first
tokens read once (the chain of thought up to the substituted answer), against the baseline measured in
the same run, every (prompt, choice) pair scored as its own sequence (`continuation_logprobs`,
the path routed models took before they read prompts once too). Shapes like the real-LM grid's
CoT rows: a 3-shot prompt of ~250 tokens, 5 choices of ~40 tokens. Randomly initialised
SmolLM2-135M shape (`random_hf`, shape "smol"; a BPE tokenizer trained on the texts), or
`--model DIR` (e.g. the one `make smollm2` builds); `--routing arrow|select_arrow` scores a
routed model over two random rank-16 LoRAs instead of the base. Medians over --repeats, the
CPU named, the largest score difference.

    python benchmarks/loglik.py --repeats 3 [--routing select_arrow]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model

from lorarecycle.evaluate.loglik import continuation_logprobs, shared_prompt_logprobs
from lorarecycle.model.load import load_base, load_tokenizer
from lorarecycle.model.precision import cpu_description
from lorarecycle.model.random_hf import build_random_causal_lm
from lorarecycle.model.targets import resolve_target_modules
from lorarecycle.recycle.routing.layer import Router
from lorarecycle.recycle.routing.model import arrow_selector, build_routed_model
from lorarecycle.runtime import configure_runtime
from lorarecycle.tasks.names import unique_names
from lorarecycle.tasks.text import TEMPLATE_WORDS
from lorarecycle.tasks.two_hop import templates as T


def questions(n: int, k: int, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """n CoT prompts of three solved examples then a question; k completions each (the gold
    one with each of k answers substituted)."""
    rng = random.Random(seed)
    names = unique_names(rng, 3 * (n + 3) + k, set(TEMPLATE_WORDS))

    def solved(a: str, b: str, c: str) -> str:
        return T.cot_prompt("mentor", "employer", a) + T.cot_completion("mentor", "employer", a, b, c)

    prompts, continuations = [], []
    for i in range(n):
        shots = "".join(solved(*rng.sample(names, 3)) + "\n\n" for _ in range(3))
        a, b = names[3 * i], names[3 * i + 1]
        prompts.append(shots + T.cot_prompt("mentor", "employer", a))
        continuations.append([T.cot_completion("mentor", "employer", a, b, c) for c in rng.sample(names, k)])
    return prompts, continuations


def routed(path: Path, kind: str, root: Path) -> torch.nn.Module:
    """The base routed over two random rank-16 LoRAs on every linear layer: Arrow per token
    (top 1), or select-Arrow (one expert per query, chosen on the prompt)."""
    experts = []
    for i in range(2):
        torch.manual_seed(i)
        base = load_base(path, dtype=torch.float32)
        config = LoraConfig(r=16, lora_alpha=32, target_modules=resolve_target_modules(base, "auto"),
                            init_lora_weights=False)
        get_peft_model(base, config).save_pretrained(root / f"e{i}")
        experts.append(root / f"e{i}")
    return build_routed_model(load_base(path, dtype=torch.float32), experts, ["e0", "e1"], Router(2, "token", top_k=1),
                              selector=arrow_selector("select") if kind == "select_arrow" else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an HF model directory (default: random weights, SmolLM2 shape)")
    parser.add_argument("--questions", type=int, default=32)
    parser.add_argument("--choices", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--routing", choices=("none", "arrow", "select_arrow"), default="none")
    args = parser.parse_args()
    configure_runtime()
    prompts, continuations = questions(args.questions, args.choices)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or build_random_causal_lm("llama", Path(tmp) / "smol", prompts + sum(continuations, []),
                                                    shape="smol", vocab_size=2000)
        model = load_base(path, dtype=torch.float32) if args.routing == "none" else routed(path, args.routing, Path(tmp))
        model, tokenizer = model.eval(), load_tokenizer(path)
        pairs = [(p, c) for p, cs in zip(prompts, continuations) for c in cs]
        timings: dict[str, list[float]] = {"per pair (baseline)": [], "prompt read once": [],
                                           "+ shared tokens once": []}
        for _ in range(args.repeats):
            started = time.perf_counter()
            baseline = continuation_logprobs(model, tokenizer, pairs, args.batch_size)
            timings["per pair (baseline)"].append(time.perf_counter() - started)
            started = time.perf_counter()
            whole = shared_prompt_logprobs(model, tokenizer, prompts, continuations, args.batch_size,
                                           share_prefixes=False)
            timings["prompt read once"].append(time.perf_counter() - started)
            started = time.perf_counter()
            shared = shared_prompt_logprobs(model, tokenizer, prompts, continuations, args.batch_size)
            timings["+ shared tokens once"].append(time.perf_counter() - started)
    difference = max(abs(a - b) for scores in (whole, shared) for a, b in zip(baseline, sum(scores, [])))
    cpu = cpu_description()
    print(f"{cpu['cpu']} ({cpu['capability']}, {cpu['threads']} threads); "
          f"{path if args.model else 'random weights, SmolLM2-135M shape'}, fp32, routing: {args.routing}")
    print(f"{args.questions} questions x {args.choices} choices, batch {args.batch_size}, median of {args.repeats}")
    base = statistics.median(timings["per pair (baseline)"])
    for name, times in timings.items():
        median = statistics.median(times)
        print(f"  {name:22s} {median:7.2f} s  {base / median:5.2f}x the baseline")
    print(f"  largest score difference: {difference:.2e} nats")


if __name__ == "__main__":
    main()
