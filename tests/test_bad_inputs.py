"""Bad input through the real entry point (`main`, in this process): every case exits 2 with
exactly one `error:` line, no traceback, and leaves the file tree as it found it.

One tree of fixtures serves every case (module scope); each case snapshots it (names,
types, modes, contents, link targets) before and after. The cases cover the reliability
issue's classes: output paths that cannot be written, damaged run directories, undecodable
or adversarial input files, seeds out of range, bad environment values, overflowing
adapters, flags a mode ignores, refusals that used to come after work had started, and
links out of a run directory."""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from .helpers import cli_in_process, random_lora_state

BIG = str(2**70)
DEEP = "a: " + "[" * 20000 + "]" * 20000 + "\n"


def _adapter(root: Path, name: str, scale: float = 1.0, alpha: float = 4, rank: int = 2,
             config: bytes | None = None) -> None:
    d = root / name
    d.mkdir()
    g = torch.Generator().manual_seed(len(name))
    state = {k: v * scale for k, v in random_lora_state(g, {"m.q": (6, 4), "m.v": (6, 4)}, rank).items()}
    save_file(state, d / "adapter_model.safetensors")
    (d / "adapter_config.json").write_bytes(
        config if config is not None else json.dumps({"peft_type": "LORA", "r": rank, "lora_alpha": alpha}).encode())


def _run_dir(root: Path, name: str, config: bytes | None, results=None) -> None:
    d = root / name
    d.mkdir()
    if config is not None:
        (d / "config.yaml").write_bytes(config)
    if results == "dir":
        (d / "results.jsonl").mkdir()
    elif results is not None:
        (d / "results.jsonl").write_text(results)


@pytest.fixture(scope="module")
def tree(tmp_path_factory, tiny_base):
    root = tmp_path_factory.mktemp("bad_inputs")
    (root / "cache").mkdir()
    (root / "a_file").write_text("not a directory")
    (root / "dangling").symlink_to(root / "nowhere")
    (root / "empty_dir").mkdir()
    os.mkfifo(root / "fifo")
    for name in ("a0", "a1"):
        _adapter(root, name)
    _adapter(root, "r3", rank=3)
    _adapter(root, "huge0", scale=1e30)
    _adapter(root, "huge1", scale=1e30)
    _adapter(root, "big0", scale=1e10)
    _adapter(root, "alpha0", alpha=1e308)
    _adapter(root, "alpha1", alpha=1e308)
    _adapter(root, "latin1", config=b'{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "note": "caf\xe9"}')
    _adapter(root, "deepjson", config=b'{"r": ' + b"[" * 20000 + b"]" * 20000 + b"}")
    _adapter(root, "listcfg", config=b"[1, 2]")
    configs = {
        "latin1.yaml": b"preset: smoke\nname: caf\xe9\n",
        "deep.yaml": DEEP.encode(),
        "dup.yaml": b"preset: smoke\nseed: 1\nseed: 2\n",
        "dup_nested.yaml": b"preset: smoke\nworld: {familiarity: F, familiarity: R}\n",
        "seed_true.yaml": b"preset: smoke\nseed: true\n",
        "seed_big.yaml": f"preset: smoke\nseed: {BIG}\n".encode(),
        "seed_negative.yaml": b"preset: smoke\nseed: -3\n",
        "seed_float.yaml": b"preset: smoke\nseed: 1.5\n",
        "huge_rank.yaml": b"preset: smoke\nlora: {r: 1000000000}\n",
        "grid_seed.yaml": f"name: g\nexperiment: {{preset: smoke}}\naxes: {{seed: [1, {BIG}]}}\n".encode(),
        "grid_seed_true.yaml": b"name: g\nexperiment: {preset: smoke, seed: true}\naxes: {world.exposure: [0.5]}\n",
        "list.yaml": b"- 1\n- 2\n",
        "merge_dup.yaml": b"method: linear\nmethod: ties\nadapters: [{path: a0}, {path: a1}]\n",
        "merge_latin1.yaml": b"method: linear\n# caf\xe9\nadapters: [{path: a0}, {path: a1}]\n",
        "merge_one.yaml": b"method: linear\nadapters: [{path: a0}]\n",
        "merge_deep.yaml": b"method: linear\n" + DEEP.encode(),
        "merge_seed_true.yaml": b"method: linear\nseed: true\nadapters: [{path: a0}, {path: a1}]\n",
        "merge_seed.yaml": f"method: linear\nseed: {BIG}\nadapters: [{{path: a0}}, {{path: a1}}]\n".encode(),
    }
    for name, data in configs.items():
        (root / name).write_bytes(data)
    (root / "big.yaml").write_bytes(b"# " + b"x" * (17 * 2**20) + b"\n")
    good = b"preset: smoke\n"
    _run_dir(root, "run_list", b"- 1\n- 2\n")
    _run_dir(root, "run_malformed", b"seed: [1\n")
    _run_dir(root, "run_latin1", b"name: caf\xe9\n")
    _run_dir(root, "run_results_dir", good, "dir")
    _run_dir(root, "run_foo_row", good, '{"foo": 1}\n')
    _run_dir(root, "run_interrupted", good)
    _run_dir(root, "run_deep", DEEP.encode())
    (root / "run_config_dir").mkdir()
    (root / "run_config_dir" / "config.yaml").mkdir()
    (root / "outside").mkdir()
    (root / "outside" / "results.jsonl").write_text('{"precious": true}\n')
    _run_dir(root, "run_linked", None)
    (root / "run_linked" / "results.jsonl").symlink_to(root / "outside" / "results.jsonl")
    _run_dir(root, "run_linked_config", None)
    (root / "run_linked_config" / "config.yaml").symlink_to(root / "outside" / "results.jsonl")
    row = {"experiment": "smoke", "config_hash": "0", "seed": 0, "model": "base", "library": None, "method": "base",
           "split": "hop1", "data_requirement": "none", "data_access": "none", "familiarity": "F", "exposure": 0.5,
           "device": "cpu", "precision": "fp32", "measured_familiarity": {}, "n": 1, "correct": 0, "accuracy": 0.0,
           "ci_low": 0.0, "ci_high": 1.0, "chance": 0.1}
    _run_dir(root, "run_report_linked", good, json.dumps(row) + "\n")
    (root / "run_report_linked" / "report.html").symlink_to(root / "outside" / "results.jsonl")
    (root / "theory_linked").mkdir()
    (root / "theory_linked" / "two_hop.png").symlink_to(root / "outside" / "results.jsonl")
    (root / "probe.jsonl").write_text(json.dumps({"prompt": "q", "answer": "a", "adapters": ["a0"]}) + "\n")
    (root / "tiny_base").symlink_to(tiny_base)
    return root


