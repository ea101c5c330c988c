"""`lorarecycle merge`: exact LoRA-to-LoRA merges of PEFT adapters, written as a PEFT adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UserError
from ..ui import console, progress_bar
from .options import SEED_RANGE


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def method_flags(tokens: list[str]) -> tuple[dict[str, object], list[Path]]:
    """Split the free arguments into the method's own `--NAME VALUE` / `--NAME=VALUE`
    parameters (whatever its contract names; checked against it before any work) and the
    input paths. The framework passes unknown options through with the inputs."""
    params, paths, items = {}, [], list(tokens)
    while items:
        token = items.pop(0)
        if not token.startswith("--"):
            paths.append(Path(token))
            continue
        name, has_value, value = token[2:].partition("=")
        if not has_value:
            if not items or items[0].startswith("--"):
                raise UserError(f"{token} needs a value")
            value = items.pop(0)
        params[name.replace("-", "_")] = _parse_value(value)
    return params, paths


def merge(
    ctx: typer.Context,
    inputs: Annotated[list[str], typer.Argument(help="CONFIG.yaml, or two or more PEFT adapter directories",
                                                metavar="INPUTS...")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output adapter directory (must not exist)")],
    method: Annotated[Optional[str], typer.Option(help="merge method (one-line form)")] = None,
    weights: Annotated[Optional[str], typer.Option(help="comma-separated weights; default 1/n for averaging methods, 1 for the others")] = None,
    param: Annotated[Optional[list[str]], typer.Option(help="a method parameter as KEY=VALUE (repeatable)")] = None,
    rank: Annotated[Optional[int], typer.Option(help="fixed output rank")] = None,
    tolerance: Annotated[Optional[float], typer.Option(help="smallest rank with relative error <= tolerance")] = None,
    seed: Annotated[Optional[int], typer.Option(help="seed for DARE's drops [default: 0]", **SEED_RANGE)] = None,
) -> None:
    """Merge LoRA adapters exactly in delta-W space.

    Every parameter of the method is also a flag, --NAME VALUE (`lorarecycle methods` lists them with their rules), e.g. `lorarecycle merge --method ties --density 0.2 --sign frequency A B -o merged/`, or `lorarecycle merge merge.yaml -o merged/`."""
    import torch  # here, not at import: other commands stay fast to start

    from ..adapters.lora_io import read_adapter
    from ..recycle.merge.apply import MergeOptions, check_before_merge, check_compatible, write_merge
    from ..recycle.merge import MERGE_METHODS

    cfg = _merge_config(inputs + ctx.args, method, weights, param, rank, tolerance, seed)
    _check_inputs_and_out(cfg, out)
    options = MergeOptions(rank=cfg.rank, tolerance=cfg.tolerance, seed=cfg.seed, dtype=getattr(torch, cfg.dtype))
    # validate everything before the progress bar starts, so an error is one line
    spec = MERGE_METHODS.get(cfg.method)
    params = spec.check_params(cfg.parameters)
    adapters = [read_adapter(Path(a.path)) for a in cfg.adapters]
    check_compatible(adapters)
    check_before_merge(adapters, spec, [a.weight for a in cfg.adapters], params, options)
    with progress_bar(f"merging ({cfg.method})", None) as advance:
        summary = write_merge(adapters, cfg.method, out, [a.weight for a in cfg.adapters], cfg.parameters, options,
                              on_module=lambda name, total: advance(info=name, total=total))
    console.print(
        f"wrote {out}: {summary['modules']} modules, output rank {'/'.join(map(str, summary['output_ranks']))}, "
        f"truncation error worst {summary['worst_error']:.2e} median {summary['median_error']:.2e}, "
        f"{summary['seconds']:.2f} s"
    )


def _merge_config(tokens: list[str], method, weights, param, rank, tolerance, seed):
    """The merge, from a CONFIG.yaml (no other flag allowed) or from the one-line form's flags."""
    from ..recycle.merge.config import load_merge_config, validate_merge_config
    from ..recycle.merge import MERGE_METHODS

    own, inputs = method_flags(tokens)
    flags = {"--method": method, "--weights": weights, "--param": param, "--rank": rank, "--tolerance": tolerance,
             "--seed": seed, **{f"--{k}": v for k, v in own.items()}}
    if len(inputs) == 1 and inputs[0].suffix in (".yaml", ".yml"):
        given = [flag for flag, value in flags.items() if value is not None]
        if given:
            raise UserError(f"{given[0]} cannot be combined with a CONFIG.yaml; set it in {inputs[0]}")
        return load_merge_config(inputs[0])
    if method is None:
        raise UserError("give --method (or a CONFIG.yaml as the only input)")
    params = dict(own)
    for item in param or []:
        if "=" not in item:
            raise UserError(f"--param {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        params[key] = _parse_value(value)
    default = MERGE_METHODS.get(method).default_weights(len(inputs))
    if weights is not None and not weights.strip():  # not the defaults: an empty value is a mistake
        raise UserError("--weights is empty: give one weight per adapter, or leave it out")
    ws = [_parse_value(w) for w in weights.split(",")] if weights is not None else default
    if len(ws) != len(inputs):
        raise UserError(f"--weights has {len(ws)} values for {len(inputs)} adapters")
    return validate_merge_config({"method": method, "parameters": params, "rank": rank, "tolerance": tolerance,
                                  "seed": seed or 0, "adapters": [{"path": str(p), "weight": w}
                                                                  for p, w in zip(inputs, ws)]}, "merge options")


def _check_inputs_and_out(cfg, out: Path) -> None:
    """Two or more readable adapter directories, a valid seed, and a new output directory."""
    from ..artifacts import check_output_dir
    from ..inputs import check_adapter_config, check_seed

    if len(cfg.adapters) < 2:  # one adapter is a copy, not a merge: most likely a missing path
        raise UserError(f"merge needs two or more adapters, got {len(cfg.adapters)}")
    check_seed(cfg.seed, "seed")
    for entry in cfg.adapters:
        if not Path(entry.path).is_dir():
            raise UserError(f"{entry.path}: no such adapter directory")
        check_adapter_config(Path(entry.path))
    if out.exists() or out.is_symlink():
        raise UserError(f"{out} already exists; choose a new output directory")
    check_output_dir(out)
