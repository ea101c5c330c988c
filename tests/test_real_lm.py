"""Real Hugging Face architectures as the base (`--base-model`): randomly initialised tiny
Llama, Qwen2 (with a chat template) and GPT-2 (Conv1D layers) run the smoke experiment end
to end; devices, LoRA targets and prompts; bad input."""

from __future__ import annotations

import json

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

from lorarecycle.adapters.lora_io import read_adapter
from lorarecycle.config import PromptSpec, load_preset
from lorarecycle.errors import UserError
from lorarecycle.model.device import resolve_device
from lorarecycle.model.load import load_tokenizer
from lorarecycle.model.prompting import encode, render_datasets
from lorarecycle.model.random_hf import build_random_causal_lm
from lorarecycle.model.targets import ARCHITECTURE_TARGETS, resolve_target_modules
from lorarecycle.recycle.lorahub import set_updated_weights
from lorarecycle.recycle.merge.apply import MergeOptions, merge_adapters
from lorarecycle.recycle.routing.layer import Router
from lorarecycle.recycle.routing.model import build_routed_model
from lorarecycle.tasks.two_hop import TWO_HOP
from lorarecycle.tasks import task_of
from lorarecycle.tasks.example import Example
from lorarecycle.tasks.text import extract_answer

from .helpers import accuracies, cli


@pytest.fixture(scope="module")
def hf_bases(tmp_path_factory):
    """Random tiny models of four architectures with BPE tokenizers trained on the smoke world."""
    cfg = load_preset("smoke")
    _, datasets = task_of(cfg).build(cfg)
    texts = [ex.text for examples in datasets.values() for ex in examples]
    root = tmp_path_factory.mktemp("hf_bases")
    return {arch: build_random_causal_lm(arch, root / arch, texts) for arch in ("llama", "qwen2", "gpt2", "opt")}


# llama is the built-in model's architecture (the default suite runs it end to end through
# the pretraining path): through --base-model it runs with `make test-slow`
@pytest.mark.parametrize("arch", [pytest.param("llama", marks=pytest.mark.slow), "qwen2", "gpt2"])
def test_smoke_runs_end_to_end_on_each_architecture(hf_bases, tmp_path, arch):
    out = tmp_path / "run"
    result = cli("run", "--preset", "smoke", "--base-model", str(hf_bases[arch]), "--device", "cpu", "--out", str(out),
                 cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (tmp_path / "cache" / "base").exists()  # nothing pretrained: the given model is the base
    assert str(hf_bases[arch]) in (out / "config.yaml").read_text()
    # our pretraining facts (controls, retention) are not asked of a model that never saw them
    # no split that asks our pretraining facts (controls, matched control, retention) over a model we did not pretrain
    assert len(accuracies(out)) == 28 * len(TWO_HOP.splits_for("adapter", False)) + len(TWO_HOP.splits_for("base", False))
    assert not {split for _, _, split in accuracies(out)} & {"control_direct", "control_cot", "retention"}
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["prompt_format"] == ("chat" if arch == "qwen2" else "plain")
    # replay recipe over a model we did not pretrain: question forms, and the model's own text
    # replayed (not our corpus: smoke's replay_ratio 0.5 of the own examples)
    own = len((out / "data" / "hop1_facts.jsonl").read_text().splitlines())
    assert manifest["experts"]["hop1"]["train"]["examples"] == 2 * own + round(0.5 * own)
    replayed = [json.loads(x) for x in (out / "data" / "self_replay.jsonl").read_text().splitlines()]
    assert len(replayed) > own and all(r["kind"] == "text" and r["completion"] for r in replayed)
    (adapter,) = (tmp_path / "cache" / "adapters").glob("hop1-*")
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert sorted(config["target_modules"]) == sorted(ARCHITECTURE_TARGETS[arch])
    assert config["fan_in_fan_out"] == (arch == "gpt2")  # PEFT's flag for GPT-2's Conv1D
    assert (out / "figures" / "routing-arrow-two.png").is_file()
    # familiarity measured on the base, before training, for every test entity
    scores = [json.loads(x) for x in (out / "familiarity.jsonl").read_text().splitlines()]
    assert len(scores) == 3 * 12 + 20 and {s["role"] for s in scores} == {"a", "b", "c", "reference"}
    assert all(s["name_logprob"] < 0 and s["tokens"] >= 1 for s in scores)
    assert [r["role"] for r in manifest["measured_familiarity"]] == ["a", "b", "c", "reference"]
    row = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    assert set(row["measured_familiarity"]) == {"a", "b", "c", "reference"}
    assert "## Familiarity of the test entities" in (out / "report.md").read_text()


def test_routing_over_gpt2_conv1d_reproduces_peft(hf_bases, tmp_path):
    path = hf_bases["gpt2"]
    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj", "c_fc"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(path), config).save_pretrained(tmp_path / "e0")
    enc = load_tokenizer(path)(["The mentor of Kato Rimu is"], return_tensors="pt")
    with torch.no_grad():
        expected = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(path), tmp_path / "e0")(**enc).logits
        routed = build_routed_model(AutoModelForCausalLM.from_pretrained(path).eval(), [tmp_path / "e0"], ["e0"],
                                    Router(1, "token", top_k=1))
        assert torch.allclose(routed(**enc).logits, expected, atol=1e-5)
        # LoraHub writes candidate merges straight into the weights: Conv1D stores them transposed
        model = AutoModelForCausalLM.from_pretrained(path).eval()
        adapter = read_adapter(tmp_path / "e0")
        factors, _ = merge_adapters([adapter], "task_arithmetic", [1.0], {}, MergeOptions())
        original = {n: model.get_submodule(n).weight.detach().clone() for n in factors}
        set_updated_weights(model, original, factors)
        assert torch.allclose(model(**enc).logits, expected, atol=1e-4)