def snapshot(root: Path) -> dict:
    """Every entry under `root`: type, mode and contents (files) or target (links)."""
    entries = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                entries[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode) and info.st_size > 2**20:  # big.yaml: hashing it per case is slow
                entries[rel] = ("file", info.st_mode, info.st_size, info.st_mtime_ns)
            elif stat.S_ISREG(info.st_mode):
                entries[rel] = ("file", info.st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                entries[rel] = ("other", info.st_mode)
    return entries


R = "{root}"  # replaced by the fixture tree
PROC = "/proc/lorarecycle-never"
MERGE = ["merge", "--method", "linear", f"{R}/a0", f"{R}/a1", "-o"]
SMOKE = ["--preset", "smoke"]
DIAG = ["diagnose", f"{R}/a0", f"{R}/a1"]
PROBE = [*DIAG, "--probe", f"{R}/probe.jsonl", "--base-model", f"{R}/tiny_base"]

# (id, argv, extra environment, a fragment of the error line)
CASES = [
    # 1. output paths that cannot be written: refused before any work, nothing created
    ("run-out-proc", ["run", *SMOKE, "--out", f"{PROC}/x"], {}, "is not writable"),
    ("run-out-under-file", ["run", *SMOKE, "--out", f"{R}/a_file/x"], {}, "is a file, not a directory"),
    ("run-out-file", ["run", *SMOKE, "--out", f"{R}/a_file"], {}, "exists and is not a directory"),
    ("run-out-dangling", ["run", *SMOKE, "--out", f"{R}/dangling"], {}, "dangling symbolic link"),
    ("run-out-under-dangling", ["run", *SMOKE, "--out", f"{R}/dangling/x"], {}, "dangling symbolic link"),
    ("data-out-proc", ["data", *SMOKE, "--out", f"{PROC}/x"], {}, "is not writable"),
    ("data-out-under-file", ["data", *SMOKE, "--out", f"{R}/a_file/x"], {}, "is a file, not a directory"),
    ("data-out-dangling", ["data", *SMOKE, "--out", f"{R}/dangling"], {}, "dangling symbolic link"),
    ("theory-out-proc", ["theory", "--quick", "--out", f"{PROC}/x"], {}, "is not writable"),
    ("theory-out-under-file", ["theory", "--quick", "--out", f"{R}/a_file/x"], {}, "is a file, not a directory"),
    ("theory-out-file", ["theory", "--quick", "--out", f"{R}/a_file"], {}, "exists and is not a directory"),
    ("theory-out-dangling", ["theory", "--quick", "--out", f"{R}/dangling"], {}, "dangling symbolic link"),
    ("merge-out-proc", [*MERGE, f"{PROC}/x"], {}, "is not writable"),
    ("merge-out-under-file", [*MERGE, f"{R}/a_file/x"], {}, "is a file, not a directory"),
    ("merge-out-dangling", [*MERGE, f"{R}/dangling"], {}, "already exists"),
    ("merge-out-under-dangling", [*MERGE, f"{R}/dangling/x"], {}, "dangling symbolic link"),
    ("diagnose-json-proc", [*DIAG, "--json", f"{PROC}/x.json"], {}, "is not writable"),
    ("diagnose-json-under-file", [*DIAG, "--json", f"{R}/a_file/x.json"], {}, "is a file, not a directory"),
    ("diagnose-json-dangling", [*DIAG, "--json", f"{R}/dangling"], {}, "dangling symbolic link"),
    ("diagnose-json-dir", [*DIAG, "--json", f"{R}/empty_dir"], {}, "is a directory"),
    ("diagnose-json-fifo", [*DIAG, "--json", f"{R}/fifo"], {}, "not a regular file"),
    # 1. damaged run directories: status and report answer in one line
    ("status-config-list", ["status", f"{R}/run_list"], {}, "must be a YAML mapping"),
    ("report-config-list", ["report", f"{R}/run_list"], {}, "must be a YAML mapping"),
    ("status-config-malformed", ["status", f"{R}/run_malformed"], {}, "malformed YAML"),
    ("report-config-malformed", ["report", f"{R}/run_malformed"], {}, "malformed YAML"),
    ("status-config-latin1", ["status", f"{R}/run_latin1"], {}, "not UTF-8"),
    ("report-config-latin1", ["report", f"{R}/run_latin1"], {}, "not UTF-8"),
    ("status-config-deep", ["status", f"{R}/run_deep"], {}, "nest"),
    ("status-config-dir", ["status", f"{R}/run_config_dir"], {}, "not a run directory"),
    ("status-results-dir", ["status", f"{R}/run_results_dir"], {}, "not a regular file"),
    ("report-results-dir", ["report", f"{R}/run_results_dir"], {}, "not a regular file"),
    ("status-foo-row", ["status", f"{R}/run_foo_row"], {}, "row 1: field experiment: Field required"),
    ("report-foo-row", ["report", f"{R}/run_foo_row"], {}, "row 1: field experiment: Field required"),
    ("report-interrupted", ["report", f"{R}/run_interrupted"], {}, "no result rows yet"),
    ("status-not-a-run", ["status", f"{R}/empty_dir"], {}, "not a run directory"),
    # 1. undecodable, endless, huge or adversarial input files
    ("validate-latin1", ["validate", f"{R}/latin1.yaml"], {}, "not UTF-8"),
    ("run-latin1", ["run", f"{R}/latin1.yaml", "--out", f"{R}/out"], {}, "not UTF-8"),
    ("data-latin1", ["data", f"{R}/latin1.yaml", "--out", f"{R}/out"], {}, "not UTF-8"),
    ("merge-yaml-latin1", ["merge", f"{R}/merge_latin1.yaml", "-o", f"{R}/out"], {}, "not UTF-8"),
    ("merge-adapter-latin1", ["merge", "--method", "linear", f"{R}/a0", f"{R}/latin1", "-o", f"{R}/out"], {},
     "adapter_config.json: not UTF-8"),
    ("diagnose-adapter-latin1", ["diagnose", f"{R}/a0", f"{R}/latin1"], {}, "adapter_config.json: not UTF-8"),
    ("merge-adapter-deep-json", ["merge", "--method", "linear", f"{R}/a0", f"{R}/deepjson", "-o", f"{R}/out"], {},
     "nested too deeply"),
    ("diagnose-adapter-list", ["diagnose", f"{R}/a0", f"{R}/listcfg"], {}, "must be a JSON object"),
    ("validate-deep", ["validate", f"{R}/deep.yaml"], {}, "nest"),
    ("run-deep", ["run", f"{R}/deep.yaml", "--out", f"{R}/out"], {}, "nest"),
    ("merge-yaml-deep", ["merge", f"{R}/merge_deep.yaml", "-o", f"{R}/out"], {}, "nest"),
    ("validate-dev-zero", ["validate", "/dev/zero"], {}, "not a regular file"),
    ("run-dev-zero", ["run", "/dev/zero", "--out", f"{R}/out"], {}, "not a regular file"),
    ("validate-fifo", ["validate", f"{R}/fifo"], {}, "not a regular file"),
    ("validate-dir", ["validate", f"{R}/empty_dir"], {}, "not a regular file"),
    ("validate-huge", ["validate", f"{R}/big.yaml"], {}, "larger than 16 MiB"),
    ("validate-missing", ["validate", f"{R}/no_such.yaml"], {}, "no such file"),
    ("validate-list", ["validate", f"{R}/list.yaml"], {}, "must be a YAML mapping"),
    ("merge-yaml-missing-adapter", ["merge", "--method", "linear", f"{R}/a0", f"{R}/nowhere", "-o", f"{R}/out"], {},
     "no such adapter directory"),
    # 1. seeds: one bound, 0 <= seed < 2**63, for every command and config
    ("theory-seed-big", ["theory", "--quick", "--seed", BIG, "--out", f"{R}/out"], {}, "--seed"),
    ("theory-seed-negative", ["theory", "--quick", "--seed", "-1", "--out", f"{R}/out"], {}, "--seed"),
    ("run-seed-big", ["run", *SMOKE, "--seed", BIG, "--out", f"{R}/out"], {}, "--seed"),
    ("run-seed-negative", ["run", *SMOKE, "--seed", "-5", "--out", f"{R}/out"], {}, "--seed"),
    ("validate-seed-big", ["validate", *SMOKE, "--seed", BIG], {}, "--seed"),
    ("data-seed-big", ["data", *SMOKE, "--seed", BIG, "--out", f"{R}/out"], {}, "--seed"),
    ("merge-seed-big", [*MERGE[:-1], "--seed", BIG, "-o", f"{R}/out"], {}, "--seed"),
    ("merge-yaml-seed-big", ["merge", f"{R}/merge_seed.yaml", "-o", f"{R}/out"], {}, "outside 0 <= seed < 2**63"),
    ("merge-yaml-seed-true", ["merge", f"{R}/merge_seed_true.yaml", "-o", f"{R}/out"], {}, "expected an integer"),
    ("config-seed-big", ["validate", f"{R}/seed_big.yaml"], {}, "outside 0 <= seed < 2**63"),
    ("config-seed-negative", ["run", f"{R}/seed_negative.yaml", "--out", f"{R}/out"], {}, "outside 0 <= seed"),
    ("config-seed-float", ["validate", f"{R}/seed_float.yaml"], {}, "expected an integer"),
    ("grid-seed-axis-big", ["validate", f"{R}/grid_seed.yaml"], {}, "axis seed"),
    # 1./4. the environment: checked before the run directory is created
    ("workers-superscript", ["run", *SMOKE, "--out", f"{R}/out"], {"LORARECYCLE_WORKERS": "²"}, "LORARECYCLE_WORKERS"),
    ("workers-arabic-digit", ["run", *SMOKE, "--out", f"{R}/out"], {"LORARECYCLE_WORKERS": "٣"}, "LORARECYCLE_WORKERS"),
    ("workers-zero", ["run", *SMOKE, "--out", f"{R}/out"], {"LORARECYCLE_WORKERS": "0"}, "LORARECYCLE_WORKERS"),
    ("workers-negative", ["run", *SMOKE, "--out", f"{R}/out"], {"LORARECYCLE_WORKERS": "-1"}, "LORARECYCLE_WORKERS"),
    ("workers-word", ["run", *SMOKE, "--out", f"{R}/out"], {"LORARECYCLE_WORKERS": "abc"}, "LORARECYCLE_WORKERS"),
    ("workers-fraction", ["run", *SMOKE, "--out", f"{R}/out"], {"LORARECYCLE_WORKERS": "1.5"}, "LORARECYCLE_WORKERS"),
    ("cache-proc", ["run", *SMOKE, "--out", f"{R}/out"], {"LORARECYCLE_CACHE": f"{PROC}/cache"}, "cache directory"),
    ("cache-under-file", ["run", *SMOKE, "--out", f"{R}/out"], {"LORARECYCLE_CACHE": f"{R}/a_file/c"}, "cache directory"),
    ("probe-device-env", [*PROBE], {"LORARECYCLE_DEVICE": "cuda:99"}, "LORARECYCLE_DEVICE=cuda:99"),
    ("run-device-env", ["run", *SMOKE, "--out", f"{R}/out"], {"LORARECYCLE_DEVICE": "cuda:99"},
     "LORARECYCLE_DEVICE=cuda:99"),
    ("run-device-env-form", ["run", *SMOKE, "--out", f"{R}/out"], {"LORARECYCLE_DEVICE": "gpu"},
     "LORARECYCLE_DEVICE=gpu"),
    # 2. adapters whose scaled factors overflow: refused, never written with Inf/NaN
    ("merge-alpha-1e308", ["merge", "--method", "linear", f"{R}/alpha0", f"{R}/alpha1", "-o", f"{R}/out"], {},
     "overflows float32"),
    ("merge-lam-1e308", ["merge", "--method", "task_arithmetic", "--lam", "1e308", f"{R}/a0", f"{R}/a1", "-o",
                         f"{R}/out"], {}, "overflows float32"),
    ("merge-ties-huge", ["merge", "--method", "ties", f"{R}/huge0", f"{R}/huge1", "-o", f"{R}/out"], {},
     "overflows float32"),
    ("merge-ties-big", ["merge", "--method", "ties", f"{R}/big0", f"{R}/a1", "-o", f"{R}/out"], {}, "overflows float32"),
    ("merge-huge-weights", ["merge", "--method", "task_arithmetic", "--weights", "1e300,1", f"{R}/a0", f"{R}/a1",
                            "-o", f"{R}/out"], {}, "overflows float32"),
    ("merge-svd-alpha", ["merge", "--method", "svd", f"{R}/alpha0", f"{R}/a1", "-o", f"{R}/out"], {},
     "overflows float32"),
    ("merge-factor-linear-huge", ["merge", "--method", "factor_linear", f"{R}/huge0", f"{R}/a1", "-o", f"{R}/out"], {},
     "overflows float32"),
    ("diagnose-huge", ["diagnose", f"{R}/huge0", f"{R}/huge1"], {}, "overflows float32"),
    ("diagnose-alpha-1e308", ["diagnose", f"{R}/alpha0", f"{R}/a1"], {}, "overflows float32"),
    # 3. silent accepts, now refused
    ("merge-one-adapter", ["merge", "--method", "linear", f"{R}/a0", "-o", f"{R}/out"], {}, "two or more adapters"),
    ("merge-yaml-one-adapter", ["merge", f"{R}/merge_one.yaml", "-o", f"{R}/out"], {}, "two or more adapters"),
    ("run-preset-empty", ["run", "--preset", "", "--out", f"{R}/out"], {}, "unknown preset ''"),
    ("validate-preset-empty", ["validate", "--preset", ""], {}, "unknown preset ''"),
    ("data-preset-empty", ["data", "--preset", "", "--out", f"{R}/out"], {}, "unknown preset ''"),
    ("validate-duplicate-key", ["validate", f"{R}/dup.yaml"], {}, "duplicate key 'seed'"),
    ("run-duplicate-key", ["run", f"{R}/dup.yaml", "--out", f"{R}/out"], {}, "duplicate key 'seed'"),
    # a rank no memory holds: refused with the estimate before --out exists (it allocated 256 GB mid-run)
    ("run-huge-rank", ["run", f"{R}/huge_rank.yaml", "--out", f"{R}/out"], {}, "GiB to train an adapter of lora.r"),
    ("validate-huge-rank", ["validate", f"{R}/huge_rank.yaml"], {}, "GiB to train an adapter of lora.r"),
    ("validate-duplicate-nested", ["validate", f"{R}/dup_nested.yaml"], {}, "duplicate key 'familiarity'"),
    ("merge-yaml-duplicate-key", ["merge", f"{R}/merge_dup.yaml", "-o", f"{R}/out"], {}, "duplicate key 'method'"),
    ("config-seed-true", ["validate", f"{R}/seed_true.yaml"], {}, "expected an integer, got True"),
    ("grid-seed-true", ["validate", f"{R}/grid_seed_true.yaml"], {}, "expected an integer, got True"),
    ("diagnose-tokens-without-probe", [*DIAG, "--max-new-tokens", "-5"], {}, "--max-new-tokens applies only with --probe"),
    ("diagnose-methods-without-probe", [*DIAG, "--methods", "bogus"], {}, "--methods applies only with --probe"),
    ("diagnose-precision-without-probe", [*DIAG, "--precision", "fp8"], {}, "--precision applies only with --probe"),
    ("diagnose-base-without-probe", [*DIAG, "--base-model", f"{R}/tiny_base"], {}, "--base-model applies only"),
    ("merge-weights-empty", [*MERGE[:3], "--weights", "", *MERGE[3:], f"{R}/out"], {}, "--weights is empty"),
    ("merge-rank-huge", [*MERGE[:3], "--rank", "100000", *MERGE[3:], f"{R}/out"], {}, "--rank 100000"),
    # 4. refusals that used to come after the work (or the progress line) had started
    ("merge-weights-sum-zero", [*MERGE[:3], "--weights", "1,-1", *MERGE[3:], f"{R}/out"], {}, "weights sum to 0"),
    ("merge-cat-rank", ["merge", "--method", "cat", "--rank", "2", f"{R}/a0", f"{R}/a1", "-o", f"{R}/out"], {},
     "sets its own output rank"),
    ("merge-factor-linear-ranks", ["merge", "--method", "factor_linear", f"{R}/a0", f"{R}/r3", "-o", f"{R}/out"], {},
     "needs equal ranks"),
    ("merge-svd-own-and-output-rank", ["merge", "--method", "svd", "--param", "rank=1", "--rank", "2", f"{R}/a0",
                                       f"{R}/a1", "-o", f"{R}/out"], {}, "not both"),
    ("probe-methods-bogus", [*PROBE, "--methods", "bogus"], {}, "bogus"),
    ("probe-methods-empty", [*PROBE, "--methods", ","], {}, "--methods is empty"),
    ("probe-tokens-zero", [*PROBE, "--max-new-tokens", "0"], {}, "--max-new-tokens must be at least 1"),
    ("probe-methods-data", [*PROBE, "--methods", "lorahub"], {}, "needs data beyond the adapters"),
    ("no-arguments", [], {}, "no command given"),
    # 5. links out of a run directory: a resume never writes through them
    ("run-results-link", ["run", *SMOKE, "--out", f"{R}/run_linked"], {}, "is a symbolic link"),
    ("run-config-link", ["run", *SMOKE, "--out", f"{R}/run_linked_config"], {}, "is a symbolic link"),
    ("theory-figure-link", ["theory", "--quick", "--out", f"{R}/theory_linked"], {}, "is a symbolic link"),
    ("report-figures-link", ["report", f"{R}/run_report_linked"], {}, "is a symbolic link"),
]


@pytest.mark.parametrize(("argv", "env", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(tree, argv, env, message, monkeypatch, capsys):
    from lorarecycle.model.device import DEVICE_ENV

    monkeypatch.delenv(DEVICE_ENV, raising=False)  # a command may set it; monkeypatch restores it
    monkeypatch.delenv("LORARECYCLE_WORKERS", raising=False)
    cache = tree / "cache"
    for key, value in env.items():
        value = value.replace(R, str(tree))
        if key == "LORARECYCLE_CACHE":
            cache = Path(value)
        else:
            monkeypatch.setenv(key, value)
    args = [a.replace(R, str(tree)) for a in argv]
    before = snapshot(tree)
    code, _, stderr = cli_in_process(args, cache, monkeypatch, capsys)
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    if message is not None:
        assert message in lines[0], lines[0]
    assert snapshot(tree) == before


def test_there_are_enough_cases():
    assert len(CASES) >= 80 and len({c[0] for c in CASES}) == len(CASES)


def test_status_and_report_never_write_results(tree, monkeypatch, capsys):
    """Read-only commands skip a damaged line; only a run's resume moves it aside."""
    import shutil

    run = tree / "run_damaged_copy"
    shutil.copytree(tree / "run_report_linked", run, symlinks=True)
    (run / "report.html").unlink()
    (run / "results.jsonl").write_text((run / "results.jsonl").read_text() + '{"half a row\n{"model": ')
    before = snapshot(run)
    try:
        code, out, err = cli_in_process(["status", str(run)], tree / "cache", monkeypatch, capsys)
        assert code == 0 and "result rows" in out, err
        assert snapshot(run) == before and not (run / "results.jsonl.corrupt").exists()
    finally:
        shutil.rmtree(run)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_written_files_get_the_umask_modes_open_would_give(tmp_path, umask):
    from lorarecycle.artifacts import atomic_dir, atomic_write_text, write_json

    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        write_json(tmp_path / "b.json", {"a": 1})
        with atomic_dir(tmp_path / "adapter") as scratch:
            save_file({"w": torch.zeros(2)}, scratch / "w.safetensors")  # safetensors writes 0600
            (scratch / "sub").mkdir()
        (tmp_path / "kept.txt").write_text("")
        os.chmod(tmp_path / "kept.txt", 0o640)
        atomic_write_text(tmp_path / "kept.txt", "y")  # an existing file keeps its mode, as with open()
    finally:
        os.umask(previous)
    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(tmp_path / "a.txt") == mode(tmp_path / "b.json") == 0o666 & ~umask
    assert mode(tmp_path / "adapter" / "w.safetensors") == 0o666 & ~umask
    assert mode(tmp_path / "adapter") == mode(tmp_path / "adapter" / "sub") == 0o777 & ~umask
    assert mode(tmp_path / "kept.txt") == 0o640


def test_run_directory_files_are_never_written_through_links(tmp_path):
    from lorarecycle.artifacts import append_jsonl, read_jsonl
    from lorarecycle.errors import UserError

    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"a": 1}\nbroken\n')
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").symlink_to(outside)
    with pytest.raises(UserError, match="is a symbolic link"):
        append_jsonl(run / "results.jsonl", [{"b": 2}])
    with pytest.raises(UserError, match="is a symbolic link"):
        read_jsonl(run / "results.jsonl")  # the resume's reader would rewrite it
    assert read_jsonl(run / "results.jsonl", repair=False) == [{"a": 1}]  # reading alone is harmless
    assert outside.read_text() == '{"a": 1}\nbroken\n' and not list(run.glob("*.corrupt"))


def test_a_non_finite_merge_never_reports_zero_error():
    from lorarecycle.recycle.merge.apply import truncation_error
    from lorarecycle.recycle.merge.ops import LowRank, truncate

    inf = torch.full((2, 3), float("inf"))
    assert truncation_error(LowRank(inf, inf.T), LowRank(inf, inf.T)) != 0.0
    S = torch.tensor([float("nan"), 1.0])
    _, error = truncate(torch.eye(2), S, torch.eye(2), 1)
    assert math.isnan(error)  # NaN, not "0.00e+00"
    _, error = truncate(torch.eye(2), torch.zeros(2), torch.eye(2), 1)
    assert error == 0.0  # a zero update is still exact


@pytest.mark.parametrize(("value", "expected"), [("", None), (" ", None), ("3", 3), (" 2 ", 2)])
def test_worker_counts_parse_ascii_digits_only(value, expected):
    from lorarecycle.inputs import parse_workers

    assert parse_workers(value) == expected


def test_merge_of_ordinary_adapters_still_works_and_reports_its_error(tree, tmp_path, monkeypatch, capsys):
    args = ["merge", "--method", "ties", "--rank", "3", str(tree / "a0"), str(tree / "a1"), "-o", str(tmp_path / "m")]
    code, _, err = cli_in_process(args, tree / "cache", monkeypatch, capsys)
    assert code == 0, err
    assert "output rank 3" in err and "truncation error worst" in err
    from safetensors.torch import load_file

    tensors = load_file(tmp_path / "m" / "adapter_model.safetensors")
    assert all(torch.isfinite(t).all() for t in tensors.values())
