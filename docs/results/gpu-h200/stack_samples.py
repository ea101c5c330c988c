"""One line per stack sample of `stackdump.py` (every 10 s): the innermost frames of this
project on the main thread. `python docs/results/gpu-h200/stack_samples.py [stacks-2.txt]`"""

import re
import sys
from pathlib import Path

text = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("stacks-2.txt")).read_text()
for i, sample in enumerate(text.split("Timeout (")[1:], 1):
    threads = sample.split("\nThread ")
    main = next((t for t in threads if "runpy" in t), threads[-1])
    ours = re.findall(r'File ".*?/src/lorarecycle/([^"]+)", line (\d+) in (\w+)', main)
    print(f"{10 * i:4d} s  " + " <- ".join(f"{f}:{n} {fn}" for f, n, fn in ours[:3]))
