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


def test_the_class_defaults_are_the_default_experiment():
    """`ExperimentConfig()` is what `make run` runs: a partial config reads the default's values."""
    assert ExperimentConfig() == load_preset("default")
    assert ExperimentConfig().config_hash() == load_preset("default").config_hash()


def test_every_field_a_stage_reads_enters_its_hashes():
    """No field is left out of a hash at some value: a change of any training field is a new
    run, and a pretraining field (only those) also a new base; a GPU's base is filed apart."""
    from lorarecycle.train.pretrain import base_model_key

    cfg = load_preset("smoke")
    for section, update in (("experts", {"cot_form": True}), ("experts", {"replay_kl": 1.0}),
                            ("experts", {"chain_loss": "second_step"}), ("full_ft_replay", {"replay_draw": "every_epoch"}),
                            ("pretrain", {"incontext_loss": "answer"}), ("pretrain", {"layout_warmup_steps": 1})):
        other = cfg.model_copy(update={section: getattr(cfg, section).model_copy(update=update)})
        assert other.config_hash() != cfg.config_hash(), (section, update)
        assert (base_model_key(other) != base_model_key(cfg)) == (section == "pretrain"), (section, update)
    with pytest.MonkeyPatch.context() as mp:
        key = base_model_key(cfg)
        mp.setattr("lorarecycle.train.pretrain.current_device", lambda: torch.device("cuda"))
        assert base_model_key(cfg) != key


def test_a_cache_of_another_version_is_refused_in_one_line_naming_what_to_delete(tmp_path, monkeypatch):
    from lorarecycle.cache import CACHE_VERSION, check_version

    monkeypatch.setenv("LORARECYCLE_CACHE", str(tmp_path / "new"))
    check_version()  # a new cache is marked with this version, and accepted from then on
    assert (tmp_path / "new" / "VERSION").read_text().strip() == str(CACHE_VERSION)
    check_version()
    old = tmp_path / "old"
    (old / "base" / "abc123").mkdir(parents=True)  # written before caches carried a version
    monkeypatch.setenv("LORARECYCLE_CACHE", str(old))
    with pytest.raises(UserError, match=rf"holds entries of cache version 2 or older; this lorarecycle uses version "
                                        rf"{CACHE_VERSION}: delete {old / 'base'}") as info:
        check_version()
    assert "\n" not in str(info.value) and not (old / "VERSION").exists()
    (old / "VERSION").write_text("99\n")
    with pytest.raises(UserError, match="cache version 99"):
        check_version()


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
    from lorarecycle.tasks.two_hop.world import build_world

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
    from lorarecycle.tasks import task_of

    _, datasets = task_of(smoke_cfg).build(smoke_cfg)
    path = prepare_base(smoke_cfg, datasets["pretrain"])
    weights = path / "model.safetensors"
    intact = weights.read_bytes()
    weights.write_bytes(intact[: len(intact) // 3])  # a truncated copy
    assert not cached_base_ok(path)
    assert prepare_base(smoke_cfg, datasets["pretrain"]) == path
    assert cached_base_ok(path) and weights.read_bytes() == intact  # pretrained again, deterministically


def test_the_pretrained_base_is_the_same_whatever_threads_the_process_runs(smoke_cfg, tmp_path, monkeypatch):
    """The weight gradients' reductions follow the thread count (1 and 2 threads give other
    last bits on the smoke model), so pretraining fixes its own: a one-core worker, a Ray cell
    and a 3-thread process build the same base bit for bit."""
    import torch

    from lorarecycle.tasks import task_of
    from lorarecycle.train.pretrain import prepare_base

    _, datasets = task_of(smoke_cfg).build(smoke_cfg)
    weights = []
    saved = torch.get_num_threads()
    try:
        for ambient in (1, 3):
            monkeypatch.setenv("LORARECYCLE_CACHE", str(tmp_path / f"cache-{ambient}"))
            torch.set_num_threads(ambient)
            weights.append((prepare_base(smoke_cfg, datasets["pretrain"]) / "model.safetensors").read_bytes())
            assert torch.get_num_threads() == ambient  # restored after pretraining
    finally:
        torch.set_num_threads(saved)
    assert weights[0] == weights[1]
