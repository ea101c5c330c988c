"""`lorarecycle theory`: the key-value theory of the paper, measured."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..artifacts import check_output_dir
from ..artifacts import check_no_links
from ..ui import say
from .options import SEED_RANGE


def theory(out: Annotated[Path, typer.Option("--out", "-o", help="output directory")] = Path("runs/theory"),
           seed: Annotated[int, typer.Option(help="random seed", **SEED_RANGE)] = 0,
           quick: Annotated[bool, typer.Option(help="smaller grid (seconds), for tests")] = False) -> None:
    """Rank-one fact edits in a key-value MLP: collateral, summed edits on two-hop prompts,
    gradient-trained LoRAs, and a two-layer model where summed edits can compose."""
    # the output is checked before the ~100 s of work, not when the first file is written
    check_output_dir(out)
    check_no_links(out, ["theory.json", "theory.md", "collateral.png", "two_hop.png"])
    from ..theory.run import run_theory  # torch: only this command needs it

    run_theory(out, seed, quick)
    say((out / "theory.md").read_text())
    say(f"wrote {out / 'theory.md'}, theory.json, collateral.png, two_hop.png")
