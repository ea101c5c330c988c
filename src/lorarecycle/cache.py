"""The content-keyed cache shared by every run on this machine (`LORARECYCLE_CACHE`, else
~/.cache/lorarecycle): pretrained bases, trained adapters and fine-tunes, and the precision
probes. Each entry's directory name carries the hash of everything its contents depend on,
so a new `--out` with the same config reuses them and only evaluation runs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .artifacts import file_lock
from .config import stable_hash
from .errors import UserError
from .runtime import cache_root

KINDS = ("base", "adapters", "precision")  # sub-directories, one per kind of entry


def cache_dir(kind: str) -> Path:
    return Path(cache_root()) / kind


def base_identity(path: Path) -> str:
    """What an adapter's key says of its base: a cached base's content key (its directory
    name), so the key survives a moved cache; for a `--base-model` directory, its resolved
    path and the size and mtime of each file, so replacing the weights retrains."""
    path = Path(path)
    if path.parent.resolve() == cache_dir("base").resolve():
        return path.name
    files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in path.iterdir() if p.is_file())
    return stable_hash({"path": str(path.resolve()), "files": files})


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    path: Path
    bytes: int


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def entries() -> list[Entry]:
    """Every cached entry (lock files and unfinished temporaries left out), by kind and name."""
    found = []
    for kind in KINDS:
        root = cache_dir(kind)
        if root.is_dir():
            found += [Entry(kind, p.name, p, _size(p)) for p in sorted(root.iterdir()) if not p.name.startswith(".")]
    return found


def select(names: list[str], everything: bool) -> list[Entry]:
    """The entries named `KIND/NAME` or `NAME` (a whole kind: `KIND`), or all; an unknown name is refused."""
    known = entries()
    if everything:
        return known
    chosen = []
    for name in names:
        match = [e for e in known if name in (e.name, f"{e.kind}/{e.name}", e.kind)]
        if not match:
            raise UserError(f"cache entry {name!r}: not in {cache_root()} (see `lorarecycle cache ls`)")
        chosen += [e for e in match if e not in chosen]
    return chosen


def remove(entry: Entry) -> None:
    """Delete one entry under its lock, so a run that is building or reading it finishes first."""
    with file_lock(entry.path):
        if entry.path.is_dir():
            shutil.rmtree(entry.path)
        elif entry.path.exists():
            entry.path.unlink()
    (entry.path.parent / f".{entry.name}.lock").unlink(missing_ok=True)
