"""`lorarecycle cache ls` and `lorarecycle cache rm`: what the content-keyed cache holds."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import cache
from ..errors import UserError
from ..runtime import cache_root
from ..ui import say

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Show and prune the cache of pretrained bases, adapters and probes.")


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


@app.command("ls")
def ls() -> None:
    """Every cached entry with its size."""
    found = cache.entries()
    say(f"cache {cache_root()}")  # plain lines on stdout, one an entry: easy to grep and pipe
    for entry in found:
        say(f"{entry.kind:9s} {_mib(entry.bytes):>10s}  {entry.name}")
    say(f"{len(found)} entries, {_mib(sum(e.bytes for e in found))}")


@app.command("rm")
def rm(names: Annotated[list[str] | None, typer.Argument(help="entries: NAME, KIND/NAME or a whole KIND")] = None,
       all_entries: Annotated[bool, typer.Option("--all", help="remove every entry")] = False) -> None:
    """Remove cached entries (a later run rebuilds what it needs)."""
    if bool(names) == all_entries:
        raise UserError("cache rm: name entries to remove, or give --all (not both)")
    chosen = cache.select(names or [], all_entries)
    for entry in chosen:
        cache.remove(entry)
    say(f"removed {len(chosen)} entries, {_mib(sum(e.bytes for e in chosen))}")