def test_chat_template_renders_every_example_for_training_and_decoding(hf_bases):
    cfg = load_preset("smoke")
    _, datasets = task_of(cfg).build(cfg)
    tokenizer = load_tokenizer(hf_bases["qwen2"])
    fmt, rendered = render_datasets({"hop1": datasets["hop1"]}, tokenizer, PromptSpec(system="Be brief."))
    ex, raw = rendered["hop1"][0], datasets["hop1"][0]
    assert fmt == "chat"
    assert ex.prompt.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n")
    assert ex.prompt.endswith(f"{raw.prompt}<|im_end|>\n<|im_start|>assistant\n")
    assert ex.completion == raw.completion.lstrip() and ex.answer == raw.answer
    plain_fmt, plain = render_datasets({"hop1": datasets["hop1"]}, tokenizer, PromptSpec(format="plain"))
    assert plain_fmt == "plain" and plain["hop1"][0] == raw
    with pytest.raises(UserError, match="has no chat template"):
        render_datasets(datasets, load_tokenizer(hf_bases["llama"]), PromptSpec(format="chat"))


def test_shots_put_fixed_demonstrations_of_the_same_kind_from_few_shot_chains_before_each_question(hf_bases):
    cfg = load_preset("smoke")
    _, datasets = task_of(cfg).build(cfg)
    pool = datasets["fewshot_twohop"] + datasets["fewshot_hop1"] + datasets["fewshot_hop2"]
    pool_chains = {ex.chain for ex in pool}
    test_chains = {ex.chain for split in TWO_HOP.test_splits for ex in datasets[split]}
    assert pool_chains and not pool_chains & test_chains
    sets = {"twohop_cot": datasets["twohop_cot"], "hop1": datasets["hop1"], "hop1_facts": datasets["hop1_facts"]}
    spec = PromptSpec(format="plain", shots=2)
    _, plain = render_datasets(sets, load_tokenizer(hf_bases["llama"]), spec, ("twohop_cot", "hop1"), pool, seed=1)
    assert plain["hop1_facts"] == sets["hop1_facts"]  # training data never gets demonstrations
    for split in ("twohop_cot", "hop1"):
        for raw, shown in zip(sets[split], plain[split]):
            demos = shown.prompt[: -len(raw.prompt)].split("\n\n")[:-1]
            assert shown.prompt.endswith(raw.prompt) and len(demos) == 2
            kind = [ex for ex in pool if ex.kind == raw.kind]
            assert all(any(d == ex.prompt + ex.completion for ex in kind) for d in demos), demos
    again = render_datasets(sets, load_tokenizer(hf_bases["llama"]), spec, ("twohop_cot", "hop1"), pool, seed=1)[1]
    assert again == plain  # the same demonstrations for every model of a run
    _, chat = render_datasets(sets, load_tokenizer(hf_bases["qwen2"]), PromptSpec(shots=2), ("twohop_cot",), pool, 1)
    ex = chat["twohop_cot"][0]
    assert ex.prompt.count("<|im_start|>user") == 3 and ex.prompt.count("<|im_start|>assistant") == 3
    assert ex.prompt.endswith(f"{sets['twohop_cot'][0].prompt}<|im_end|>\n<|im_start|>assistant\n")


