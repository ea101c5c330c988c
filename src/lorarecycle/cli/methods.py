"""`lorarecycle methods`: list the recycling methods."""

from __future__ import annotations

import typer

from ..recycle.registry import RECYCLERS


def methods() -> None:
    """List recycling methods with their data requirement."""
    for name in RECYCLERS:
        r = RECYCLERS.get(name)
        typer.echo(f"{name:18s} {r.data_requirement:12s} {r.summary}")
