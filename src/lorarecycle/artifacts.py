"""On-disk layout and atomic writes: nothing here is ever left half-written."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import UserError
from .layout import RUN_LOCK
from .ui import console


def check_output_dir(path: Path, what: str = "--out", shown: Path | None = None) -> None:
    """`path` is, or can become, a writable directory: one line naming it otherwise (as
    `shown`, the output the user named, when `path` is only its folder)."""
    path = Path(path)
    label = f"{what} {shown if shown is not None else path}"
    if path.exists() and not path.is_dir():
        raise UserError(f"{label}: exists and is not a directory" if shown is None
                        else f"{label}: {path} is a file, not a directory")
    ancestor = path
    while not ancestor.exists():
        if ancestor.is_symlink():  # mkdir would fail on it half-way, after work
            raise UserError(f"{label}: {ancestor} is a dangling symbolic link")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"{label}: {ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK) or not _can_create_in(ancestor):
        raise UserError(f"{label}: {ancestor} is not writable")


def _can_create_in(folder: Path) -> bool:
    """Create and remove one scratch directory: os.access says yes to root everywhere, and
    to /proc or a read-only mount, where the first real write then fails after work."""
    try:
        os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".lorarecycle-probe-"))
    except OSError:
        return False
    return True


def check_output_file(path: Path, what: str) -> None:
    """`path` can be written as a file (not a directory; its folder exists or can be made)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path}: is a directory; give a file name")
    if path.is_symlink() and not path.exists():
        raise UserError(f"{what} {path}: is a dangling symbolic link")
    if path.exists() and not path.is_file():
        raise UserError(f"{what} {path}: exists and is not a regular file")
    check_output_dir(path.parent, what, shown=path)


def inside(root: Path, *parts: str) -> Path:
    """`root / parts...`, refused unless it resolves inside `root` (names reach file paths)."""
    path = Path(root).joinpath(*parts)
    if not path.resolve().is_relative_to(Path(root).resolve()) or path.resolve() == Path(root).resolve():
        raise UserError(f"{'/'.join(parts)!r} would be written outside {root}; names must not contain separators or '..'")
    return path


def creation_mode(directory: bool = False) -> int:
    """The mode open() / mkdir() give a new file or directory under this process's umask
    (mkstemp / mkdtemp use 0600 / 0700, which would hide results from the user's group)."""
    return (0o777 if directory else 0o666) & ~_umask()


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask sets it, racing other threads)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _refuse_link(path: Path) -> None:
    """Files of a run directory are its own: never written through a symbolic link, which
    could point anywhere (another run's results, a file outside the directory)."""
    if path.is_symlink():
        raise UserError(f"{path} is a symbolic link; a run directory's files must not be links (remove it)")


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # an existing file keeps its mode, as open(path, "w") would; a new one gets the umask's
    mode = path.stat().st_mode & 0o7777 if path.is_file() and not path.is_symlink() else creation_mode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a scratch directory that becomes `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        _open_modes(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _open_modes(root: Path) -> None:
    """Give a scratch tree the modes open()/mkdir() would have: mkdtemp makes it 0700, and
    some writers (safetensors' save_file) create their files 0600."""
    file_mode, dir_mode = creation_mode(), creation_mode(directory=True)
    os.chmod(root, dir_mode)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            if not os.path.islink(os.path.join(folder, name)):
                os.chmod(os.path.join(folder, name), dir_mode)
        for name in files:
            if not os.path.islink(os.path.join(folder, name)):
                os.chmod(os.path.join(folder, name), file_mode)


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append whole lines in one write; a crash can at worst leave one partial last line,
    which `read_jsonl` drops."""
    data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    path = Path(path)
    _refuse_link(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path, repair: bool = True) -> list[dict[str, Any]]:
    """Complete rows of a JSONL file. A truncated trailing line is dropped; a damaged line
    anywhere else is moved to `<name>.corrupt` (with a one-line notice) so that a resume
    recomputes its row instead of crashing. `repair=False` (read-only commands) only skips
    them: nothing is written."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return []
    if repair:
        _refuse_link(path)  # a resume rewrites and appends to it
    text = path.read_text(errors="replace")
    rows, bad = [], []
    for line in text.splitlines(keepends=True):
        if not line.strip():
            continue
        try:
            row = json.loads(line) if line.endswith("\n") else None
        except (json.JSONDecodeError, RecursionError):
            row = None
        if isinstance(row, dict):
            rows.append(row)
        elif line.endswith("\n"):  # a whole line that is not a row: damage, not an interrupted append
            bad.append(line)
    if not repair:
        return rows
    if bad:
        corrupt = path.with_name(path.name + ".corrupt")
        _refuse_link(corrupt)
        with open(corrupt, "a") as f:
            f.writelines(bad)
        console.print(f"{path}: moved {len(bad)} damaged line(s) to {path.name}.corrupt; their rows are redone",
                      markup=False, highlight=False)
    if bad or (text and not text.endswith("\n")):
        atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return rows


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def write_json(path: Path, obj: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


@contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold `out` for this process: a second run on the same directory is refused in one
    line. The OS drops the lock when its holder dies, so a killed run's lock is taken over."""
    import fcntl

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / RUN_LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise UserError(f"{out} is in use by another run (pid {holder}); wait for it to end or choose "
                            "another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stray_temporaries(root: Path) -> list[Path]:
    """Delete the scratch files and directories that atomic writers of a killed run left
    under `root` (only call while holding its run lock)."""
    stray = sorted(Path(root).rglob(".*.tmp"), key=lambda p: len(p.parts), reverse=True)
    for path in stray:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return stray


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive inter-process lock on a sibling `.<name>.lock` file: cells of a sweep that
    need the same shared stage (a base model, an expert) wait for one another instead of
    building it twice. fcntl locks are released by the OS if the holder dies."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_no_links(out: Path, names: list[str]) -> None:
    """A run directory's own files must not be symbolic links: a resume appends to them."""
    for name in names:
        _refuse_link(Path(out) / name)
