"""Experts: PEFT save -> load round trip, and our reader agrees with PEFT's merge."""

from functools import partial

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from lorarecycle.adapters.experts import train_expert
from lorarecycle.adapters.lora_io import read_adapter
from lorarecycle.config import LoraSpec, TrainSpec
from lorarecycle.model.load import load_tokenizer
from lorarecycle.tasks.example import Example
from lorarecycle.model.batching import IGNORE, collate, encode_example

from .helpers import make_peft_adapter


def test_peft_round_trip_same_outputs_and_reader_matches_delta(tiny_base, tmp_path):
    live = make_peft_adapter(tiny_base, tmp_path / "e", seed=3).eval()
    loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), tmp_path / "e").eval()
    ids = torch.randint(4, 50, (3, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(live(ids).logits, loaded(ids).logits)
    folded = loaded.merge_and_unload()
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    adapter = read_adapter(tmp_path / "e")
    assert len(adapter.modules) == 2 * 3  # 2 layers x (q, v, down)
    for name, module in adapter.modules.items():
        delta = folded.get_submodule(name).weight - base.get_submodule(name).weight
        torch.testing.assert_close(module.delta(), delta.detach(), rtol=1e-4, atol=1e-6)


def completion_loss(model, tokenizer, examples):
    batch = collate([encode_example(tokenizer, ex, loss_on_prompt=False) for ex in examples], tokenizer.pad_token_id)
    with torch.no_grad():
        return model(**batch).loss.item()


def test_train_expert_writes_a_loadable_adapter_that_learns(tiny_base, tmp_path):
    examples = [Example(f"f{i}", "fact", f"The mentor of Ka{'ko' * (i + 1)} Bo is", " Ri Su.", "Ri Su") for i in range(4)]
    tokenizer = load_tokenizer(tiny_base)
    before = completion_loss(AutoModelForCausalLM.from_pretrained(tiny_base), tokenizer, examples)
    train_expert(tiny_base, examples, LoraSpec(r=2, alpha=4, target_modules=["q_proj", "v_proj"]),
                         TrainSpec(epochs=100, lr=5e-2, batch_size=4), seed=0, out=tmp_path / "x",
                         name="x", key="k")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), tmp_path / "x")
    after = completion_loss(model, tokenizer, examples)
    # a random tiny base has tiny tied embeddings, so a rank-2 adapter cannot fit fully; it must still learn
    assert after < before - 0.3
    assert {n.rsplit(".", 1)[-1] for n in read_adapter(tmp_path / "x").modules} == {"q_proj", "v_proj"}


def joined(facts: list[Example], k: int, epoch: int = 0) -> list[Example]:
    """The facts `k` to a training sequence (a long text), rotated by `epoch`."""
    facts = facts[epoch % len(facts):] + facts[: epoch % len(facts)]
    return [Example(f"joined:{i}", "joined", " ".join(ex.text for ex in facts[i:i + k]), "", "")
            for i in range(0, len(facts), k)]


def test_training_refuses_sequences_longer_than_the_model_positions_and_saves_nothing(tiny_base, tmp_path):
    """tiny_base has 64 positions: a text of four long facts does not fit, and a rotary model
    would otherwise train on it silently."""

    from lorarecycle.errors import UserError

    facts = [Example(f"f{i}", "fact", f"The mentor of Ka{'ko' * 8} Bo is", " Ri Su.", "Ri Su") for i in range(8)]
    spec = TrainSpec(epochs=2, lr=1e-3, batch_size=4)
    lora = LoraSpec(r=2, alpha=4, target_modules=["q_proj"])
    with pytest.raises(UserError, match=r"training expert x: 2 training sequences of epoch 1 are longer than the "
                                        r"model's 64 positions"):
        train_expert(tiny_base, [], lora, spec, seed=0, out=tmp_path / "x", name="x", key="k",
                     loss_on_prompt=True, fresh=partial(joined, facts, 4))
    assert not (tmp_path / "x").exists()

    def later_too_long(epoch: int) -> list[Example]:  # fits in epoch 1, not in epoch 2
        return joined(facts, 2, epoch) if epoch == 0 else joined(facts[:4], 4) + joined(facts[:6], 2, epoch)

    with pytest.raises(UserError, match=r"1 training sequences of epoch 2 are longer"):
        train_expert(tiny_base, [], lora, spec, seed=0, out=tmp_path / "z", name="z", key="k",
                     loss_on_prompt=True, fresh=later_too_long)
    assert not (tmp_path / "z").exists()  # refused before the first step, not after an epoch
    train_expert(tiny_base, [], lora, spec, seed=0, out=tmp_path / "y", name="y", key="k", loss_on_prompt=True,
                 fresh=partial(joined, facts, 2))  # two to a sequence fit
    assert (tmp_path / "y" / "adapter_model.safetensors").is_file()


def test_a_recipe_with_fresh_material_reaches_training_through_the_job(tiny_base, tmp_path):
    """`train_adapter_once` trains the recipe's fixed examples and its fresh material of each
    epoch (a replay drawn every epoch, chain forms): with it dropped, such a recipe would
    train on its fixed examples alone."""

    from lorarecycle.adapters.experts import expert_meta
    from lorarecycle.adapters.recipe import Recipe
    from lorarecycle.evaluate.monitor import HeldOutMonitor
    from lorarecycle.config import EvalSpec
    from lorarecycle.jobs import train_adapter_once

    own = [Example(f"f{i}", "fact", f"The mentor of Ka{'ko' * i} Bo is", " Ri Su.", "Ri Su") for i in range(6)]
    replay = [Example("r", "fact", "The employer of Ri Su is", " Ka Bo.", "Ka Bo")]
    recipe = Recipe(replay, True, partial(joined, own, 2))
    monitor = HeldOutMonitor({"recall": tuple(own[:2])}, None, 5, EvalSpec())
    train_adapter_once(tiny_base, recipe, LoraSpec(r=2, alpha=4, target_modules=["q_proj"]),
                       TrainSpec(epochs=2, lr=1e-3, batch_size=2), 0, tmp_path / "a", "a", "k", monitor)
    train = expert_meta(tmp_path / "a")["train"]
    assert train["examples"] == len(replay) + 3 and train["steps"] == 2 * 2


