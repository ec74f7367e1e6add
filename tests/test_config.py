import dataclasses
import json
import os
from pathlib import Path

import pytest
import yaml

from nasiam.config import ConfigError, PretrainConfig, SearchConfig, load_config, parse_value

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


RESOLVED = json.loads((Path(__file__).parent / "data" / "recipes_resolved.json").read_text())


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_resolves_as_before_it_inherited_from_a_base(recipe):
    """tests/data/recipes_resolved.json: each recipe's resolved config captured before the 16
    near-copies were made to inherit (`base:`); options added since keep their defaults."""
    before = RESOLVED[recipe.name]
    now = dataclasses.asdict(load_config(SearchConfig, recipe))
    defaults = dataclasses.asdict(SearchConfig())
    assert {k: now[k] for k in before} == before
    assert {k: v for k, v in now.items() if k not in before} == {k: v for k, v in defaults.items() if k not in before}


def test_the_paper_recipes_inherit_instead_of_repeating():
    paper = [p for p in RECIPES if p.stem != "cpu_quick_demo"]
    assert len(paper) == 16 and set(RESOLVED) == {p.name for p in RECIPES}
    for path in paper:
        assert "base" in yaml.safe_load(path.read_text()), path.name
        assert len(path.read_text().splitlines()) <= 20, path.name


def test_base_recipes_chain_relative_to_each_file(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "root.yaml").write_text("epochs: 30\nlr: 0.1\nwidths: [64]\n")
    (tmp_path / "shared" / "mid.yaml").write_text("base: root.yaml\nlr: 0.2\n")
    (tmp_path / "leaf.yaml").write_text("base: shared/mid.yaml\nwidths: [32, 64]\n")
    cfg = load_config(SearchConfig, tmp_path / "leaf.yaml", {"epochs": "40"})
    assert (cfg.epochs, cfg.lr, cfg.widths) == (40, 0.2, [32, 64])
    assert load_config(SearchConfig, tmp_path / "leaf.yaml").epochs == 30


DEEP_CHAIN = {f"d{i}.yaml": f"base: d{i + 1}.yaml\n" for i in range(11)} | {"d11.yaml": "epochs: 3\n"}


@pytest.mark.parametrize("files, entry, error", [
    ({"a.yaml": "base: b.yaml\n", "b.yaml": "base: ./a.yaml\n"}, "a.yaml", "inherit in a cycle"),
    ({"self.yaml": "base: self.yaml\n"}, "self.yaml", "inherit in a cycle"),
    (DEEP_CHAIN, "d0.yaml", "levels of `base:`"),
    ({"m.yaml": "base: nowhere.yaml\n"}, "m.yaml", "no recipe at .*nowhere.yaml .the base of"),
    ({"n.yaml": "base: [1]\n"}, "n.yaml", "names another recipe file"),
], ids=["cycle", "self", "too-deep", "missing-base", "not-a-path"])
def test_bad_base_chains_are_errors(tmp_path, files, entry, error):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=error):
        load_config(SearchConfig, tmp_path / entry)


def test_a_chain_within_the_depth_limit_resolves(tmp_path):
    for name, text in DEEP_CHAIN.items():
        (tmp_path / name).write_text(text)
    assert load_config(SearchConfig, tmp_path / "d5.yaml").epochs == 3


