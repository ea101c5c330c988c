"""Routing between experts against dense references, and against PEFT's Arrow."""

from __future__ import annotations

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

from lorarecycle.adapters.lora_io import LoraModule, read_adapter
from lorarecycle.errors import UserError
from lorarecycle.recycle.recycler import LibraryInputs
from lorarecycle.recycle.build import RECYCLERS
from lorarecycle.recycle.routing.bank import build_bank, expert_update, top_k_softmax
from lorarecycle.recycle.routing.layer import Router
from lorarecycle.recycle.routing.model import build_routed_model, embed, retriever_selector

from .helpers import make_peft_adapter


def random_module(g, d_out=12, d_in=10, r=3, scale=0.5):
    return LoraModule(torch.randn(r, d_in, generator=g, dtype=torch.float64),
                      torch.randn(d_out, r, generator=g, dtype=torch.float64), scale)


def test_prototypes_are_top_right_singular_vectors_of_each_delta():
    g = torch.Generator().manual_seed(0)
    modules = [random_module(g), random_module(g, r=5), None]
    bank = build_bank(modules)
    for m, proto in zip(modules[:2], bank.prototypes):
        v = torch.linalg.svd(m.delta())[2][0]
        assert abs(float(proto.double() @ v)) == pytest.approx(1.0, abs=1e-6)
    assert bank.prototypes[2].abs().sum() == 0  # an expert without this layer
    assert bank.owner.tolist() == [0] * 3 + [1] * 5


def test_gks_subtracts_the_mean_general_delta_exactly():
    g = torch.Generator().manual_seed(1)
    expert, general = random_module(g), [random_module(g), random_module(g, r=2)]
    update = expert_update(expert, general)
    dense = expert.delta() - (general[0].delta() + general[1].delta()) / 2
    assert torch.allclose((update.B @ update.A).double(), dense, atol=1e-5)
    proto = build_bank([expert], general).prototypes[0]
    assert abs(float(proto.double() @ torch.linalg.svd(dense)[2][0])) == pytest.approx(1.0, abs=1e-5)


def test_top_k_softmax_rows_sum_to_one_with_k_experts():
    logits = torch.randn(50, 4, generator=torch.Generator().manual_seed(2)).abs()
    for k in (1, 2, 4):
        gates = top_k_softmax(logits, k, temperature=0.7)
        assert torch.allclose(gates.sum(-1), torch.ones(50))
        assert ((gates > 0).sum(-1) == k).all()
        top = logits.topk(k, dim=-1).indices
        assert torch.allclose(gates.gather(-1, top), torch.softmax(logits.gather(-1, top) / 0.7, -1))


