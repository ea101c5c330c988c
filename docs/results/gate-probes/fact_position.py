"""Does the base recall a fact inside a chain of thought as well as at a sequence start?

For the control questions of a config's world: exact-match recall of each path's two facts
alone ("The mentor of A is"), and CoT accuracy, for the matched chains (facts seen only alone)
and for the graph paths split by whether their facts also occur inside a pretraining CoT text.
Reads the cached base of the config (run the config once first):

    LORARECYCLE_CACHE=<cache> python docs/results/gate-probes/fact_position.py [CONFIG] [--precision fp32]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from lorarecycle.config import load_config, load_preset
from lorarecycle.evaluate.decode import greedy_decode
from lorarecycle.model.load import load_base, load_tokenizer
from lorarecycle.model.precision import set_precision
from lorarecycle.runtime import cache_root
from lorarecycle.tasks.datasets import cot_example, fact_example
from lorarecycle.tasks.templates import extract_answer, normalize
from lorarecycle.tasks.world import build_world
from lorarecycle.train.pretrain import base_model_key


def accuracy(model, tokenizer, examples, budget: int) -> list[bool]:
    generations = greedy_decode(model, tokenizer, [ex.prompt for ex in examples], budget, 128)
    return [extract_answer(g, ex.kind) == normalize(ex.answer) for g, ex in zip(generations, examples)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", help="config file (default: the default preset)")
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    set_precision(args.precision)
    cfg = load_config(Path(args.config)) if args.config else load_preset("default")
    world = build_world(cfg.world, cfg.seed)
    path = Path(cache_root()) / "base" / base_model_key(cfg)
    tokenizer, model = load_tokenizer(path), load_base(path, torch.float32).eval()
    in_cot = {f for c in world.group("pretrain") for f in c.facts()}
    control = world.group("control")
    groups = {"matched chains": [c for c in control if c.matched]}
    for hop1 in (True, False):
        for hop2 in (True, False):
            groups[f"graph paths, facts inside a pretraining CoT: hop1 {hop1}, hop2 {hop2}"] = [
                c for c in control if not c.matched and (c.facts()[0] in in_cot, c.facts()[1] in in_cot) == (hop1, hop2)]
    print(f"base {path.name} ({cfg.name}, seed {cfg.seed})")
    print("| chains | n | hop 1 fact alone | hop 2 fact alone | CoT |\n|---|---:|---:|---:|---:|")
    with torch.no_grad():
        for name, chains in groups.items():
            if not chains:
                continue
            scores = [accuracy(model, tokenizer, [fact_example(c.facts()[i]) for c in chains], cfg.eval.max_new_tokens_direct)
                      for i in (0, 1)]
            scores.append(accuracy(model, tokenizer, [cot_example(c) for c in chains], cfg.eval.max_new_tokens_cot))
            print(f"| {name} | {len(chains)} | " + " | ".join(f"{sum(s) / len(s):.2f}" for s in scores) + " |")


if __name__ == "__main__":
    main()
