"""The `lorarecycle` CLI end to end: the smoke experiment, determinism, resume, bad input."""

from __future__ import annotations

import json

import pytest

from lorarecycle.tasks.two_hop import TWO_HOP

from .helpers import first_heading_block, acc_rows, accuracies, check_html_report, cli, cli_in_process


def test_smoke_experiment_end_to_end(smoke_run):
    root, result = smoke_run
    out = root / "run"
    acc = accuracies(out)
    models = {(m, lib) for m, lib, _ in acc}
    expected = {(m, None) for m in ("base", "expert:hop1", "expert:hop2", "expert:skill", "expert:general",
                                    "union_replay", "union_demos", "target_expert", "full_ft")}
    methods = ("uniform_factors", "uniform_delta", "arrow", "arrow_cos_gks", "mixture", "select_arrow",
               "select_retriever", "lorahub", "ties", "knots")
    expected |= {(m, lib) for m in methods for lib in ("two", "three")}
    assert models == expected
    assert len(acc) == len(expected) * len(TWO_HOP.test_splits) + len(TWO_HOP.base_checks)  # no duplicate rows
    from lorarecycle.results import SCHEMA_VERSION, ResultRow

    for line in (out / "results.jsonl").read_text().splitlines():  # every row is the documented schema
        row = ResultRow.model_validate_json(line)
        assert row.schema_version == SCHEMA_VERSION and row.seed == 0 and row.data_access in row.data_requirement
    for name in ("hop1", "hop2", "skill", "union_replay"):
        (adapter,) = (root / "cache" / "adapters").glob(f"{name}-*")  # the shared cache, named by content hash
        assert (adapter / "adapter_model.safetensors").is_file()
    assert (out / "recycled" / "uniform_delta-two" / "uniform_delta" / "adapter_config.json").is_file()
    report = (out / "report.md").read_text()
    assert "errors of the composed questions" in report.lower() and "| two | hop1 ~ hop2 |" in report
    # generation-free ranking next to exact match on every row, CoT too (smoke: 5 choices)
    rows = acc_rows(out)
    assert all(r["loglik_choices"] == 5 and 1 <= r["loglik_mean_rank"] <= 5 for r in rows)
    assert "## Log-likelihood ranking of the answer" in report and "| expert:hop1 | hop1 |" in report
    assert "twohop" in result.stdout and max(map(len, result.stdout.splitlines())) <= 100  # the results table
    # stderr is not a terminal here: plain progress lines, no bar fragments
    assert "pretraining base model: " in result.stderr and "━" not in result.stderr
    check_html_report(out / "report.html")
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["precision"]["config"] == "auto" and manifest["machine"]["capability"]
    assert manifest["machine"]["fp32_gflops"] > 0 and manifest["machine"]["bf16_gflops"] > 0  # the scale its timings are read on
    # where the time went: one timing per evaluated (model, split), summed in run.json; training
    # per stage from its metadata; no wall time in a result row (rows are reproducible)
    timings = [json.loads(line) for line in (out / "timings.jsonl").read_text().splitlines()]
    assert {(t["model"], t["library"], t["split"]) for t in timings} == set(acc)
    assert all(t["generation"] >= 0 and t["loglik"] >= 0 for t in timings)
    seconds = manifest["seconds"]
    assert seconds["evaluation"]["generation"] == pytest.approx(sum(t["generation"] for t in timings), abs=0.2)
    assert seconds["training"]["hop1"] == manifest["experts"]["hop1"]["train"]["seconds"]
    assert seconds["training"]["pretraining"] > 0 and seconds["this_invocation"] > 0
    assert seconds["evaluation"]["generation"] > 0 and seconds["evaluation"]["loglik"] > 0
    assert not any("seconds" in r for r in acc_rows(out))
    # the gates, with their numbers, in run.json, the report and above the printed table
    gates = {g["gate"]: g for g in manifest["gates"]}
    assert set(gates) == {"gate0", "gate1", "gate2"} and gates["gate1"]["passed"] is None
    subject = next(r for r in acc_rows(out) if (r["model"], r["split"]) == ("base", "twohop_cot"))["subject_accuracy"]
    assert gates["gate0"]["checks"][0]["value"] == subject
    assert manifest["attributable"] == (gates["gate0"]["passed"] and gates["gate2"]["passed"])
    assert "## Gates" in report and "## Chain-of-thought steps" in report and "against `union_replay`" in report
    # the verdict sentence opens report.md, the page's first heading block and the printed output
    verdict = "Gates passed" if manifest["attributable"] else "This run cannot tell whether recycling composes"
    assert manifest["headline"].startswith(verdict) and "two-hop questions by chain of thought" in manifest["headline"]
    assert report.split("\n## ")[0].count(manifest["headline"]) == 1
    assert first_heading_block(out / "report.html") == ["lorarecycle experiment smoke", manifest["headline"]]
    assert verdict in " ".join(result.stdout.split()).split("accuracy")[0]
    # composition given knowledge for every recycled row and union_replay, with n
    composition = {(e["model"], e["library"]): e for e in manifest["composition"]}
    recycled = {(r["model"], r["library"]) for r in rows if r["library"] is not None}
    assert recycled | {("union_replay", None)} <= set(composition)
    assert all(e["n"] == 12 for e in composition.values()) and "## Composition given knowledge" in report
    assert [d["check"] for d in manifest["gate_diagnostics"]] == [
        "base incontext_twohop_cot", "base incontext_distractor_cot", "union_replay retention"]
    # the replay recipe's experts stop on held-out checks, recorded in their metadata
    assert {"recall", "retention", "control"} <= set(manifest["experts"]["hop1"]["train"]["checks"][-1])
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["precision"] for r in rows} == {manifest["precision"]["resolved"]}
    assert {"subject_accuracy", "first_hop_accuracy", "second_hop_given_first"} <= set(
        next(r for r in rows if r["split"] == "twohop_cot"))
    for name in ("arrow-two", "select_retriever-three", "mixture-two"):  # routing traces, linked from the report
        assert (out / "figures" / f"routing-{name}.png").is_file() and f"figures/routing-{name}.png" in report
    assert "oracle_expert [three]" in report and "few-shot (4)" in report
    search = json.loads((out / "recycled" / "lorahub-two" / "lorahub" / "lorahub_search.json").read_text())
    assert len(search["history"]) == 6 and all(abs(w) <= 1.5 for w in search["weights"])
    assert (out / "data" / "twohop_cot.jsonl").is_file() and (out / "config.yaml").is_file()