@pytest.fixture(scope="module")
def library(tiny_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("library")
    return [make_peft_adapter(tiny_base, root / f"e{i}", seed=20 + i) and root / f"e{i}" for i in range(3)]


def batch(tiny_base):
    from lorarecycle.model.load import load_tokenizer

    tok = load_tokenizer(tiny_base)
    return tok(["question who is the mentor of the employer", "the mentor of mentor is"], return_tensors="pt",
               padding=True)


def logits_of(model, enc):
    with torch.no_grad():
        return model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits


def base(tiny_base):
    return AutoModelForCausalLM.from_pretrained(tiny_base).eval()


def test_single_expert_router_reproduces_the_expert(tiny_base, library):
    enc = batch(tiny_base)
    expected = logits_of(PeftModel.from_pretrained(base(tiny_base), library[0]).eval(), enc)
    for router in (Router(1, "token", top_k=1), Router(1, "token", logits="cosine"),
                   Router(1, "fixed", weights=torch.ones(1))):
        routed = build_routed_model(base(tiny_base), library[:1], ["e0"], router)
        assert torch.allclose(logits_of(routed, enc), expected, atol=1e-5)


def test_output_mixture_equals_the_dense_average(tiny_base, library):
    enc = batch(tiny_base)
    weights = torch.tensor([0.5, -0.25, 1.0])
    routed = build_routed_model(base(tiny_base), library, ["a", "b", "c"], Router(3, "fixed", weights=weights))
    dense = base(tiny_base)
    adapters = [read_adapter(p) for p in library]
    with torch.no_grad():
        for name in adapters[0].modules:
            dense.get_submodule(name).weight += sum(w * a.modules[name].delta() for w, a in zip(weights, adapters))
    assert torch.allclose(logits_of(routed, enc), logits_of(dense, enc), atol=1e-4)


def test_token_routing_matches_a_per_token_dense_reference(tiny_base, library):
    """Arrow top-2 in one layer: gates from the dense SVD prototypes, update from dense delta W."""
    routed = build_routed_model(base(tiny_base), library, ["a", "b", "c"], Router(3, "token", top_k=2, temperature=0.5))
    name = "model.layers.1.self_attn.q_proj"
    layer = routed.model.get_submodule(name)
    x = torch.randn(2, 7, layer.base.in_features, generator=torch.Generator().manual_seed(3))
    deltas = [read_adapter(p).modules[name].delta() for p in library]
    protos = torch.stack([torch.linalg.svd(d)[2][0] for d in deltas])
    gates = top_k_softmax((x @ protos.T).abs(), 2, 0.5)
    expected = layer.base(x) + sum(gates[..., e : e + 1] * (x @ d.T) for e, d in enumerate(deltas))
    routed.router.record = []
    assert torch.allclose(layer(x), expected, atol=1e-5)
    recorded = routed.router.record[0][1]
    assert torch.allclose(recorded.sum(-1), torch.ones(2, 7))


def sharpen(path):
    """Give every module of an adapter one dominant singular value, so PEFT's 15-step power
    iteration reaches the exact prototype."""
    state = load_file(path / "adapter_model.safetensors")
    for key in state:
        if key.endswith("lora_A.weight"):
            state[key][0] *= 30
        if key.endswith("lora_B.weight"):
            state[key][:, 0] *= 30
    save_file(state, path / "adapter_model.safetensors")


@pytest.mark.usefixtures("on_cpu")
def test_arrow_matches_peft_arrow(tiny_base, library, tmp_path):
    import shutil

    paths = []
    for i, p in enumerate(library):
        shutil.copytree(p, tmp_path / f"s{i}")
        sharpen(tmp_path / f"s{i}")
        paths.append(tmp_path / f"s{i}")
    enc = batch(tiny_base)
    inputs = LibraryInputs(tiny_base, paths, ["a", "b", "c"], tmp_path / "work", seed=0)
    for top_k in (1, 2):
        ours = RECYCLERS.get("arrow").build(inputs, top_k=top_k, temperature=2.0)
        peft = RECYCLERS.get("arrow_peft").build(inputs, top_k=top_k, temperature=2.0)
        assert torch.allclose(logits_of(ours, enc), logits_of(peft, enc), atol=1e-3)


def test_retriever_picks_the_expert_whose_example_is_the_query(tiny_base, library):
    from lorarecycle.model.load import load_tokenizer

    tok = load_tokenizer(tiny_base)
    routed = build_routed_model(base(tiny_base), library, ["a", "b", "c"], Router(3, "fixed"))
    prompts = ["the mentor of the employer is", "question who is", "mentor mentor neighbor of the"]
    enc = tok(prompts, return_tensors="pt", padding=True)
    routed.selector = retriever_selector(embed(routed, enc["input_ids"], enc["attention_mask"]), torch.tensor([2, 0, 1]))
    weights = routed.selector(routed, enc["input_ids"], enc["attention_mask"])
    assert weights.argmax(-1).tolist() == [2, 0, 1]
    assert torch.allclose(weights.sum(-1), torch.ones(3))


@pytest.mark.usefixtures("on_cpu")
def test_select_arrow_sends_each_query_to_one_expert_and_counts_it(tiny_base, library):
    enc = batch(tiny_base)
    inputs = LibraryInputs(tiny_base, library, ["a", "b", "c"], tiny_base / "unused", seed=0)
    model = RECYCLERS.get("select_arrow").build(inputs)
    weights = model.selector(model, enc["input_ids"], enc["attention_mask"])
    assert ((weights == 1).sum(-1) == 1).all() and torch.allclose(weights.sum(-1), torch.ones(2))
    # generating with the selection equals the chosen single expert alone
    with model.routing("fixed", weights=weights):
        mixed = logits_of(model, enc)
    for i, e in enumerate(weights.argmax(-1).tolist()):
        alone = logits_of(PeftModel.from_pretrained(base(tiny_base), library[e]).eval(), enc)
        assert torch.allclose(mixed[i], alone[i], atol=1e-5)
    model.generate(**enc, max_new_tokens=2, do_sample=False, pad_token_id=0)
    shares = model.pop_choices()
    assert sum(shares.values()) == pytest.approx(1.0) and model.pop_choices() == {}


def test_empty_library_is_refused(tiny_base):
    with pytest.raises(UserError, match="library is empty"):
        build_routed_model(base(tiny_base), [], [], Router(0))
