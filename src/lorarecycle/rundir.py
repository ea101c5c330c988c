"""A run directory: its config record, the stages its rows came from, the data it wrote, and
the result and sample files kept in step across crashes (names in `layout.py`)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from .artifacts import (atomic_write_text, check_no_links, check_output_dir, read_json, read_jsonl, write_json,
                        write_jsonl)
from .cache import check_writable as check_cache_writable
from .config import ExperimentConfig
from .errors import UserError, invalid
from .inputs import check_workers_env
from .layout import CONFIG_FILE, RESULTS_FILE, RUN_FILES, RUN_LOCK, SAMPLES_FILE, STAGES_FILE
from .results import ResultRow


def check_before_writing(out: Path) -> None:
    """What a run would otherwise refuse only after creating `out`, its config, data/ and lock
    file: an output directory it can write, no links among its files, valid worker count,
    a writable cache. A refused run leaves nothing behind."""
    check_output_dir(out)
    check_no_links(out, list(RUN_FILES))
    check_workers_env()
    check_cache_writable()


def prepare_run_dir(out: Path, cfg: ExperimentConfig) -> None:
    """Record the config in a new run directory, or check that `out` holds this same one."""
    check_output_dir(out)
    config_path = out / CONFIG_FILE
    if config_path.is_file():
        try:
            previous = yaml.safe_load(config_path.read_text()).get("config_hash")
        except (yaml.YAMLError, AttributeError, UnicodeDecodeError):
            previous = None
        if previous != cfg.config_hash():
            raise UserError(
                f"{out} holds a different experiment (config hash {previous}, this one {cfg.config_hash()}); "
                "choose another --out"
            )
        return
    if out.exists() and any(p.name != RUN_LOCK for p in out.iterdir()):
        raise UserError(f"{out} is not empty and holds no {CONFIG_FILE}; choose another --out")
    resolved = {"config_hash": cfg.config_hash(), **cfg.model_dump(mode="json")}
    atomic_write_text(config_path, yaml.safe_dump(resolved, sort_keys=False))


def check_stages(out: Path, stages: dict[str, str], resuming: bool) -> None:
    """Record which base and adapters (directory names carry their content keys) this run's
    rows come from; refuse to add rows to results computed with other ones. The config hash
    covers the config, not the code that turns it into data: a run resumed after an upgrade
    would otherwise mix rows of two recipes in one table."""
    path = out / STAGES_FILE
    recorded = read_json(path) if path.is_file() else {}
    changed = [name for name in stages if name in recorded and recorded[name] != stages[name]]
    if resuming and changed:
        name = changed[0]
        raise UserError(f"{out / RESULTS_FILE}: its rows were computed with other trained stages ({name}: "
                        f"{recorded[name]}, now {stages[name]}; the code, the cache or the data changed since); "
                        f"choose another --out, or delete {RESULTS_FILE} there to evaluate again")
    if recorded != {**recorded, **stages}:
        write_json(path, {**recorded, **stages})


def finished_rows(out: Path) -> list[dict]:
    """The result rows that landed, and the samples file cut back to them: samples are written
    before their result row, so after a crash samples (and any partial line) whose row never
    landed are dropped and a resume does not duplicate them."""
    results = read_jsonl(out / RESULTS_FILE)
    done = {(r["model"], r["library"], r["split"]) for r in results}
    samples_path = out / SAMPLES_FILE
    if samples_path.exists():
        kept = [x for x in read_jsonl(samples_path) if (x["model"], x["library"], x["split"]) in done]
        write_jsonl(samples_path, kept)
    return results


def write_data(out: Path, datasets: dict) -> None:
    for name, examples in datasets.items():
        write_jsonl(out / f"{name}.jsonl", (ex.to_dict() for ex in examples))


def read_result_rows(path: Path) -> list[dict]:
    """`results.jsonl` for a read-only command: absent = no rows; nothing is written or
    moved; every row must be a result row (a damaged line is skipped, as a resume would)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return []
    if not path.is_file():
        raise UserError(f"{path}: not a regular file")
    try:
        rows = read_jsonl(path, repair=False)
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err.strerror})") from None
    for number, row in enumerate(rows, 1):
        try:
            ResultRow.model_validate(row)
        except ValidationError as err:
            raise invalid(f"{path}: row {number}", err) from None
    return rows