def test_several_config_files_later_ones_win_and_options_win_over_all(tmp_path, capsys):
    from nasiam.cli import main

    (tmp_path / "one.yaml").write_text("epochs: 20\nlr: 0.1\nbatch_size: 64\n")
    (tmp_path / "two.yaml").write_text("lr: 0.3\nwarmup_epochs: 2\n")
    cfg = load_config(SearchConfig, [tmp_path / "one.yaml", tmp_path / "two.yaml"], {"batch_size": "32"})
    assert (cfg.epochs, cfg.lr, cfg.warmup_epochs, cfg.batch_size) == (20, 0.3, 2, 32)
    assert main(["search", "--config", str(tmp_path / "one.yaml"), f"--config={tmp_path / 'two.yaml'}",
                 "--batch_size=32", "--print_config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert (printed["epochs"], printed["lr"], printed["warmup_epochs"], printed["batch_size"]) == (20, 0.3, 2, 32)


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
@pytest.mark.parametrize("name", ["lr", "weight_decay", "arch_lr"])
def test_rates_must_be_finite_and_not_negative(name, value):
    with pytest.raises(ConfigError, match=f"--{name} must be between 0 and"):
        load_config(SearchConfig, None, {name: value})


@pytest.mark.parametrize("option", ["--widths=65536", "--projector_layers=100000", "--image_size=100000",
                                    "--queue_size=1000000000", "--knn_k=-1", "--knn_subset=-1", "--log_every_n_steps=0",
                                    "--lr=1e30", "--seed=-1", "--num_workers=100000", "--batch_size=0",
                                    "--temperature=0", "--ema_momentum=2"])
def test_every_option_that_sizes_memory_processes_or_time_is_bounded(option):
    """Refused while reading the options, before any allocation, lock or process."""
    from nasiam.config import BOUNDS

    key, value = option[2:].split("=")
    cls = SearchConfig if key in ("widths", "projector_layers") else PretrainConfig
    with pytest.raises(ConfigError, match=f"--{key}"):
        load_config(cls, None, {key: value, **({"framework": "mocov2"} if key == "queue_size" else {}),
                                **({"proj_layers": "3"} if key == "widths" else {})})
    assert key in BOUNDS or key == "widths"


def test_resources_are_checked_against_this_machine(monkeypatch):
    import os

    import nasiam.config.machine as machine

    monkeypatch.setattr(machine, "_cuda_count", lambda: 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    load_config(PretrainConfig, None, {"devices": "4", "accelerator": "cpu"})
    with pytest.raises(ConfigError, match="one process per device.*4 cores"):
        load_config(PretrainConfig, None, {"devices": "1000", "accelerator": "cpu"})
    for name in ("SLURM_JOB_ID", "SLURM_JOB_NAME", "SLURM_NTASKS", "SLURM_NTASKS_PER_NODE", "MASTER_ADDR", "NODE_RANK"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="outside a cluster job"):
        load_config(PretrainConfig, None, {"num_nodes": "2"})
    monkeypatch.setenv("SLURM_JOB_ID", "1")   # a shell in the allocation: srun started no task
    with pytest.raises(ConfigError, match="outside a cluster job"):
        load_config(PretrainConfig, None, {"num_nodes": "2"})
    monkeypatch.setenv("SLURM_NTASKS", "2")
    monkeypatch.setenv("SLURM_NTASKS_PER_NODE", "1")
    load_config(PretrainConfig, None, {"num_nodes": "2"})
    # within the width bound, but the heads would not fit in memory: refused with the size
    monkeypatch.setattr(machine, "_total_memory_bytes", lambda: 8 * 2 ** 30)
    with pytest.raises(ConfigError, match="GiB"):
        load_config(SearchConfig, None, {"widths": "16384", "projector_layers": "4"})
    load_config(SearchConfig, None, {})   # the defaults fit in 8 GiB


@pytest.mark.parametrize("need_gib", [12.3, 23.9, 24.2, 12 + 1e-6, 500])
def test_the_memory_refusal_shows_the_limit_it_exceeded(monkeypatch, need_gib):
    """On a 24 GiB machine heads of 12.3 GiB were refused as "about 12 GiB, more than half of this
    machine's 24 GiB", and 23.9 GiB as "about 24 GiB, more than half of this machine's 24 GiB"
    (#33 round three): read as a size equal to the limit, or to the whole machine. The message
    now names the limit, and shows the need larger than it at any size."""
    import re

    from nasiam.config import machine

    monkeypatch.setattr(machine, "_total_memory_bytes", lambda: 24 * 2 ** 30)
    monkeypatch.setattr(machine, "head_parameters_bound", lambda c: int(need_gib * 2 ** 30) // 16 + 1)
    with pytest.raises(ConfigError) as refused:
        load_config(SearchConfig, None, {})
    message = str(refused.value)
    found = re.search(r"would need (about ([\d.]+) GiB, more than|just over) the ([\d.]+) GiB limit \(half of this "
                      r"machine's ([\d.]+) GiB\); lower them", message)
    assert found, message
    if found.group(2):
        assert float(found.group(2)) > float(found.group(3))
    assert float(found.group(3)) == 12 and float(found.group(4)) == 24


def test_files_that_cannot_be_recipes_are_refused_without_echoing_them(tmp_path):
    """Not UTF-8, nested 20,000 deep, over 1 MiB, an absolute `base:`, another program's file:
    each a ConfigError (exit 2) that names the file and shows none of its content."""
    secret = tmp_path / "passwd"
    secret.write_text("root: x:0:0:root:/root:/bin/bash\n")
    cases = {
        "binary.yaml": b"\xff\xfe\x00epochs: 3\n",
        "deep.yaml": b"[" * 20000 + b"]" * 20000,
        "huge.yaml": b"# " + b"x" * (1 << 20) + b"\n",
        "absolute.yaml": f"base: {secret}\n".encode(),
        "relative.yaml": f"base: {Path('..') / secret.parent.name / secret.name}\n".encode(),
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ConfigError) as info:
            load_config(SearchConfig, tmp_path / name)
        assert name in str(info.value) or "passwd" in str(info.value)
        assert "/bin/bash" not in str(info.value) and "x:0:0" not in str(info.value), name


BOMB = "".join(f"{a}: &{a} [{', '.join([f'*{p}'] * 10)}]\n" for p, a in zip("abcdefgh", "bcdefghi"))


@pytest.mark.parametrize("where", ["framework", "lr", "widths"])
def test_an_alias_bomb_is_refused_in_milliseconds(tmp_path, where):
    """A 520-byte recipe whose aliases stand for 10^9 values took 50-100 s and 8 GB before an
    out-of-memory exit advising a smaller --batch_size (#33 probe 16, M2): the message built its
    whole repr. Counted as read, refused past MAX_YAML_VALUES."""
    import time

    recipe = tmp_path / "bomb.yaml"
    recipe.write_text("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + BOMB.replace("i: &i", f"{where}: &i"))
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"bomb.yaml: holds more than 100,000 values \(counting each alias"):
        load_config(SearchConfig, recipe)
    assert time.perf_counter() - started < 5
    shared = tmp_path / "anchors.yaml"   # an anchor used a few times is a recipe's ordinary use
    shared.write_text("widths: &w [16, 32]\nbase_widths: *w\n")
    with pytest.raises(ConfigError, match="unknown key 'base_widths'"):
        load_config(SearchConfig, shared)


@pytest.mark.parametrize("text, message", [
    ("epochs: 1\nlr: 0.1\nepochs: 7\n", r"the key 'epochs' is written twice in one mapping, line 3"),
    ("run_name: 2026-12-07\n", r"YAML reads an unquoted date as a date: quote it, e\.g\. '2026-12-07'"),
    ("_common: &c {epochs: 2}\n<<: *c\n", "unknown key '_common'"),
    ("epochs: 1\nlr: 0.1\nEpochs: 2\ncifar_stem: true\nTrue: 1\ntrue: 2\n", r"the key 'true' is written twice"),
    ("widths: &w [16, *w]\n", r"holds an alias \(\*name\) inside the value it names, which never ends: write the "
                               r"value out$"),   # N5, P10
])
def test_a_recipe_says_what_yaml_made_of_it(tmp_path, text, message):
    """#33 probe 16, M13: a key written twice silently took its last value; an unquoted date was
    "cannot read datetime.date(...)" without the fix; a `_common:` anchor holder was "no option
    names; is it a nasiam recipe?"."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(SearchConfig, recipe)


def test_a_merge_key_may_be_overridden_as_yaml_says(tmp_path):
    from nasiam.config import read_yaml_file

    recipe = tmp_path / "r.yaml"
    recipe.write_text("base: base.yaml\n")
    (tmp_path / "base.yaml").write_text("<<: {epochs: 2, lr: 0.2}\nepochs: 3\n")
    config = load_config(SearchConfig, recipe, check_environment=False)
    assert (config.epochs, config.lr) == (3, 0.2)
    # #33 probe 17, N3: a chained merge used below its templates was "the key 'min_iter' is written
    # twice" (PyYAML had merged the template into its mapping before the check); N4: 1 and "1"
    # are two keys
    chained = tmp_path / "chained.yaml"
    chained.write_text("templates:\n  base: &base {type: hyperband, min_iter: 1}\n"
                       "  hb: &hb {<<: *base, eta: 3, min_iter: 2}\nearly_terminate: {<<: *hb}\n"
                       "names: {\"1\": a, 1: b}\n")
    data = read_yaml_file(chained, "sweep file")
    odd = tmp_path / "odd.yaml"   # YAML 1.1's value key, which safe_load reads (#33 probe 18, P10)
    odd.write_text("m: {=: 1}\n")
    assert read_yaml_file(odd, "sweep file") == yaml.safe_load("m: {=: 1}\n")
    assert data["early_terminate"] == {"type": "hyperband", "eta": 3, "min_iter": 2} and data["names"] == {"1": "a", 1: "b"}
    grid = tmp_path / "grid.yaml"   # values written out: the count is not about aliases only (N5)
    grid.write_text("values: [" + ", ".join(["1"] * 100_001) + "]\n")
    with pytest.raises(ConfigError, match=r"holds more than 100,000 values"):
        read_yaml_file(grid, "sweep file")


def test_a_search_recipe_given_to_pretrain_says_so():
    """#33 probe 16, M15: every recipe given to `nasiam pretrain` was "unknown key 'warmup_epochs';
    did you mean warmup_lr_epochs", a suggestion that turns the search's weight-only warm-up into
    a learning-rate warm-up."""
    recipes = Path(__file__).parent.parent / "recipes"
    for recipe in (recipes / "cifar10_resnet18_simsiam.yaml", recipes / "base" / "cifar_resnet18.yaml"):
        with pytest.raises(ConfigError, match=r"'[a-z_]+' is an option of `nasiam search`, not of this command "
                                              r"\(a search recipe.*--dataset, --backbone") as info:
            load_config(PretrainConfig, recipe, check_environment=False)
        assert "did you mean" not in str(info.value)


def test_a_sweep_file_that_is_not_one_is_refused_like_a_recipe(tmp_path):
    from nasiam.runner.sweep_file import read_sweep

    (tmp_path / "s.yaml").write_bytes(b"[" * 20000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        read_sweep(tmp_path / "s.yaml")


def test_a_named_dataset_starts_from_the_methods_scale_not_the_demos():
    from nasiam.config import DEMO_SCALE, demo_scale_note

    named = load_config(SearchConfig, overrides={"dataset": "cifar10"}, check_environment=False)
    assert all(getattr(named, name) is None for name in DEMO_SCALE)   # all images, the method's widths and queue
    assert demo_scale_note(named) is None
    chosen = load_config(SearchConfig, overrides={"dataset": "cifar10", "subset": "5000", "proj_output_dim": "128"},
                         check_environment=False)
    assert (chosen.subset, chosen.proj_output_dim, chosen.proj_hidden_dim) == (5000, 128, None)
    demo = load_config(SearchConfig, check_environment=False)
    assert (demo.subset, demo.epochs, demo.proj_hidden_dim) == (10000, 5, 512)   # the search's own budget
    assert "CPU demo scale" in demo_scale_note(demo) and "10,000 training images" in demo_scale_note(demo)
    pretrain = load_config(PretrainConfig, check_environment=False)
    assert (pretrain.subset, pretrain.epochs) == (12000, 8)
    assert "12,000 training images" in demo_scale_note(pretrain)


def test_a_recipe_that_names_a_dataset_gets_the_methods_scale_unless_it_sets_one(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("dataset: cifar10\nproj_hidden_dim: 1024\n")
    config = load_config(SearchConfig, recipe, check_environment=False)
    assert (config.subset, config.proj_hidden_dim, config.proj_output_dim) == (None, 1024, None)


def test_one_width_default_the_librarys_except_for_the_demo():
    """--widths (the mlp space's): the library's MLPSpace default for any named dataset, the demo's
    128-1024 on its own."""
    from nasiam.frameworks import framework_class
    from nasiam.runner.build import framework_kwargs, searchable_heads
    from nasiam.space.mlp import DEFAULT_WIDTHS

    def widths(cfg):
        heads = searchable_heads(cfg, framework_class("simsiam"), 512, framework_kwargs(cfg))
        return heads["projector"].space.widths

    named = load_config(SearchConfig, overrides={"dataset": "cifar10", "space": "mlp"}, check_environment=False)
    assert named.widths is None and widths(named) == DEFAULT_WIDTHS == (512, 1024, 2048, 4096)
    demo = load_config(SearchConfig, overrides={"space": "mlp"}, check_environment=False)
    assert widths(demo) == (128, 256, 512, 1024)
    assert "--widths 128,256,512,1024" in demo_scale_note_of(demo)
    assert load_config(SearchConfig, overrides={"widths": "none"}, check_environment=False).widths is None
    with pytest.raises(ConfigError, match="--widths needs at least one option"):
        load_config(SearchConfig, overrides={"widths": "[]"}, check_environment=False)


def demo_scale_note_of(cfg):
    from nasiam.config import demo_scale_note

    return demo_scale_note(cfg) or ""


def test_a_batch_of_one_is_refused_before_training_with_the_reason(capsys):
    """--batch_size 1 passed the bounds and then crashed in BatchNorm at the first step (exit 1)."""
    from nasiam.cli import main

    assert main(["pretrain", "--dataset=synthetic", "--batch_size=1", "--print_config"]) == 2
    assert "--batch_size=1: training needs at least 2 images per step and device" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["run\x1b[2Jcleared", "evil\u202etxt.exe", "tab\there", "line\nbreak", "nul\0"])
def test_a_run_name_with_control_or_direction_characters_is_refused_escaped(capsys, name):
    """A folder name that shows one thing on the terminal and names another: refused, and
    the message shows the characters escaped, never raw."""
    from nasiam.cli import main

    assert main(["search", "--dataset=synthetic", f"--run_name={name}", "--print_config"]) == 2
    err = capsys.readouterr().err
    assert "must be a plain directory name" in err and "printable characters only" in err
    assert name not in err and repr(name)[1:-1] in err


@pytest.mark.parametrize("name", [" ", "   ", "\u3000", " run", "run ", "\u00a0run"])
def test_a_run_name_of_spaces_or_with_spaces_around_it_is_refused(capsys, name):
    """`--run_name " "` was accepted: a run folder named by a space, shown as nothing in a
    listing, and one with a space around its name looks like another run's."""
    from nasiam.cli import main

    assert main(["search", "--dataset=synthetic", f"--run_name={name}", "--print_config"]) == 2
    assert "no leading or trailing spaces" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["fifo", "folder", "too-long"])
def test_a_config_path_that_is_no_file_is_named_for_what_it_is_never_opened(tmp_path, kind):
    """A FIFO given as --config was "no recipe at" (and opening it would block until a writer
    came); a path too long to look up was advised as an output path's (the seventh probe of #33)."""
    from nasiam.runner.sweep_file import read_sweep

    path = tmp_path / "r.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path = tmp_path / ("r" * 300 + ".yaml")
    expected = {"fifo": "is a FIFO, socket or device, not a", "folder": "is a folder, not a",
                "too-long": "--config: .* is read as a path, and it is longer than the file system allows"}[kind]
    for read in (lambda: load_config(SearchConfig, path), lambda: read_sweep(path)):
        with pytest.raises(ConfigError, match=expected):
            read()


def test_a_data_root_too_long_to_look_up_names_data_root(tmp_path):
    from nasiam.runner.build import read_dataset_info

    with pytest.raises(ConfigError, match="--data_root: .* is read as a path, and it is longer"):
        read_dataset_info("imagefolder", tmp_path / ("d" * 300))
