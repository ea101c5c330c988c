"""Gate-0 probe: does pretraining teach the base model to restate a new name?

Pretrains the built-in model of the default preset with config overrides (YAML), and every
`--every` epochs decodes 64 CoT questions of each kind and prints, per set, the share whose
subject is restated (s), whose first hop is right (h) and whose answer is right (a):

  python benchmarks/gate0_probe.py '{world: {n_incontext: 600, n_pretrain_paths: 300}, pretrain: {epochs: 24}}'
  python benchmarks/gate0_probe.py '{world: {n_incontext: 320}, pretrain: {epochs: 40, lr: 0.002}}' --copy-only
  python benchmarks/gate0_probe.py '{world: {name_words: 1, n_incontext: 600}, pretrain: {epochs: 24}}' --word-names
  python benchmarks/gate0_probe.py '{world: {n_incontext: 600}, pretrain: {layout_warmup_steps: 400}}' --every 5

--copy-only trains on the in-context sequences alone; --word-names makes every two-syllable
word one token (and lets one-off names reuse the test names' words, never their facts).
The README's Gate-0 table (docs/results/gate0/*.log) comes from these commands.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import yaml

from lorarecycle.config import validate_experiment
from lorarecycle.evaluate.decode import greedy_decode
from lorarecycle.evaluate.evaluator import score_steps, summarize_steps
from lorarecycle.model.precision import set_precision
from lorarecycle.model.tiny import build_tiny_llama
from lorarecycle.model.tokenizer import build_tokenizer
from lorarecycle.seeding import derive_seed
from lorarecycle.tasks.names import SYLLABLES
from lorarecycle.tasks import task_of
from lorarecycle.tasks.text import extract_answer, normalize
from lorarecycle.tasks.two_hop.world import World
from lorarecycle.train.pretrain import pretrain_model, pretraining_material


class GraphNamesOnly(World):
    """One-off names may reuse any word but the familiar graph's names."""

    @property
    def entities(self):
        return {e for f in self.graph for e in (f.subject, f.obj)}


class CopyMonitor:
    def __init__(self, task, sets: dict, every: int, show: int = 0):
        self.task, self.sets, self.every, self.show = task, sets, every, show

    def due(self, epoch: int, epochs: int) -> bool:
        return epoch % self.every == 0 or epoch == epochs

    def __call__(self, model, tokenizer):
        out = {}
        for name, examples in self.sets.items():
            generations = greedy_decode(model, tokenizer, [e.prompt for e in examples], 48, len(examples))
            steps = summarize_steps([score_steps(self.task.cot_steps(g), e) for g, e in zip(generations, examples)])
            answer = sum(extract_answer(g, "cot") == normalize(e.answer) for g, e in zip(generations, examples))
            out[name] = f"s{steps['subject_accuracy']:.2f}/h{steps['first_hop_accuracy']:.2f}/a{answer / len(examples):.2f}"
            for g, e in list(zip(generations, examples))[: self.show]:
                print(f"  {name}: {g[:110]!r} | gold {e.answer}", flush=True)
        print(time.strftime("%H:%M:%S"), out, flush=True)
        return False, {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", help="YAML mapping merged over the default preset")
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--copy-only", action="store_true")
    parser.add_argument("--word-names", action="store_true")
    parser.add_argument("--show", type=int, default=0, help="print this many generations per set at each check")
    parser.add_argument("--save", help="save the pretrained model and tokenizer here (an HF directory)")
    args = parser.parse_args()
    cfg = validate_experiment({"preset": "default", **yaml.safe_load(args.overrides)}, "overrides")
    set_precision(cfg.precision)
    task = task_of(cfg)
    world, data = task.build(cfg)
    words = [a + b for a in SYLLABLES for b in SYLLABLES] if args.word_names else []
    tokenizer = build_tokenizer([*task.vocabulary(cfg), *words])
    source = GraphNamesOnly(world.spec, world.seed, world.graph, world.chains, world.background) \
        if args.word_names else world
    model = build_tiny_llama(cfg.model, tokenizer, derive_seed(cfg.seed, "init"))
    sets = {k: data[k][:64] for k in ("incontext_twohop_cot", "twohop_cot", "control_cot")}
    sets["matched_cot"] = [e for e in data["control_cot"] if e.chain.startswith("control-m")][:32]
    start = time.perf_counter()
    # what the pipeline's pretraining reads (with the default's fact forms, unless overridden)
    corpus, fresh = pretraining_material(cfg, source, [] if args.copy_only else data["pretrain"])
    stats = pretrain_model(model, tokenizer, cfg, corpus, fresh, partial(task.incontext, source, fixed_layout=True),
                           CopyMonitor(task, sets, args.every, args.show))
    if args.save:
        model.save_pretrained(args.save, safe_serialization=True)
        tokenizer.save_pretrained(args.save)
    warmup = stats.get("layout_warmup", {})
    print(f"steps {stats['steps']} (+ {warmup.get('steps', 0)} warmup), {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
