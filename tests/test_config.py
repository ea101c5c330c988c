import pytest

from lorarecycle.config import ExperimentConfig, load_config, load_preset, preset_names
from lorarecycle.errors import UserError


def test_presets_load_and_hash_is_stable():
    assert {"default", "smoke"} <= set(preset_names())
    a, b = load_preset("smoke"), load_preset("smoke")
    assert a.config_hash() == b.config_hash()
    assert a.config_hash() != a.model_copy(update={"seed": 1}).config_hash()


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
