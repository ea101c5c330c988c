"""`lorarecycle methods`: list the recycling methods and their parameter contracts."""

from __future__ import annotations

import json

import typer

from ..ui import say


def methods(as_json: bool = typer.Option(False, "--json", help="machine-readable: every parameter's default and rule")
            ) -> None:
    """List recycling methods, their data requirement and parameters (default and rule)."""
    from ..recycle.contract import schema
    from ..recycle.merge.registry import (
        MERGE_METHODS,  # heavy: only this command needs them
    )
    from ..recycle.registry import RECYCLERS

    table = {}
    for name in RECYCLERS:
        r = RECYCLERS.get(name)
        merge = MERGE_METHODS.get(name) if name in MERGE_METHODS else None
        table[name] = {"requirement": r.data_requirement({}), "summary": r.summary, "routes": r.routes,
                       **({"merge_weights": "1/n" if merge.averages else "1"} if merge else {}),
                       "parameters": schema(r.param_model)}
    if as_json:
        say(json.dumps(table, indent=1))
        return
    for name, entry in table.items():
        weights = [f"weights={entry['merge_weights']} (merge only)"] if "merge_weights" in entry else []
        params = ", ".join(weights + [f"{k}={p['default']} ({p['rule']})" for k, p in entry["parameters"].items()])
        say(f"{name:16s} {entry['requirement']:18s} {entry['summary']}" + (f"  [{params}]" if params else ""))