@pytest.mark.parametrize("job", ["adapter", "full"])
def test_a_recipe_that_masks_its_fresh_prompts_reaches_training_masked(tiny_base, tmp_path, monkeypatch, job):
    """`chain_loss: second_step`: the fixed examples keep the loss on their prompts, the fresh
    chain forms (`Example.loss_on_prompt=False`) have theirs masked, in the trainer's encoding
    itself, for a LoRA and for a full fine-tune alike."""
    from lorarecycle.adapters.recipe import Recipe
    from lorarecycle.config import EvalSpec
    from lorarecycle.evaluate.monitor import HeldOutMonitor
    from lorarecycle.jobs import train_adapter_once, train_full_once
    from lorarecycle.train import trainer

    seen, encode = {}, trainer.encode_example

    def recording(tokenizer, ex, loss_on_prompt):
        ids, labels = encode(tokenizer, ex, loss_on_prompt)
        seen[ex.id] = labels[0] != IGNORE  # the prompt's first token carries loss
        return ids, labels

    monkeypatch.setattr(trainer, "encode_example", recording)
    own = [Example("own", "fact", "The mentor of Ka Bo is", " Ri Su.", "Ri Su")]
    train = TrainSpec(epochs=2, lr=1e-3, batch_size=2)
    for masked in (False, True):
        fresh = partial(lambda masked, epoch: [Example(
            f"chain:{epoch}", "cot", "Question: Who? Reasoning: The rival of Zo is Ka Bo.",
            " The mentor of Ka Bo is Ri Su. So the answer is Ri Su.", "Ri Su", loss_on_prompt=False if masked else None)],
            masked)
        seen.clear()
        recipe = Recipe(own, True, fresh)
        monitor = HeldOutMonitor({"recall": tuple(own)}, None, 5, EvalSpec())
        if job == "adapter":
            train_adapter_once(tiny_base, recipe, LoraSpec(r=2, alpha=4, target_modules=["q_proj"]), train, 0,
                               tmp_path / f"a{masked}", "m", "k", monitor)
        else:
            train_full_once(tiny_base, recipe, train, 0, tmp_path / f"f{masked}", "k", monitor)
        assert seen == {"own": True, "chain:0": not masked, "chain:1": not masked}

def _distill_batch(tiny_base):
    tokenizer = load_tokenizer(tiny_base)
    examples = [Example(f"r{i}", "fact", f"The mentor of Ka{'ko' * (i + 1)} Bo is", " Ri Su.", "Ri Su") for i in range(3)]
    rows = [encode_example(tokenizer, ex, loss_on_prompt=i == 0) for i, ex in enumerate(examples)]
    return rows, tokenizer.pad_token_id


def test_kl_to_the_adapter_off_model_is_zero_at_init_and_matches_a_separate_base(tiny_base, tmp_path):
    from lorarecycle.train.trainer import kl_to_adapter_off, scored_loss

    rows, pad = _distill_batch(tiny_base)
    batch = collate(rows, pad)
    distill = torch.tensor([False, True, True])
    model = make_peft_adapter(tiny_base, tmp_path / "e", seed=3)
    with torch.no_grad():
        _, kl = kl_to_adapter_off(model, batch, distill)
        base = AutoModelForCausalLM.from_pretrained(tiny_base)
        p_ref = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.log_softmax(-1)
        q = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.log_softmax(-1)
    expected = 0.0
    for i in (1, 2):  # by hand: every position whose next token is text, of the marked rows only
        for t in range(len(rows[i][0]) - 1):
            expected += float((p_ref[i, t].exp() * (p_ref[i, t] - q[i, t])).sum())
    assert expected > 1e-3 and float(kl) == pytest.approx(expected, rel=1e-4)
    with torch.no_grad():
        ce, _ = kl_to_adapter_off(model, batch, distill)
    assert float(ce) == pytest.approx(float(scored_loss(model, batch)), rel=1e-5)
    with torch.no_grad():  # an adapter whose B is zero is the base: nothing to pull back
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.zero_()
        assert float(kl_to_adapter_off(model, batch, distill)[1]) == pytest.approx(0.0, abs=1e-6)


def test_the_kl_term_in_micro_batches_gives_the_full_batch_gradient(tiny_base, tmp_path):
    from lorarecycle.train.trainer import accumulate_gradients

    rows, pad = _distill_batch(tiny_base)
    grads, losses = [], []
    for micro in (None, 1):
        model = make_peft_adapter(tiny_base, tmp_path / f"m{micro}", seed=3)
        spec = TrainSpec(epochs=1, lr=1.0, micro_batch_size=micro)
        loss, _ = accumulate_gradients(model, rows, pad, torch.device("cpu"), spec, [False, True, True], kl_weight=2.0)
        losses.append(float(loss))
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-4)
    model = make_peft_adapter(tiny_base, tmp_path / "plain", seed=3)
    plain, _ = accumulate_gradients(model, rows, pad, torch.device("cpu"), TrainSpec(epochs=1, lr=1.0))
    assert float(plain) < losses[0]  # the term adds to the loss
