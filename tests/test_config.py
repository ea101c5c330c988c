import pytest
import torch

from lorarecycle.config import ExperimentConfig, load_config, load_preset, preset_names
from lorarecycle.errors import UserError


def test_presets_load_and_hash_is_stable():
    assert {"default", "smoke"} <= set(preset_names())
    a, b = load_preset("smoke"), load_preset("smoke")
    assert a.config_hash() == b.config_hash()
    assert a.config_hash() != a.model_copy(update={"seed": 1}).config_hash()


def test_config_hash_covers_only_the_sections_the_task_reads():
    from lorarecycle.config import MathSpec

    two_hop, math = load_preset("smoke"), load_preset("smoke-math")
    other_math = MathSpec(n_test_items=7)
    assert two_hop.model_copy(update={"math": other_math}).config_hash() == two_hop.config_hash()
    assert math.model_copy(update={"math": other_math}).config_hash() != math.config_hash()
    assert two_hop.model_copy(update={"world": two_hop.world.model_copy(update={"n_test_chains": 7})}).config_hash() \
        != two_hop.config_hash()


def test_fields_added_later_leave_the_hash_of_runs_made_before_them_unchanged():
    """`experts.pack`, `.cot_form`, `.chain_form`, `.recall_check`, `.replay_from`, `.replay_draw`, `.replay_kl` and `pretrain.pack_facts`, `.cot_form`,
    `.chain_form` came after runs were published: at their
    neutral values the config hash and the cached base's key are the ones those runs have (the
    hash without the field, as computed then), so they resume; any other value is a new run."""
    from lorarecycle.config import stable_hash
    from lorarecycle.model.precision import current_precision
    from lorarecycle.train.pretrain import FORMAT_VERSION, base_model_key

    default = load_preset("default")
    # the default preset before it adopted cot_form and chain_form (experts, then pretraining) and
    # the replay of single facts drawn every epoch: the published runs were made with it
    off = {"cot_form": False, "chain_form": False}
    replay_before = {"replay_from": "pool", "replay_draw": "once", "replay_kl": 0.0}
    cfg = default.model_copy(update={"experts": default.experts.model_copy(update=off | replay_before),
                                     "full_ft_replay": default.full_ft_replay.model_copy(update=off),
                                     "pretrain": default.pretrain.model_copy(update=off)})
    assert default.experts.cot_form and default.experts.chain_form and default.config_hash() != cfg.config_hash()
    assert default.pretrain.cot_form and default.pretrain.chain_form and base_model_key(default) != base_model_key(cfg)
    assert default.experts.replay_draw == "every_epoch" and default.experts.replay_from == "facts" and default.experts.replay_kl == 1
    before = cfg.model_dump(mode="json", exclude={"math"})
    for section in ("experts", "full_ft_replay"):
        for field in ("pack", "cot_form", "chain_form", "chain_first", "chain_loss", "recall_check", "replay_from",
                      "replay_draw", "replay_kl"):
            del before[section][field]
    for field in ("pack_facts", "cot_form", "chain_form", "incontext_loss"):
        del before["pretrain"][field]
    assert cfg.experts.pack == 1 and cfg.pretrain.pack_facts == 1 and cfg.config_hash() == stable_hash(before)
    assert cfg.config_hash() == "06c097f9a712"  # docs/results/default before cot_form (git history)
    base_before = {"v": FORMAT_VERSION, "task": "two_hop", "world": before["world"],
                   "model": {k: v for k, v in before["model"].items() if k != "base_model"},
                   "pretrain": before["pretrain"], "seed": 0, "precision": current_precision()}
    assert base_model_key(cfg) == stable_hash(base_before)
    with pytest.MonkeyPatch.context() as mp:  # a GPU's base is filed apart from the CPU's
        mp.setattr("lorarecycle.train.pretrain.current_device", lambda: torch.device("cuda"))
        assert base_model_key(cfg) == stable_hash(base_before | {"device": "cuda"}) != stable_hash(base_before)
    packed = cfg.model_copy(update={"experts": cfg.experts.model_copy(update={"pack": 2})})
    assert packed.config_hash() != cfg.config_hash() and base_model_key(packed) == base_model_key(cfg)
    chain = {"chain_form": True, "chain_loss": "second_step"}
    second = cfg.model_copy(update={"experts": cfg.experts.model_copy(update=chain)})
    assert second.config_hash() not in (cfg.config_hash(), cfg.model_copy(update={
        "experts": cfg.experts.model_copy(update={"chain_form": True, "chain_loss": "all"})}).config_hash())
    for field in ("cot_form", "chain_form"):
        on = cfg.model_copy(update={"experts": cfg.experts.model_copy(update={field: True})})
        assert on.config_hash() != cfg.config_hash() and base_model_key(on) == base_model_key(cfg)
    for update in ({"recall_check": "per_set"}, {"replay_from": "facts"}, {"replay_draw": "every_epoch"}):
        other = cfg.model_copy(update={"experts": cfg.experts.model_copy(update=update)})
        assert other.config_hash() != cfg.config_hash() and base_model_key(other) == base_model_key(cfg)
    for update in ({"pack_facts": 2}, {"cot_form": True}, {"chain_form": True}):
        facts = cfg.model_copy(update={"pretrain": cfg.pretrain.model_copy(update=update)})
        assert facts.config_hash() != cfg.config_hash() and base_model_key(facts) != base_model_key(cfg)