def test_same_config_and_seed_give_identical_accuracies(smoke_run, tmp_path):
    root, _ = smoke_run
    # a fresh cache: pretraining, experts and evaluation all recomputed, with the precision
    # that `auto` chose given explicitly (on a CPU without bf16: fp32 and auto agree exactly)
    resolved = json.loads((root / "run" / "run.json").read_text())["precision"]["resolved"]
    again = cli("run", "--preset", "smoke", "--precision", resolved, "--out", str(tmp_path / "run"),
                cache=tmp_path / "cache")
    assert again.returncode == 0, again.stderr[-3000:]
    assert accuracies(tmp_path / "run") == accuracies(root / "run")
    # (a run on a cached base, experts trained in another process state: the SIGINT test below)


def test_a_new_out_reuses_the_cached_base_and_adapters_then_cache_rm_prunes(smoke_run, tmp_path):
    """The same config into a new --out trains nothing (base and adapters come from the
    content-keyed cache) and gives the same rows; `cache ls` lists the entries with sizes and
    `cache rm` removes what it names, after which a run trains that adapter again."""
    import shutil

    root, _ = smoke_run
    cache = tmp_path / "cache"
    shutil.copytree(root / "cache", cache)
    again = cli("run", "--preset", "smoke", "--out", str(tmp_path / "run"), cache=cache)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "pretraining" not in again.stderr and "training expert" not in again.stderr
    assert "full fine-tuning" not in again.stderr
    assert accuracies(tmp_path / "run") == accuracies(root / "run")
    listing = cli("cache", "ls", cache=cache)
    assert listing.returncode == 0 and "MiB" in listing.stdout
    (hop1,) = (cache / "adapters").glob("hop1-*")
    assert any(line.split()[0] == "adapters" and line.endswith(hop1.name) for line in listing.stdout.splitlines()[1:-1])
    assert cli("cache", "rm", hop1.name, cache=cache).returncode == 0
    assert not hop1.exists() and (cache / "adapters").glob("hop2-*")
    refused = cli("cache", "rm", "no-such-entry", cache=cache)
    assert refused.returncode == 2 and "cache entry 'no-such-entry'" in refused.stderr
    retrained = cli("run", "--preset", "smoke", "--out", str(tmp_path / "run2"), cache=cache)
    assert "training expert hop1" in retrained.stderr and "training expert hop2" not in retrained.stderr
    assert accuracies(tmp_path / "run2") == accuracies(root / "run")


