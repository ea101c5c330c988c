"""The rule's table from rows.jsonl, and what each union_replay writes in its CoT (which
relation its first reasoning sentence names, how many sentences, the error kinds), from the
samples. python docs/results/real-lm/demo-form-probe/summary.py"""

import collections
import json
import re
from pathlib import Path

HERE = Path(__file__).parent

for row in map(json.loads, (HERE / "rows.jsonl").read_text().splitlines()):
    values = {c["check"].removeprefix("union_replay "): c["value"] for c in row["checks"]}
    cell = f"{row['familiarity']}-{row['recipe']}"
    samples = [json.loads(x) for x in (HERE / cell / "samples-twohop_cot.jsonl").read_text().splitlines()]
    first = collections.Counter((m.group(1) if (m := re.match(r"\s*The (\w+) of", s["generation"])) else "-")
                                for s in samples)
    one_step = sum(". The " not in s["generation"] for s in samples)
    errors = collections.Counter(s.get("error") or "right" for s in samples)
    print(f"{cell:22s} gate2 {'pass' if row['passed'] else 'FAIL'}  hop1 {values['hop1']:.2f}  hop2 {values['hop2']:.2f}"
          f"  first hop {values['twohop_cot: first hop']:.2f}  CoT {values['twohop_cot']:.2f}"
          f" (Wilson low {values['twohop_cot: Wilson lower bound']:.2f})")
    print(f"{'':22s} first sentence names: {dict(first)}; one reasoning sentence: {one_step}/100; {dict(errors)}")
