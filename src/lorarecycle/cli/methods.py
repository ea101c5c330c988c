"""`lorarecycle methods`: list the recycling methods."""

from __future__ import annotations

import typer


def methods() -> None:
    """List recycling methods, their data requirement and parameters (with defaults)."""
    from ..recycle.merge.registry import MERGE_METHODS  # heavy: only this command needs them
    from ..recycle.registry import RECYCLERS

    for name in RECYCLERS:
        r = RECYCLERS.get(name)
        params = ""
        if name in MERGE_METHODS:
            spec = MERGE_METHODS.get(name)
            params = ", ".join([f"weights={'1/n' if spec.averages else '1'}"] + spec.describe_params())
        typer.echo(f"{name:16s} {r.requirement({}):18s} {r.summary}" + (f"  [{params}]" if params else ""))
