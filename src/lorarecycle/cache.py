"""The content-keyed cache shared by every run on this machine (`LORARECYCLE_CACHE`, else
~/.cache/lorarecycle): pretrained bases, trained adapters and fine-tunes, and the precision
probes. Each entry's directory name carries the hash of everything its contents depend on,
so a new `--out` with the same config reuses them and only evaluation runs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .artifacts import check_output_dir, file_lock
from .config import stable_hash
from .errors import UserError
from .runtime import cache_root

KINDS = ("base", "adapters", "precision")  # sub-directories, one per kind of entry
# Every entry's key starts from this: raise it when what a key covers changes meaning (3: the
# config's class defaults became the default experiment and hash-neutral fields were removed)
CACHE_VERSION = 3
VERSION_FILE = "VERSION"


def cache_dir(kind: str) -> Path:
    return Path(cache_root()) / kind


def check_version() -> None:
    """Refuse a cache written by another cache version (its entries' keys mean other things),
    in one line naming what to delete; mark a new or empty cache as this version."""
    root = Path(cache_root())
    marker = root / VERSION_FILE
    found = marker.read_text().strip() if marker.is_file() else None
    if found == str(CACHE_VERSION):
        return
    stale = [kind for kind in ("base", "adapters") if (root / kind).is_dir() and any((root / kind).iterdir())]
    if stale or found is not None:
        raise UserError(f"cache {root} holds entries of cache version {found or '2 or older'}; this lorarecycle "
                        f"uses version {CACHE_VERSION}: delete {' and '.join(str(root / k) for k in stale) or marker} "
                        "(or set LORARECYCLE_CACHE to another directory)")
    try:
        root.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{CACHE_VERSION}\n")
    except OSError:  # a read-only cache is refused where a stage must write to it
        pass


def check_writable() -> None:
    """The cache can be written (checked before a run creates its directory)."""
    check_output_dir(Path(cache_root()), "cache directory (LORARECYCLE_CACHE)")


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
