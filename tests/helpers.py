"""Helpers shared by the test files (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM


def plain_replay(**fields):
    """An expert spec with the replay recipe's own examples, question forms and one replay
    sample of the whole pool, without the default's CoT and chain forms or KL term: the
    material the recipe tests take apart (`fields` override)."""
    from lorarecycle.config import ExpertTrainSpec

    return ExpertTrainSpec(**{"epochs": 1, "lr": 1e-3, "cot_form": False, "chain_form": False, "chain_loss": "all",
                              "replay_from": "pool", "replay_draw": "once", "replay_kl": 0.0, **fields})


def child_env(cache: Path) -> dict[str, str]:
    """The environment of a CLI child process: this cache, and the very `lorarecycle` this test
    process imported first on its path (not whichever tree the interpreter's install points
    at: a test run from another checkout tests that checkout's code)."""
    import lorarecycle

    src = str(Path(lorarecycle.__file__).resolve().parents[1])
    path = os.pathsep.join(dict.fromkeys(p for p in (src, *os.environ.get("PYTHONPATH", "").split(os.pathsep)) if p))
    env = {**os.environ, "LORARECYCLE_CACHE": str(cache), "PYTHONPATH": path}
    env.pop("LORARECYCLE_DEBUG", None)
    return env


def cli(*args: str, cache: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lorarecycle.cli.main", *args], capture_output=True, text=True,
                          env=child_env(cache), cwd=cwd, timeout=900)


def cli_in_process(args: list[str], cache: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    """The real entry point (`main`, with its error handling) in this process: no interpreter
    start per case. Returns (exit code, stdout, stderr)."""
    import signal

    from lorarecycle.cli.main import main

    monkeypatch.setenv("LORARECYCLE_CACHE", str(cache))
    monkeypatch.delenv("LORARECYCLE_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", ["lorarecycle", *args])
    previous = signal.getsignal(signal.SIGTERM)
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def acc_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def accuracies(out: Path) -> dict:
    return {(r["model"], r["library"], r["split"]): r["accuracy"] for r in acc_rows(out)}


def check_html_report(path: Path) -> None:
    """report.html renders standalone: well-formed, every figure an embedded PNG of sane size."""
    import base64
    import struct
    from html.parser import HTMLParser

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.images, self.tables, self.open = [], 0, []

        def handle_starttag(self, tag, attrs):
            if tag in ("table", "figure", "tr"):
                self.open.append(tag)
            self.tables += tag == "table"
            if tag == "img":
                self.images.append(dict(attrs)["src"])

        def handle_endtag(self, tag):
            if tag in ("table", "figure", "tr"):
                assert self.open.pop() == tag, f"unbalanced <{tag}>"

    parser = Collect()
    parser.feed(path.read_text())
    assert not parser.open and parser.tables >= 1 and parser.images
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")  # nothing to fetch: self-contained
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert 300 <= width <= 4000 and 200 <= height <= 8000, (width, height)


def first_heading_block(path: Path) -> list[str]:
    """The texts of report.html's <header>: what a person reads first."""
    from html.parser import HTMLParser

    class Header(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth, self.texts = 0, []

        def handle_starttag(self, tag, attrs):
            self.depth += tag == "header"

        def handle_endtag(self, tag):
            self.depth -= tag == "header"

        def handle_data(self, data):
            if self.depth and data.strip():
                self.texts.append(data.strip())

    parser = Header()
    parser.feed(path.read_text())
    return parser.texts


def make_peft_adapter(base_path, out, seed, r=4):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_path)
    config = LoraConfig(r=r, lora_alpha=2 * r, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(out)
    return peft_model


def random_lora_state(generator: torch.Generator, shapes: dict[str, tuple[int, int]], rank: int) -> dict:
    """PEFT-style state dict of random (non-zero) LoRA factors for modules of given (d_out, d_in)."""
    state = {}
    for name, (d_out, d_in) in shapes.items():
        state[f"base_model.model.{name}.lora_A.weight"] = torch.randn(rank, d_in, generator=generator)
        state[f"base_model.model.{name}.lora_B.weight"] = torch.randn(d_out, rank, generator=generator)
    return state
