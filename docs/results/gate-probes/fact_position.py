"""Does a model recall a fact inside a chain of thought as well as at a sequence start?

For chains of a config's world, exact match of each fact asked alone ("The mentor of A is"),
the same fact inside the CoT with the text before it forced to the gold one (hop 1 after the
question and "Reasoning: the mentor of A is"; hop 2 after the gold first sentence too), and
the free CoT answer. Groups: the control's matched chains (facts seen only alone in
pretraining), its graph paths split by whether their facts also occur inside a pretraining CoT
text, and the test chains (whose facts only the references and experts learned). The split
reads pretraining paths only: with `pretrain.cot_form` / `chain_form` (the default since the
`pretrain-fact-forms` probe) every fact is also read inside a CoT, so "alone" means "in no
pretraining path" there.
The model: the config's cached base (run the config once first), a fine-tuned HF directory
(`--model`), or the base with a PEFT adapter folded in (`--adapter`):

    LORARECYCLE_CACHE=<cache> python docs/results/gate-probes/fact_position.py [CONFIG] \
        [--model DIR | --adapter DIR] [--precision fp32]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from peft import PeftModel

from lorarecycle.config import load_config, load_preset
from lorarecycle.evaluate.decode import greedy_decode
from lorarecycle.model.load import load_base, load_tokenizer
from lorarecycle.model.precision import set_precision
from lorarecycle.runtime import cache_root
from lorarecycle.tasks import templates as T
from lorarecycle.tasks.datasets import cot_example
from lorarecycle.tasks.templates import extract_answer, normalize
from lorarecycle.tasks.world import build_world
from lorarecycle.train.pretrain import base_model_key


def probes(c) -> dict[str, list[tuple[str, str, str]]]:
    """(prompt, answer, kind) of each measurement on chain `c`."""
    question = T.cot_prompt(c.r1, c.r2, c.a)
    inside1 = f"{question} {T.fact_prompt(c.r1, c.a)}"
    return {"hop 1 alone": [(T.fact_prompt(c.r1, c.a), c.b, "fact")],
            "hop 1 inside the CoT": [(inside1, c.b, "fact")],
            "hop 2 alone": [(T.fact_prompt(c.r2, c.b), c.c, "fact")],
            "hop 2 inside the CoT": [(f"{inside1} {c.b}. {T.fact_prompt(c.r2, c.b)}", c.c, "fact")],
            "CoT": [(cot_example(c).prompt, c.c, "cot")]}


def accuracy(model, tokenizer, items: list[tuple[str, str, str]], budget: int) -> float:
    generations = greedy_decode(model, tokenizer, [p for p, _, _ in items], budget, 128)
    return sum(extract_answer(g, kind) == normalize(a) for g, (_, a, kind) in zip(generations, items)) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", help="config file (default: the default preset)")
    parser.add_argument("--model", help="a fine-tuned HF model directory (e.g. a run's full_ft_replay)")
    parser.add_argument("--adapter", help="a PEFT adapter directory, folded into the config's base")
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    set_precision(args.precision)
    cfg = load_config(Path(args.config)) if args.config else load_preset("default")
    world = build_world(cfg.world, cfg.seed)
    base = Path(cache_root()) / "base" / base_model_key(cfg)
    path = Path(args.model) if args.model else base
    tokenizer, model = load_tokenizer(path), load_base(path, torch.float32)
    if args.adapter:
        model = PeftModel.from_pretrained(model, args.adapter).merge_and_unload()
    model.eval()
    in_cot = {f for c in world.group("pretrain") for f in c.facts()}
    control = world.group("control")
    groups = {"control: matched chains": [c for c in control if c.matched]}
    for hop1 in (True, False):
        for hop2 in (True, False):
            groups[f"control: graph paths, facts inside a pretraining CoT: hop 1 {'yes' if hop1 else 'no'}, hop 2 "
                   f"{'yes' if hop2 else 'no'}"] = [c for c in control if not c.matched and
                                                   (c.facts()[0] in in_cot, c.facts()[1] in in_cot) == (hop1, hop2)]
    groups["test chains"] = world.group("test")
    columns = list(probes(control[0]))
    print(f"model {args.adapter or path} (config {cfg.name}, seed {cfg.seed}; base {base.name})\n")
    print("| chains | n | " + " | ".join(columns) + " |\n|---|---:|" + "---:|" * len(columns))
    with torch.no_grad():
        for name, chains in groups.items():
            if not chains:
                continue
            items = [probes(c) for c in chains]
            cells = [accuracy(model, tokenizer, [i for p in items for i in p[col]],
                              cfg.eval.max_new_tokens_cot if col == "CoT" else cfg.eval.max_new_tokens_direct)
                     for col in columns]
            print(f"| {name} | {len(chains)} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")


if __name__ == "__main__":
    main()