def test_in_context_checks_get_demonstrations_in_their_own_form_from_few_shot_chains(hf_bases):
    """A distractor question is shown solved distractor questions (facts stated, two per
    relation) over few-shot chains, never a test chain; other splits draw from the pool."""
    cfg = load_preset("smoke")
    _, datasets = task_of(cfg).build(cfg)
    fewshot_chains = {ex.chain for ex in datasets["fewshot_twohop"]}
    pools = {split: datasets[demos] for split, demos in TWO_HOP.demo_sets.items()}
    assert {ex.chain for p in pools.values() for ex in p} == fewshot_chains
    sets = {split: datasets[split] for split in ("incontext_distractor_cot", "incontext_twohop_cot", "twohop_cot")}
    _, plain = render_datasets(sets, load_tokenizer(hf_bases["llama"]), PromptSpec(format="plain", shots=2),
                               tuple(sets), datasets["fewshot_twohop"], 1, pools)
    for split, examples in plain.items():
        own = pools.get(split, datasets["fewshot_twohop"])
        for raw, shown in zip(sets[split], examples):
            demos = shown.prompt[: -len(raw.prompt)].split("\n\n")[:-1]
            assert len(demos) == 2 and all(any(d == ex.prompt + ex.completion for ex in own) for d in demos)
            if split == "incontext_distractor_cot":  # four stated facts before each demonstration's question
                assert all(d.split("Question:")[0].count(".") == 4 for d in demos), demos


def test_shots_need_a_real_base_model():
    from lorarecycle.pipeline import validate

    cfg = load_preset("smoke").model_copy(update={"prompt": PromptSpec(shots=2)})
    with pytest.raises(UserError, match="prompt.shots: the built-in model"):
        validate(cfg)


def test_text_that_already_holds_bos_gets_no_second_one(hf_bases):
    tokenizer = load_tokenizer(hf_bases["llama"])  # adds <s> itself
    plain = encode(tokenizer, "The mentor of")["input_ids"]
    rendered = encode(tokenizer, "<s>The mentor of")["input_ids"]
    assert plain == rendered and plain.count(tokenizer.bos_token_id) == 1


@pytest.mark.parametrize(("generation", "kind", "expected"), [
    (" Kato Rimu.", "fact", "kato rimu"),
    ("**Kato Rimu**\n", "direct", "kato rimu"),
    ("Answer: KATO RIMU. Because", "direct", "kato rimu"),
    ("The employer of the mentor of Lo Ba is Kato Rimu.", "direct", "kato rimu"),
    (" The mentor of A is B. The employer of B is Kato Rimu. So the answer is Kato Rimu. So", "cot", "kato rimu"),
    ("Step 1 ... The final answer is: *Kato Rimu*!", "cot", "kato rimu"),
    ("The mentor of A is B.", "cot", ""),  # never states an answer
    ("So the answer is Kato Rimu. The answer is Lo Ba.", "cot", "kato rimu"),  # the first answer counts
    ("Kato Rimu is a mentor.", "fact", "kato rimu is a mentor"),  # no restated "The ... is X": kept as is
])
def test_answer_extraction_is_robust_to_formatting(generation, kind, expected):
    assert extract_answer(generation, kind) == expected


