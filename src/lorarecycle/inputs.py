"""Reading what users hand us, before any work starts: input files are small regular UTF-8
files with unique YAML keys and bounded nesting, seeds fit every RNG, counts from the
environment are plain ASCII numbers. Each failure is one UserError line; nothing here
writes (importing it costs no torch)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError

MAX_INPUT_BYTES = 16 * 1024 * 1024  # configs and adapter configs are kilobytes; /dev/zero is endless
MAX_NESTING = 100  # configs nest a few levels; deeper input is an attack on the parsers' recursion
SEED_LIMIT = 2**63  # seeds are 0 <= seed < 2**63: what torch's and numpy's generators all accept


def read_input_text(path: Path, what: str = "") -> str:
    """The text of a small regular UTF-8 file, or one line saying why not."""
    path, label = Path(path), f"{what} {path}".strip()
    try:
        if not path.is_file():  # a FIFO or device would block or never end
            kind = "no such file" if not path.exists() else "not a regular file"
            raise UserError(f"{label}: {kind}")
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise UserError(f"{label}: larger than {MAX_INPUT_BYTES // 2**20} MiB; not a config")
        with open(path, "rb") as f:
            data = f.read(MAX_INPUT_BYTES + 1)  # the size may change under us: read no more
    except OSError as err:
        raise UserError(f"{label}: cannot read ({err.strerror})") from None
    if len(data) > MAX_INPUT_BYTES:
        raise UserError(f"{label}: larger than {MAX_INPUT_BYTES // 2**20} MiB; not a config")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{label}: not UTF-8 text (byte {err.start})") from None


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML that refuses a key given twice in one mapping (PyYAML keeps the last one,
    so a typo'd duplicate silently overrides the first)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base constructor names it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep)


def parse_yaml(text: str, source: str) -> Any:
    """YAML with duplicate keys and excessive nesting refused, in one line naming `source`."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except RecursionError:
        raise UserError(f"{source}: nested too deeply") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{source}:{where} malformed YAML ({getattr(err, 'problem', None) or err})") from None
    if nesting(data) > MAX_NESTING:
        raise UserError(f"{source}: nested more than {MAX_NESTING} levels deep")
    return data


def nesting(data: Any) -> int:
    """Depth of nested lists/dicts, without recursion (the input may be adversarial)."""
    depth, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            depth = max(depth, level)
            if level > MAX_NESTING:
                return level
            stack.extend((x, level + 1) for x in item)
    return depth


def read_yaml_mapping(path: Path, what: str = "") -> dict:
    """A YAML file's top-level mapping (empty file: {}), every problem one line."""
    label = f"{what} {path}".strip()
    data = parse_yaml(read_input_text(path, what), label)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{label}: must be a YAML mapping, got {type(data).__name__}")
    return data


def read_json_object(path: Path, what: str = "") -> dict:
    label = f"{what} {path}".strip()
    try:
        data = json.loads(read_input_text(path, what))
    except json.JSONDecodeError as err:
        raise UserError(f"{label}: malformed JSON ({err.msg})") from None
    except RecursionError:
        raise UserError(f"{label}: nested too deeply") from None
    if not isinstance(data, dict):
        raise UserError(f"{label}: must be a JSON object, got {type(data).__name__}")
    return data


def check_adapter_config(path: Path) -> None:
    """A PEFT adapter's adapter_config.json is a small UTF-8 JSON object (read_adapter would
    raise UnicodeDecodeError on other bytes); read_adapter checks its fields and says
    when it is missing."""
    config = Path(path) / "adapter_config.json"
    if config.exists() or config.is_symlink():
        read_json_object(config)


def check_seed(value: Any, what: str = "seed") -> int:
    """Seeds are plain integers in [0, 2**63): `true` is not 1, and 2**70 would overflow
    torch's generator deep inside a run."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{what}: expected an integer, got {value!r}")
    if not 0 <= value < SEED_LIMIT:
        raise UserError(f"{what}: {value} is outside 0 <= seed < 2**63")
    return value


def check_config_seeds(mapping: dict, source: str) -> None:
    """The `seed` of an experiment mapping, or of a grid's experiment and seed axis."""
    if "seed" in mapping:
        check_seed(mapping["seed"], f"{source}: field seed")
    experiment = mapping.get("experiment")
    if isinstance(experiment, dict) and "seed" in experiment:
        check_seed(experiment["seed"], f"{source}: field experiment.seed")
    axes = mapping.get("axes")
    if isinstance(axes, dict) and isinstance(axes.get("seed"), list):
        for value in axes["seed"]:
            check_seed(value, f"{source}: axis seed")


def check_ascii_count(name: str, value: str) -> int:
    """A positive count from the environment: ASCII digits only (str.isdigit accepts '²')."""
    text = value.strip()
    if not (text.isascii() and text.isdecimal()) or int(text) < 1:
        raise UserError(f"{name}={value!r}: expected a positive integer")
    return int(text)


WORKERS_ENV = "LORARECYCLE_WORKERS"  # worker processes for CPU jobs (parallel.py)


def parse_workers(value: str) -> int | None:
    """$LORARECYCLE_WORKERS as a count (None: unset), or one line; ASCII digits only
    (str.isdigit accepts '²', which int() then refuses with a traceback)."""
    if not value.strip():
        return None
    return check_ascii_count(WORKERS_ENV, value)


def check_workers_env() -> None:
    """$LORARECYCLE_WORKERS, if set, is a positive count (checked before a run writes anything)."""
    parse_workers(os.environ.get(WORKERS_ENV, ""))