def test_rerun_resumes_without_duplicate_rows(smoke_run, tmp_path):
    import shutil

    root, _ = smoke_run
    # a copy to damage: the shared run stays as built for the tests reading it beside this one
    out, cache = tmp_path / "run", tmp_path / "cache"
    shutil.copytree(root / "run", out)
    shutil.copytree(root / "cache", cache)
    before = (out / "results.jsonl").read_text()
    lines = before.splitlines(keepends=True)
    # simulate a crash mid-append (drop the last two rows, leave half a line) and damage to a
    # row in the middle (a disk error, an edit gone wrong)
    damaged = lines[5][: len(lines[5]) // 2] + "\n"
    (out / "results.jsonl").write_text("".join(lines[:5]) + damaged + "".join(lines[6:-2]) + lines[-2][:10])
    # and a stored expert whose weights were cut short: trained again, to the same weights
    expert = sorted((cache / "adapters").glob("hop1-*"))[0] / "adapter_model.safetensors"
    expert.write_bytes(expert.read_bytes()[:100])
    result = cli("run", "--preset", "smoke", "--out", str(out), cache=cache)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "moved 1 damaged line(s) to results.jsonl.corrupt" in result.stderr
    assert f"{expert.parent} is damaged" in result.stderr.replace("\n", "")
    assert (out / "results.jsonl.corrupt").read_text() == damaged
    after = (out / "results.jsonl").read_text().splitlines()
    assert len(after) == len(lines)
    key = lambda r: (r["model"], r["library"], r["split"])  # noqa: E731
    redone = {key(json.loads(x)): json.loads(x)["accuracy"] for x in after}
    assert redone == {key(json.loads(x)): json.loads(x)["accuracy"] for x in lines}


def test_resume_refuses_rows_of_other_trained_stages(smoke_run, tmp_path):
    """A run resumed with another base or adapter than its rows came from (new code, another
    cache) stops in one line, its results untouched; with the same stages it resumes."""
    import shutil

    root, _ = smoke_run
    out = tmp_path / "run"
    shutil.copytree(root / "run", out)
    stages = json.loads((out / "stages.json").read_text())
    assert {"base", "hop1", "hop2"} <= stages.keys() and stages["hop1"].startswith("hop1-")
    rows = (out / "results.jsonl").read_text()
    (out / "results.jsonl").write_text("".join(rows.splitlines(keepends=True)[:-3]))  # an interrupted run
    (out / "stages.json").write_text(json.dumps({**stages, "hop1": "hop1-000000000000"}))
    refused = cli("run", "--preset", "smoke", "--out", str(out), cache=root / "cache")
    assert refused.returncode != 0
    message = refused.stderr.strip().splitlines()[-1]
    assert "other trained stages (hop1: hop1-000000000000, now " in message and "choose another --out" in message
    assert (out / "results.jsonl").read_text() == "".join(rows.splitlines(keepends=True)[:-3])
    (out / "stages.json").write_text(json.dumps(stages))
    resumed = cli("run", "--preset", "smoke", "--out", str(out), cache=root / "cache")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert accuracies(out) == accuracies(root / "run")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--preset", "nope"], "unknown preset 'nope'"),
        (["run", "{cfg}"], "unknown recycling method 'unifrom_delta'. Did you mean 'uniform_delta'?"),
        (["run", "{bad_yaml}"], "malformed YAML"),
        (["run", "{extra_field}"], "field world.familarity: Extra inputs are not permitted"),
        (["run", "--preset", "smoke", "--base-model", "{missing}"], "no such directory"),
        (["run", "--preset", "smoke", "--base-model", "{not_a_model}"], "not a Hugging Face model directory"),
        (["run", "{empty_library}"], "library 'mine' is empty"),
        (["run", "{unknown_expert}"], "library 'mine' names expert 'hop3', which does not exist"),
        (["run", "{top_k}"], "top_k=3 must be between 1 and the library size 2"),
        (["run", "{overlap}"], "few-shot examples from 'twohop_cot' overlap the test chains (12 shared"),
        (["run", "{too_many_shots}"], "shots=99 but 'fewshot_twohop' has only 8 examples"),
        (["runn"], "No such command 'runn'"),
        (["run", "--bogus"], "No such option: --bogus"),
        (["run", "--seed", "x"], "Invalid value for '--seed'"),
        (["run", "--preset", "smoke", "--cell", "x"], "--cell names cells of a grid; this config has no axes"),
        (["run", "--preset", "smoke", "--precision", "half"], "field precision: Input should be 'auto', 'fp32' or"),
        (["run", "{traversal_label}"], "field methods.0.label: '../../victim' is not a safe name"),
        (["run", "{traversal_library}"], "'a/../../b' is not a safe name"),
        (["run", "{traversal_name}"], "field name: '../x' is not a safe name"),
        (["run", "{too_many_names}"], "the world needs 5084 distinct names of 1 word(s), only"),
        (["run", "{absurd_alpha}"], "field lora.alpha: Input should be less than or equal to 100000"),
        (["run", "{nan_lr}"], "field pretrain.lr: Input should be a finite number"),
        (["run", "--preset", "smoke", "--out", "{a_file}"], "exists and is not a directory"),
        (["run", "--preset", "smoke", "--out", "{under_a_file}"], "is a file, not a directory"),
        (["data", "--preset", "smoke", "--out", "{a_file}"], "exists and is not a directory"),
        (["run", "{hidden_zero}"], "field model.hidden_size: Input should be greater than or equal to 2"),
        (["run", "{heads_three}"], "field model: hidden_size 64 must be num_heads (3) times an even head size"),
        # method parameters are typed: refused before pretraining, not when the merge is built
        (["run", "{ties_sign}"], "method 'ties': parameter sign: Input should be 'total' or 'frequency'"),
        (["run", "--preset", "smoke", "--base-model", "{truncated_base}"], "model.safetensors: unreadable safetensors"),
        (["status", "{empty_dir}"], "neither grid.yaml nor config.yaml; not a run directory"),
        (["report", "{empty_dir}"], "neither grid.yaml nor config.yaml; not a run directory"),
        (["theory", "--bogus"], "No such option: --bogus"),
    ],
)
def test_bad_input_one_line_nonzero_no_traceback(tmp_path, args, message, monkeypatch, capsys):
    (tmp_path / "cfg.yaml").write_text("preset: smoke\nmethods: [{name: unifrom_delta}]\n")
    (tmp_path / "bad.yaml").write_text("seed: [1\n")
    (tmp_path / "extra.yaml").write_text("preset: smoke\nworld: {familarity: F}\n")
    (tmp_path / "empty_dir").mkdir()
    configs = {
        "empty_library": "libraries: {mine: []}",
        "unknown_expert": "libraries: {mine: [hop1, hop3]}",
        "top_k": "libraries: [two]\nmethods: [{name: arrow, params: {top_k: 3}}]",
        "overlap": "methods: [{name: lorahub, params: {examples: twohop_cot}}]",
        "too_many_shots": "methods: [{name: lorahub, params: {shots: 99}}]",
        "traversal_label": "methods: [{name: uniform_delta, label: ../../victim}]",
        "traversal_library": "libraries: {a/../../b: [hop1, hop2]}",
        "traversal_name": "name: ../x",
        "too_many_names": "world: {name_words: 1, n_familiar: 5000}",
        "absurd_alpha": "lora: {alpha: 1.0e+30}",
        "nan_lr": "pretrain: {lr: .nan}",
        "hidden_zero": "model: {hidden_size: 0}",
        "heads_three": "model: {hidden_size: 64, num_heads: 3}",
        "ties_sign": "methods: [{name: ties, params: {sign: majority}}]",
    }
    for name, text in configs.items():
        (tmp_path / f"{name}.yaml").write_text(f"preset: smoke\n{text}\n")
    (tmp_path / "a_file").write_text("not a directory")
    truncated = tmp_path / "truncated_base"
    truncated.mkdir()
    (truncated / "config.json").write_text('{"model_type": "llama"}')
    (truncated / "tokenizer.json").write_text("{}")
    (truncated / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{truncated")
    subs = {"{truncated_base}": "truncated_base", "{empty_dir}": "empty_dir", "{a_file}": "a_file", "{under_a_file}": "a_file/run", "{cfg}": "cfg.yaml", "{bad_yaml}": "bad.yaml", "{extra_field}": "extra.yaml",
            "{missing}": "no/such/dir", "{not_a_model}": "empty_dir", **{f"{{{n}}}": f"{n}.yaml" for n in configs}}
    args = [str(tmp_path / subs[a]) if a in subs else a for a in args]
    if "--out" not in args and args[0] in ("run", "data"):
        args = [*args, "--out", str(tmp_path / "out")]
    # in process through `main` (the same error handling); a real process per case is what
    # test_bad_input_through_a_real_process checks for a few of them
    code, _, stderr = cli_in_process(args, tmp_path / "cache", monkeypatch, capsys)
    assert code == 2
    assert message in stderr
    assert stderr.strip().count("\n") == 0 and "Traceback" not in stderr
    assert not (tmp_path / "out").exists() and (tmp_path / "a_file").read_text() == "not a directory"


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--preset", "nosuch"], "unknown preset 'nosuch'"),
    (["merge", "--method", "tie", "a", "b", "-o", "x"], "unknown merge method 'tie'"),
])
def test_bad_input_through_a_real_process(tmp_path, args, message):
    result = cli(*args, cache=tmp_path / "cache", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_out_dir_holding_another_experiment_is_refused_untouched(smoke_run, tmp_path):
    import shutil

    root, _ = smoke_run
    out = tmp_path / "run"
    shutil.copytree(root / "run", out)
    before = {p: p.read_bytes() for p in out.glob("*.jsonl")}
    result = cli("run", "--preset", "smoke", "--seed", "7", "--out", str(out), cache=root / "cache")
    assert result.returncode == 2 and "holds a different experiment" in result.stderr
    assert "Traceback" not in result.stderr
    assert before == {p: p.read_bytes() for p in out.glob("*.jsonl")}


def test_data_command_writes_inspectable_jsonl(tmp_path):
    result = cli("data", "--preset", "smoke", "--out", str(tmp_path / "d"), cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(x) for x in (tmp_path / "d" / "twohop_cot.jsonl").read_text().splitlines()]
    assert rows and {"prompt", "completion", "answer", "bridge"} <= set(rows[0])
    assert json.loads((tmp_path / "d" / "world.json").read_text())["chains"]


def test_a_label_cannot_reach_outside_the_run_directory(tmp_path):
    victim = tmp_path / "victim-two" / "uniform_delta"
    victim.mkdir(parents=True)
    (victim / "precious.txt").write_text("keep me")
    for label in ("../../victim", "..", "a/b", "/abs"):
        (tmp_path / "cfg.yaml").write_text(f"preset: smoke\nmethods: [{{name: uniform_delta, label: '{label}'}}]\n")
        result = cli("run", str(tmp_path / "cfg.yaml"), "--out", str(tmp_path / "runs" / "x"), cache=tmp_path / "cache")
        assert result.returncode == 2 and "is not a safe name" in result.stderr, result.stderr
    assert (victim / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.yaml", "victim-two"]


def test_pretraining_that_diverges_stops_in_one_line_and_caches_nothing(tmp_path):
    (tmp_path / "cfg.yaml").write_text("preset: smoke\npretrain: {lr: 1.0e+6}\n")
    # fp32: under bf16 autocast this lr saturates the weights (~5e6) with a finite, flat loss
    # instead of overflowing, which the loss and weight checks cannot tell from training
    result = cli("run", str(tmp_path / "cfg.yaml"), "--precision", "fp32", "--out", str(tmp_path / "out"),
                 cache=tmp_path / "cache")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: pretraining base model: the loss became")
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "cache").glob("base/*/*.safetensors"))


def test_a_second_run_on_a_directory_in_use_is_refused(tmp_path):
    from lorarecycle.artifacts import run_lock

    with run_lock(tmp_path / "out"):
        result = cli("run", "--preset", "smoke", "--out", str(tmp_path / "out"), cache=tmp_path / "cache")
    assert result.returncode == 2 and "is in use by another run (pid" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_validate_checks_everything_a_run_checks_and_trains_nothing(tmp_path):
    result = cli("validate", "--preset", "smoke", cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: smoke (config ") and "trains hop1, hop2" in result.stdout
    (tmp_path / "bad.yaml").write_text("preset: smoke\nmethods: [{name: knots, params: {merge: foo}}]\n")
    result = cli("validate", str(tmp_path / "bad.yaml"), cache=tmp_path / "cache")
    assert result.returncode == 2 and "method 'knots': parameter merge" in result.stderr
    assert not (tmp_path / "cache").exists()  # nothing pretrained, nothing cached