def test_target_modules_resolved_by_architecture_with_clear_errors(hf_bases):
    gpt2 = AutoModelForCausalLM.from_pretrained(hf_bases["gpt2"])
    assert resolve_target_modules(gpt2, "auto") == ["c_attn", "c_proj", "c_fc"]
    assert resolve_target_modules(gpt2, ["c_fc"]) == ["c_fc"]
    with pytest.raises(UserError, match="q_proj not among the linear layers of this gpt2 model"):
        resolve_target_modules(gpt2, ["q_proj", "c_fc"])
    opt = AutoModelForCausalLM.from_pretrained(hf_bases["opt"])
    with pytest.raises(UserError, match="no known LoRA target modules for model_type 'opt'.*fc1, fc2, k_proj"):
        resolve_target_modules(opt, "auto")
    assert resolve_target_modules(opt, ["q_proj", "v_proj"]) == ["q_proj", "v_proj"]
    assert resolve_target_modules(gpt2, ["attn.c_attn"]) == ["attn.c_attn"]  # a path suffix, as PEFT matches
    with pytest.raises(UserError, match="mlp.c_attn not among"):
        resolve_target_modules(gpt2, ["mlp.c_attn"])


def test_device_choices():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserError, match="expected auto, cpu, cuda or cuda:N"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU is visible"):
            resolve_device("cuda:0")


@pytest.mark.parametrize(("case", "message"), [
    ("no_tokenizer", "no tokenizer (tokenizer.json"),
    ("opt", "no known LoRA target modules for model_type 'opt'"),
    ("bad_target", "lora.target_modules: c_attn not among the linear layers of this llama model"),
    ("cuda", "no CUDA GPU is visible"),
    ("unknown_type", "not a causal LM transformers can build without remote code"),
    ("chain_chat", "experts.chain_form writes plain texts, and this model's prompts are chat turns"),
    ("chain_math", "experts.chain_form: task math has no chain forms"),
    ("pretrain_chain_math", "pretrain.chain_form: task math has no chain forms"),
])
def test_bad_real_lm_input_one_line_nonzero_nothing_written(hf_bases, tmp_path, case, message):
    if case == "cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    no_tokenizer = tmp_path / "no_tokenizer"
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors"):
        (no_tokenizer / name).write_bytes((hf_bases["llama"] / name).read_bytes())
    (tmp_path / "bad_target.yaml").write_text("preset: smoke\nlora: {target_modules: [c_attn]}\n")
    (tmp_path / "chain_chat.yaml").write_text("preset: smoke\nexperts: {epochs: 3, lr: 0.003, chain_form: true}\n")
    (tmp_path / "chain_math.yaml").write_text("preset: smoke-math\nexperts: {epochs: 3, lr: 0.003, chain_form: true}\n")
    (tmp_path / "pretrain_chain_math.yaml").write_text("preset: smoke-math\npretrain: {epochs: 2, lr: 0.003, "
                                                       "chain_form: true}\n")
    unknown_type = tmp_path / "unknown_type"
    unknown_type.mkdir()
    for f in hf_bases["llama"].iterdir():
        (unknown_type / f.name).write_bytes(f.read_bytes())
    config = json.loads((unknown_type / "config.json").read_text())
    (unknown_type / "config.json").write_text(json.dumps({**config, "model_type": "foo_bar"}))
    args = {
        "no_tokenizer": ["--preset", "smoke", "--base-model", str(no_tokenizer)],
        "opt": ["--preset", "smoke", "--base-model", str(hf_bases["opt"])],
        "bad_target": [str(tmp_path / "bad_target.yaml"), "--base-model", str(hf_bases["llama"])],
        "cuda": ["--preset", "smoke", "--device", "cuda"],
        "unknown_type": ["--preset", "smoke", "--base-model", str(unknown_type)],
        "chain_chat": [str(tmp_path / "chain_chat.yaml"), "--base-model", str(hf_bases["qwen2"])],
        "chain_math": [str(tmp_path / "chain_math.yaml")],
        "pretrain_chain_math": [str(tmp_path / "pretrain_chain_math.yaml")],
    }[case]
    result = cli("run", *args, "--out", str(tmp_path / "out"), cache=tmp_path / "cache")
    assert result.returncode == 2 and message in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_micro_batches_give_the_full_batch_gradient(hf_bases):
    from lorarecycle.config import TrainSpec
    from lorarecycle.model.batching import encode_example
    from lorarecycle.train.trainer import accumulate_gradients

    cfg = load_preset("smoke")
    _, datasets = task_of(cfg).build(cfg)
    tokenizer = load_tokenizer(hf_bases["llama"])
    rows = [encode_example(tokenizer, ex, loss_on_prompt=False) for ex in datasets["twohop_cot"][:5] + datasets["hop1"][:2]]
    grads, losses = [], []
    for micro in (None, 2):
        model = AutoModelForCausalLM.from_pretrained(hf_bases["llama"])
        spec = TrainSpec(epochs=1, lr=1.0, micro_batch_size=micro)
        loss, _ = accumulate_gradients(model, rows, tokenizer.pad_token_id, torch.device("cpu"), spec)
        losses.append(float(loss))
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-4)


