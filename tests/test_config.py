import dataclasses
from pathlib import Path

import pytest

from nasiam.config import ConfigError, SearchConfig, load_config, parse_value

RECIPES = sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_loads_and_validates(recipe):
    cfg = load_config(SearchConfig, recipe)
    assert cfg.epochs > cfg.warmup_epochs


def test_the_demo_recipe_is_what_the_bare_command_runs():
    demo = dataclasses.asdict(load_config(SearchConfig, Path(__file__).parent.parent / "recipes" / "cpu_quick_demo.yaml"))
    assert demo == dataclasses.asdict(load_config(SearchConfig))


def test_precedence_defaults_recipe_command_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("epochs: 20\narch_lr: 0.001\nwidths: [64, 128]\n")
    cfg = load_config(SearchConfig, recipe, {"arch-lr": "0.01"})
    assert (cfg.epochs, cfg.arch_lr, cfg.widths, cfg.batch_size) == (20, 0.01, [64, 128], 256)


@pytest.mark.parametrize("text,message", [
    ("epoch: 3\n", "unknown key 'epoch'; did you mean epochs"),
    ("- 1\n- 2\n", "a recipe is a mapping"),
    ("epochs: [1\n", "not valid YAML"),
    ("epochs: many\n", "--epochs: cannot read 'many'"),
    ("epochs: 2.5\n", "expected an integer"),
    ("cifar_stem: maybe\n", "expected true or false"),
    ("framework: !!python/object/apply:os.system ['echo pwned']\n", "not valid YAML"),
])
def test_recipe_errors_name_the_key(tmp_path, text, message):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(SearchConfig, recipe)


def test_values_as_wandb_agent_passes_them():
    assert parse_value("widths", "[64, 128]", list[int]) == [64, 128]
    assert parse_value("widths", "64,128", list[int]) == [64, 128]
    assert parse_value("subset", "None", int | None) is None
    assert parse_value("cifar_stem", "True", bool) is True
    assert parse_value("lr", "3e-4", float) == 3e-4
    assert parse_value("epochs", "1e2", int) == 100
    with pytest.raises(ConfigError, match="a value is required"):
        parse_value("epochs", "none", int)


def test_missing_recipe_file_points_to_the_folder(tmp_path):
    with pytest.raises(ConfigError, match="see the recipes/ folder"):
        load_config(SearchConfig, tmp_path / "nope.yaml")


def test_usage_errors_keep_the_message_as_written():
    assert str(ConfigError.from_error(KeyError("unknown preset 'x'"))) == "unknown preset 'x'"  # str(KeyError) quotes it
    assert str(ConfigError.from_error(ValueError("bad width"))) == "bad width"
    error = ConfigError("already a usage error")
    assert ConfigError.from_error(error) is error
