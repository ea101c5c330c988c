"""`lorarecycle methods`: list the recycling methods and their parameter contracts."""

from __future__ import annotations

import json

import typer

from ..ui import say


def methods(as_json: bool = typer.Option(False, "--json", help="machine-readable: every parameter's default and rule")
            ) -> None:
    """List recycling methods, their data requirement and parameters (default and rule)."""
    from ..recycle.contract import schema
    from ..recycle.build import RECYCLERS  # heavy: only this command needs them

    table = {}
    for name in RECYCLERS:
        r = RECYCLERS.get(name)
        table[name] = {"kind": r.kind, "requirement": r.data_requirement({}), "summary": r.summary, "routes": r.routes,
                       "reference_url": r.reference_url,
                       **({"merge_weights": "1/n" if r.merge.averages else "1"} if r.merge else {}),
                       "parameters": schema(r.param_model)}
    if as_json:
        say(json.dumps(table, indent=1))
        return
    for name, entry in table.items():
        weights = [f"weights={entry['merge_weights']} (merge only)"] if "merge_weights" in entry else []
        params = ", ".join(weights + [f"{k}={p['default']} ({p['rule']})" for k, p in entry["parameters"].items()])
        say(f"{name:16s} {entry['kind']:6s} {entry['requirement']:18s} {entry['summary']}"
            + (f"  [{params}]" if params else "") + (f"  <{entry['reference_url']}>" if entry["reference_url"] else ""))