def test_auto_batch_size_follows_free_memory(hf_bases):
    from lorarecycle.evaluate.decode import auto_batch_size

    model = AutoModelForCausalLM.from_pretrained(hf_bases["qwen2"])
    assert auto_batch_size(model, 128) == 128  # a tiny model: capped on CPU
    assert 1 <= auto_batch_size(model, 128, memory_fraction=1e-9) < 128


def test_name_scores_are_the_model_log_probabilities(hf_bases):
    from lorarecycle.evaluate.familiarity import CONTEXT, name_scores

    path = hf_bases["gpt2"]
    model, tokenizer = AutoModelForCausalLM.from_pretrained(path).eval(), load_tokenizer(path)
    names = ["Kato Rimu", "Lo", "Zoge Gapa Sedu"]
    contexts = [CONTEXT, "Question: Who is the employer of the mentor of", "A bag of"]
    scores = name_scores(model, tokenizer, names, batch_size=2, contexts=contexts)  # padded batches
    for name, context, score in zip(names, contexts, scores):
        ids = tokenizer(f"{context} {name}")["input_ids"]
        n_context = len(tokenizer(context)["input_ids"])
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
        expected = [float(logp[t - 1, ids[t]]) for t in range(n_context, len(ids))]
        assert score["tokens"] == len(expected)
        assert score["name_logprob"] == pytest.approx(sum(expected) / len(expected), abs=1e-4)
        assert (score["rest_logprob"] is None) == (len(name.split()) == 1)


@pytest.mark.parametrize("model_type", sorted(ARCHITECTURE_TARGETS))
def test_every_listed_architecture_has_its_target_modules(model_type):
    """Module skeletons (meta device, no weights) of each family: the table matches the
    modules transformers actually builds."""
    from transformers import AutoConfig

    from lorarecycle.model.targets import skeleton

    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                 num_key_value_heads=1, vocab_size=64, head_dim=16, n_embd=32, n_layer=1, n_head=2,
                 pad_token_id=0, bos_token_id=1, eos_token_id=2)
    try:
        config = AutoConfig.for_model(model_type, **small)
    except ValueError:
        pytest.skip(f"transformers has no {model_type}")
    model = skeleton(config)
    assert resolve_target_modules(model, "auto") == list(ARCHITECTURE_TARGETS[model_type])


def test_decoding_stops_at_the_model_own_end_of_turn_too(hf_bases):
    from lorarecycle.evaluate.decode import stop_token_ids

    model = AutoModelForCausalLM.from_pretrained(hf_bases["qwen2"])
    tokenizer = load_tokenizer(hf_bases["qwen2"])
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, 7]
    assert stop_token_ids(model, tokenizer) == [tokenizer.eos_token_id, 7]


def test_ray_cells_need_a_gpu_each_for_a_cuda_device(monkeypatch, tmp_path):
    pytest.importorskip("ray")
    from lorarecycle.model.device import DEVICE_ENV
    from lorarecycle.sweep.executors import run_ray
    from lorarecycle.sweep.grid import ExecutorSpec

    monkeypatch.setenv(DEVICE_ENV, "cuda:1")
    with pytest.raises(UserError, match="give each cell a GPU"):
        run_ray([], tmp_path, ExecutorSpec(name="ray", num_gpus=0), run_cell=lambda cell, run_dir: 0)


