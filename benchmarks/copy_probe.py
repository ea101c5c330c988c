"""Can the tiny Llama learn to restate a new, syllable-split name? A plain torch loop
(constant lr, no schedule) on fresh one-off names; every 200 steps, greedy-decode 64
held-out CoT prompts and count restated subjects.

  python benchmarks/copy_probe.py --data synthetic   # one fixed template, every sequence copies
  python benchmarks/copy_probe.py --data incontext   # the pretraining in-context corpus (tasks/incontext.py)
  python benchmarks/copy_probe.py --data synthetic --then-incontext 400   # a curriculum

Two scores: `in-context` on `incontext_twohop_cot` prompts (the fixed layout, facts first),
and `question-only` on `twohop_cot` prompts (no facts: the subject sits elsewhere, so a copy
by position cannot restate it).
"""
import argparse, random, time
import torch
from lorarecycle.config import validate_experiment
from lorarecycle.model.tiny import build_tiny_llama
from lorarecycle.model.tokenizer import build_tokenizer
from lorarecycle.tasks.names import SYLLABLES
from lorarecycle.tasks import task_of

parser = argparse.ArgumentParser()
parser.add_argument("--data", choices=["synthetic", "incontext"], default="synthetic")
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--steps", type=int, default=3000)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--then-incontext", type=int, default=0, help="switch to the in-context corpus after this step")
args = parser.parse_args()
torch.set_num_threads(args.threads)
cfg = validate_experiment({"preset": "default"}, "default")
task = task_of(cfg)
world, data = task.build(cfg)
tok = build_tokenizer(task.vocabulary(cfg))
torch.manual_seed(0)
rng = random.Random(0)
model = build_tiny_llama(cfg.model, tok, 0)


def name():
    return " ".join("".join(rng.choice(SYLLABLES) for _ in range(2)).capitalize() for _ in range(2))


def synthetic():
    a, b, c = name(), name(), name()
    return (f"The mentor of {a} is {b}. The employer of {b} is {c}. Question: Who is the employer of the mentor of "
            f"{a}? Reasoning: The mentor of {a} is {b}. The employer of {b} is {c}. So the answer is {c}.")


epoch, pool = 0, []


def incontext():
    global epoch, pool
    if not pool:
        pool = [e.prompt + e.completion for e in task.incontext(world, 1600, epoch)]
        random.Random(epoch).shuffle(pool)
        epoch += 1
    return pool.pop()


def subject_copy(split: str) -> float:
    held_out = data[split][:64]
    model.eval()
    ok = 0
    with torch.no_grad():
        for ex in held_out:
            ids = tok(ex.prompt, return_tensors="pt").input_ids
            out = model.generate(ids, max_new_tokens=10, do_sample=False, pad_token_id=tok.pad_token_id)
            text = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).replace(" ", "")
            ok += text.startswith(f"the{cfg.world.hop1_relation}of{ex.subject}".lower().replace(" ", ""))
    model.train()
    return ok / len(held_out)


make = synthetic if args.data == "synthetic" else incontext
opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
start = time.time()
for step in range(1, args.steps + 1):
    if args.then_incontext and step > args.then_incontext:
        make = incontext
    batch = tok([make() for _ in range(args.batch)], return_tensors="pt", padding=True)
    labels = batch.input_ids.masked_fill(batch.attention_mask == 0, -100)
    loss = model(**batch, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    if step % 200 == 0:
        print(f"step {step} {time.time() - start:.0f}s loss {loss.item():.3f} subject restated: in-context "
              f"{subject_copy('incontext_twohop_cot'):.2f}, question-only {subject_copy('twohop_cot'):.2f}", flush=True)