def test_yaml_round_trip_and_preset_inheritance(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("preset: smoke\nseed: 3\nworld: {familiarity: R}\n")
    cfg = load_config(path)
    assert cfg.seed == 3 and cfg.world.familiarity == "R" and cfg.name == "smoke"
    again = ExperimentConfig.model_validate(cfg.model_dump(mode="json"))
    assert again.config_hash() == cfg.config_hash()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed: [1\n", r"exp\.yaml: line \d+ malformed YAML"),
        ("sed: 1\n", r"field sed: Extra inputs are not permitted"),
        ("world: {familiarity: X}\n", r"field world\.familiarity"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("preset: nope\n", "unknown preset 'nope'"),
        ("world: {hop1_relation: mentor, hop2_relation: mentor}\n", "must differ"),
    ],
)
def test_bad_configs_give_one_clear_line(tmp_path, text, message):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message) as info:
        load_config(path)
    assert "\n" not in str(info.value)


def test_inside_refuses_paths_that_leave_the_root(tmp_path):
    from lorarecycle.artifacts import inside
    from lorarecycle.errors import UserError

    assert inside(tmp_path, "recycled", "ties-two") == tmp_path / "recycled" / "ties-two"
    for parts in (("..", "x"), ("recycled", "../../x"), ("/etc",), (".",)):
        with pytest.raises(UserError, match="outside"):
            inside(tmp_path, *parts)


def test_stray_temporaries_of_a_killed_run_are_removed(tmp_path):
    from lorarecycle.artifacts import atomic_dir, remove_stray_temporaries

    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(tmp_path / "adapters" / "hop1-abc") as scratch:
            (scratch / "adapter_model.safetensors").write_bytes(b"partial")
            raise KeyboardInterrupt  # atomic_dir cleans up after itself on an exception...
    assert not list(tmp_path.rglob(".*.tmp"))
    (tmp_path / "adapters" / ".hop1-abc.x1.tmp").mkdir()  # ...but SIGKILL leaves scratch behind
    (tmp_path / ".results.jsonl.x2.tmp").write_text("{")
    (tmp_path / "adapters" / "hop2-def").mkdir()
    assert len(remove_stray_temporaries(tmp_path)) == 2
    assert [p.name for p in tmp_path.rglob("*")] == ["adapters", "hop2-def"]


def test_world_sizes_that_cannot_be_built_are_refused(smoke_cfg):
    from lorarecycle.config import WorldSpec
    from lorarecycle.errors import UserError
    from lorarecycle.tasks.world import build_world

    with pytest.raises(UserError, match="5078 distinct names of 1 word"):
        build_world(WorldSpec(name_words=1, n_familiar=5000, n_test_chains=12, n_skill_chains=6, n_fewshot_chains=4,
                              n_control_matched=4), 0)
    # 3 entities x 2 facts: at most 12 paths, fewer once a -> b -> a loops are dropped
    with pytest.raises(UserError, match="two-hop paths, n_control_paths"):
        build_world(WorldSpec(n_familiar=3, n_pretrain_paths=10, n_control_paths=2, n_test_chains=2,
                              n_skill_chains=1, n_fewshot_chains=1), 0)


def test_nan_and_infinity_are_never_settings():
    from lorarecycle.config import validate_experiment
    from lorarecycle.errors import UserError

    for data in ({"experts": {"epochs": 1, "lr": float("nan")}}, {"world": {"exposure": float("inf")}},
                 {"lora": {"dropout": float("nan")}}):
        with pytest.raises(UserError, match="finite"):
            validate_experiment(data, "t")


def test_a_damaged_cached_base_model_is_rebuilt(smoke_cfg):
    from lorarecycle.train.pretrain import cached_base_ok, prepare_base
    from lorarecycle.tasks.registry import task_of

    _, datasets = task_of(smoke_cfg).build(smoke_cfg)
    path = prepare_base(smoke_cfg, datasets["pretrain"])
    weights = path / "model.safetensors"
    intact = weights.read_bytes()
    weights.write_bytes(intact[: len(intact) // 3])  # a truncated copy
    assert not cached_base_ok(path)
    assert prepare_base(smoke_cfg, datasets["pretrain"]) == path
    assert cached_base_ok(path) and weights.read_bytes() == intact  # pretrained again, deterministically


# recorded before `pack > 1` put its regrouping scheme into the hash (the scheme marker keeps a
# fixed-group run directory from resuming into new groups; this run was already regrouped)
HASH_RECORDED_BEFORE_PACK_MARKER = {"gate-probes/experts-pack-4-regrouped"}


def test_every_published_run_directory_re_hashes_to_its_recorded_config_hash():
    """A field added later must keep the hash of runs made before it (or the run directory
    could not resume, and its rows would no longer match a re-run): every committed run
    directory's config re-validates to the config_hash it records."""
    from pathlib import Path

    import yaml

    from lorarecycle.config import validate_experiment

    root = Path(__file__).resolve().parents[1] / "docs" / "results"
    checked = 0
    for path in sorted(root.glob("**/config.yaml")):
        raw = yaml.safe_load(path.read_text())
        if not isinstance(raw, dict) or "config_hash" not in raw:
            continue  # an input config, not a run directory's record
        recorded = raw.pop("config_hash")
        name = str(path.parent.relative_to(root))
        rehashed = validate_experiment(raw, str(path)).config_hash()
        assert (rehashed == recorded) != (name in HASH_RECORDED_BEFORE_PACK_MARKER), name
        checked += 1
    assert checked >= 8