def test_decode_batch_size_is_positive_or_auto():
    from pydantic import ValidationError

    from lorarecycle.config import EvalSpec

    assert EvalSpec(batch_size="auto").batch_size == "auto" and EvalSpec(batch_size=4).batch_size == 4
    with pytest.raises(ValidationError):
        EvalSpec(batch_size=0)


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gpt2", "opt"])
def test_scored_loss_equals_the_models_own_loss_and_gradient(hf_bases, arch):
    """The LM head on scored positions only: same loss and gradients as the full forward,
    with and without a LoRA on every architecture (and a batch with nothing scored)."""
    from lorarecycle.model.batching import IGNORE, collate
    from lorarecycle.train.trainer import scored_loss

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(hf_bases[arch]).eval()
    target = ["q_proj", "v_proj"] if arch == "opt" else resolve_target_modules(model, "auto")  # opt: no auto table
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=target, init_lora_weights=False))
    rows = [([5, 6, 7, 8, 9, 10], [IGNORE, IGNORE, IGNORE, 8, 9, 10]), ([5, 6, 7], [IGNORE, 6, 7])]
    batch = collate(rows, pad_id=0)
    for m in (model, peft_model):
        m.zero_grad()
        scored_loss(m, batch).backward()
        ours = {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}
        m.zero_grad()
        reference = m(**batch).loss
        reference.backward()
        assert torch.allclose(scored_loss(m, batch), reference, atol=1e-6)
        theirs = {n: p.grad for n, p in m.named_parameters() if p.grad is not None}
        assert ours.keys() == theirs.keys()
        for name in ours:
            torch.testing.assert_close(ours[name], theirs[name], atol=1e-6, rtol=1e-5)
    nothing = collate([([5, 6, 7], [IGNORE, IGNORE, IGNORE])], pad_id=0)
    assert float(scored_loss(peft_model, nothing)) == 0.0


def test_decoding_ends_at_a_stop_string_and_the_text_is_cut_before_it(hf_bases):
    """A plain few-shot prompt's separator ends a generation (as lm-evaluation-harness's
    `until`): the stopped text is the free run's text up to the stop string's first occurrence."""
    from lorarecycle.evaluate.decode import greedy_decode

    # random weights repeat a token; GPT-2's after this prompt ("itit...") has windows that
    # first occur inside the generated text (test_smollm2 checks the real separator)
    model = AutoModelForCausalLM.from_pretrained(hf_bases["gpt2"]).eval()
    tokenizer = load_tokenizer(hf_bases["gpt2"])
    prompt = "The employer of"
    (free,) = greedy_decode(model, tokenizer, [prompt], 24, 1)  # never EOS: 24 tokens of text
    # a stop string whose first occurrence lies inside the generated text (HF also matches one
    # that begins in the prompt; our prompts end in "Answer:" / "Reasoning:", never a separator)
    whole = prompt + free
    stop = next(w for i in range(1, len(free) - 2) if (w := free[i : i + 3]).strip()
                and whole.find(w) == len(prompt) + i)
    (stopped,) = greedy_decode(model, tokenizer, [prompt], 24, 1, (stop,))
    assert stopped == free[: free.find(stop)] and stop not in stopped


