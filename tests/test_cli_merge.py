"""`lorarecycle merge`: YAML and one-line forms, output loads in PEFT, bad input refused."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from lorarecycle.adapters.lora_io import read_adapter

from .helpers import cli, random_lora_state


def dense_sum(paths, weights):
    adapters = [read_adapter(p) for p in paths]
    return {n: sum(w * a.modules[n].delta() for a, w in zip(adapters, weights)) for n in adapters[0].modules}


def test_yaml_form_merges_exactly(experts, tmp_path):
    (tmp_path / "merge.yaml").write_text(
        f"method: task_arithmetic\nadapters:\n  - {{path: {experts / 'e0'}, weight: 1.0}}\n"
        f"  - {{path: {experts / 'e1'}, weight: -0.5}}\nparameters: {{lam: 2.0}}\n")
    result = cli("merge", str(tmp_path / "merge.yaml"), "-o", str(tmp_path / "out"), cache=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "output rank 8" in result.stderr and "worst 0.00e+00" in result.stderr
    merged = read_adapter(tmp_path / "out")
    for name, expected in dense_sum([experts / "e0", experts / "e1"], [2.0, -1.0]).items():
        torch.testing.assert_close(merged.modules[name].delta(), expected, rtol=1e-5, atol=1e-6)
    meta = json.loads((tmp_path / "out" / "lorarecycle_merge.json").read_text())
    assert meta["method"] == "task_arithmetic" and len(meta["module_errors"]) == len(merged.modules)


def test_one_line_form_with_rank(experts, tmp_path):
    result = cli("merge", "--method", "ties", "--density", "0.5", "--sign=frequency", "--rank", "3", str(experts / "e0"),
                 str(experts / "e1"), "-o", str(tmp_path / "out"), cache=tmp_path)
    assert result.returncode == 0, result.stderr
    merged = read_adapter(tmp_path / "out")
    assert {m.rank for m in merged.modules.values()} == {3}
    assert "truncation error worst" in result.stderr


def bad_dirs(tmp_path):
    g = torch.Generator().manual_seed(0)
    cases = {}
    (tmp_path / "noconfig").mkdir()
    save_file(random_lora_state(g, {"m.q": (6, 4)}, 2), tmp_path / "noconfig" / "adapter_model.safetensors")
    cases["noconfig"] = "no adapter_config.json"
    for name, state, message in [
        ("corrupt", None, "unreadable safetensors"),
        ("nan", {"base_model.model.m.q.lora_A.weight": torch.full((2, 4), float("inf")),
                 "base_model.model.m.q.lora_B.weight": torch.ones(6, 2)}, "NaN or Inf"),
        ("rank0", {"base_model.model.m.q.lora_A.weight": torch.zeros(0, 4),
                   "base_model.model.m.q.lora_B.weight": torch.zeros(6, 0)}, "rank 0"),
        ("dora", random_lora_state(g, {"m.q": (6, 4)}, 2), "use_dora=true is not supported"),
        ("alpha0", random_lora_state(g, {"m.q": (6, 4)}, 2), "lora_alpha must be a positive finite number, got 0"),
        ("int", {k: v.to(torch.int32) for k, v in random_lora_state(g, {"m.q": (6, 4)}, 2).items()},
         "weights must be floating point"),
    ]:
        d = tmp_path / name
        d.mkdir()
        config = {"peft_type": "LORA", "r": 2, "lora_alpha": 0 if name == "alpha0" else 2, "use_dora": name == "dora"}
        (d / "adapter_config.json").write_text(json.dumps(config))
        if state is None:
            (d / "adapter_model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{truncated")
        else:
            save_file(state, d / "adapter_model.safetensors")
        cases[name] = message
    return cases


def test_bad_adapters_one_line_nonzero_nothing_written(experts, tmp_path):
    for name, message in bad_dirs(tmp_path).items():
        result = cli("merge", "--method", "linear", str(experts / "e0"), str(tmp_path / name),
                     "-o", str(tmp_path / "out"), cache=tmp_path)
        assert result.returncode == 2, (name, result.stderr)
        assert message in result.stderr and str(tmp_path / name) in result.stderr, (name, result.stderr)
        assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
        assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "tie"], "unknown merge method 'tie'. Did you mean 'ties'?"),
        (["--method", "ties", "--param", "densty=0.2"], "unknown parameter 'densty'"),
        (["--method", "ties", "--density", "0"], "parameter density: Input should be greater than 0"),
        (["--method", "linear", "--weights", "1,2,3"], "--weights has 3 values for 2 adapters"),
        (["--method", "linear", "--weights", "nan,1"], "field adapters.0.weight: Input should be a finite number"),
        (["--method", "task_arithmetic", "--lam", "nan"], "parameter lam: Input should be a finite number"),
        (["--method", "ties", "--densty", "0.2"], "unknown parameter 'densty'. Known: density, sign"),
        (["--method", "linear", "--param", "normalize=no"], "parameter normalize: Input should be a valid boolean"),
        (["--method", "svd", "--param", "rank=-1"], "parameter rank: Input should be greater than or equal to 0"),
        (["--method", "knots", "--merge=foo"], "parameter merge: Input should be 'magnitude_prune', 'ties'"),
    ],
)
def test_bad_method_or_params(experts, tmp_path, args, message):
    result = cli("merge", *args, str(experts / "e0"), str(experts / "e1"), "-o", str(tmp_path / "out"), cache=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_flags_next_to_a_yaml_config_are_refused_not_ignored(experts, tmp_path):
    config = tmp_path / "merge.yaml"
    config.write_text(f"method: ties\nadapters: [{{path: {experts / 'e0'}}}, {{path: {experts / 'e1'}}}]\n")
    result = cli("merge", str(config), "--density", "0.3", "-o", str(tmp_path / "out"), cache=tmp_path)
    assert result.returncode == 2 and "--density cannot be combined with a CONFIG.yaml" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_half_precision_adapters_merge_as_their_exact_fp32_values(experts, tmp_path):
    from safetensors.torch import load_file

    half = tmp_path / "half"
    half.mkdir()
    (half / "adapter_config.json").write_text((experts / "e1" / "adapter_config.json").read_text())
    state = {k: v.to(torch.bfloat16) for k, v in load_file(experts / "e1" / "adapter_model.safetensors").items()}
    save_file(state, half / "adapter_model.safetensors")
    adapter = read_adapter(half)
    for name, module in adapter.modules.items():
        assert module.A.dtype == torch.float32
        assert module.B.dtype == torch.float32
        assert torch.equal(module.A, state[f"base_model.model.{name}.lora_A.weight"].float())
        assert torch.equal(module.B, state[f"base_model.model.{name}.lora_B.weight"].float())


def test_method_flags_split_parameters_from_inputs():
    from pathlib import Path

    from lorarecycle.cli.merge import method_flags
    from lorarecycle.errors import UserError

    params, paths = method_flags(["A", "--density", "0.2", "--sign=frequency", "B", "--sqrt-weights", "true"])
    assert params == {"density": 0.2, "sign": "frequency", "sqrt_weights": True} and paths == [Path("A"), Path("B")]
    with pytest.raises(UserError, match="--lam needs a value"):
        method_flags(["A", "B", "--lam"])