def test_the_replay_of_a_given_base_model_is_its_own_seeded_text(hf_bases, tmp_path):
    """Self-generated replay: texts the model writes after common openings, the same for the
    same seed, cached in the run directory (a resume replays the same texts), cut at a
    sentence end; the replay recipe draws from them with `replay_from: facts` as well."""
    from lorarecycle.adapters.recipe import recipe_examples
    from lorarecycle.adapters.self_replay import OPENINGS, SAMPLES, self_generated_pool, whole_sentences
    from lorarecycle.config import ExpertTrainSpec
    from lorarecycle.tasks.recipe_sets import REPLAY_POOL

    pool = self_generated_pool(hf_bases["gpt2"], 3, tmp_path / "a.jsonl")
    assert 0.9 * SAMPLES <= len(pool) <= SAMPLES and {ex.prompt for ex in pool} == set(OPENINGS)  # empty ones dropped
    assert pool == self_generated_pool(hf_bases["gpt2"], 3, tmp_path / "b.jsonl")  # seeded
    assert pool != self_generated_pool(hf_bases["gpt2"], 4, tmp_path / "c.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({**r, "completion": " cached."}) + "\n" for r in rows))
    assert self_generated_pool(hf_bases["gpt2"], 3, tmp_path / "a.jsonl")[0].completion == " cached."
    assert whole_sentences(" It rains. Then it stops! And") == " It rains. Then it stops!"
    assert whole_sentences(" no end") == " no end"
    own = [Example(f"f{i}", "fact", f"The mentor of Ra{i} is", " Ka.", "Ka") for i in range(8)]
    spec = ExpertTrainSpec(epochs=1, lr=1e-3, replay_ratio=1.0, replay_from="facts", cot_form=False, chain_form=False,
                           replay_kl=1.0)
    recipe = recipe_examples(("own",), {"own": own, REPLAY_POOL: pool}, spec, 0)
    replayed = [ex for ex in recipe.first_epoch() if ex.kind == "text"]
    assert len(replayed) == 8 and all(ex.distill for ex in replayed)


def test_replay_after_demos_trains_each_fact_after_fresh_demonstrations_and_stops_on_recall_so(hf_bases):
    """Candidate B of docs/probes.md (*Facts after demonstrations on a real LM*): each own
    example also after `prompt.shots` demonstrations of its kind from the few-shot chains, a
    new draw every epoch, loss on its answer only; the stop check reads the facts after the
    evaluation's demonstrations. The replay recipe's material is unchanged by it."""
    from functools import partial

    from lorarecycle.adapters.recipe import recipe_examples
    from lorarecycle.model.prompting import after_demonstrations
    from lorarecycle.stages import held_out_monitor, training_spec

    cfg = load_preset("smoke")
    cfg = cfg.model_copy(update={"prompt": PromptSpec(format="plain", shots=2),
                                 "experts": cfg.experts.model_copy(update={"recipe": "replay_after_demos"})})
    _, datasets = task_of(cfg).build(cfg)
    pool = TWO_HOP.demo_pool(datasets)
    demo_forms = partial(after_demonstrations, pool, 2)
    own = datasets["hop1_facts"]
    spec = training_spec(cfg, "union_replay", ("hop1_facts",))
    assert spec.after_demos  # a replay reference keeps the after-demonstrations recipe
    recipe = recipe_examples(("hop1_facts",), datasets, spec, 7, None, demo_forms)
    epochs = [[ex for ex in recipe.regroup(e) if ex.id.startswith("demos:")] for e in (0, 1)]
    for shown in epochs:
        assert [ex.id for ex in shown] == [f"demos:{ex.id}" for ex in own]
        for raw, ex in zip(own, shown):
            demos = ex.prompt[: -len(raw.prompt)].split("\n\n")[:-1]
            assert ex.prompt.endswith(raw.prompt) and ex.completion == raw.completion and ex.loss_on_prompt is False
            assert len(demos) == 2 and all(any(d == p.prompt + p.completion for p in pool if p.kind == raw.kind)
                                           for d in demos)
    assert [ex.prompt for ex in epochs[0]] != [ex.prompt for ex in epochs[1]]  # a new draw every epoch
    replay = spec.model_copy(update={"recipe": "replay"})
    plain_replay = recipe_examples(("hop1_facts",), datasets, replay, 7)
    assert plain_replay.first_epoch() == recipe_examples(("hop1_facts",), datasets, replay, 7, None,
                                                         demo_forms).first_epoch()
    assert plain_replay.first_epoch() == [ex for ex in recipe.first_epoch() if not ex.id.startswith("demos:")]
    monitor = held_out_monitor(cfg, datasets, ("hop1_facts",), spec, 7)
    asked = monitor.checks["recall"]
    assert asked and all(ex.prompt.count("\n\n") == 2 and any(ex.prompt.endswith(r.prompt) for r in own)
                         for ex in asked)


def test_replay_after_demos_needs_shots():
    from lorarecycle.pipeline import validate

    cfg = load_preset("smoke")
    cfg = cfg.model_copy(update={"experts": cfg.experts.model_copy(update={"recipe": "replay_after_demos"})})
    with pytest.raises(UserError, match="experts.recipe replay_after_demos trains after the prompt.shots"):
        validate(cfg)
