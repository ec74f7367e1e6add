"""Hostile input, generated: the genotype, recipe and sweep parsers and the command line.

Each parser has one documented error type (GenotypeError, ConfigError); whatever the input,
nothing else may escape, and nothing in a file may run: YAML's python tags are refused (the
loaders use `yaml.safe_load`), a marker file a payload would create never appears. The CLI
fuzz drives `nasiam.cli.main` in process with made-up options and values: exit 2 and a message,
never a traceback, and never a training step (the data root is an empty folder, and a step
would fail the test). Every command has a target (search, pretrain, export, eval, compare,
sweep, push), each under a 4 GiB address-space cap (`memory_cap`): a hostile size must be
refused before it is allocated, not by the machine running out of memory.
"""
import json
import string
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nasiam.cli import main  # noqa: E402
from nasiam.config import ConfigError, PretrainConfig, SearchConfig, load_config  # noqa: E402
from nasiam.runner.sweep_file import read_sweep  # noqa: E402
from nasiam.space import Genotype, GenotypeError  # noqa: E402
from nasiam.space.genotype import MAX_PARAMETERS  # noqa: E402

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
CLI_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])

# JSON values, with the numbers parsers trip on: huge integers, floats at the limits
scalars = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
           | st.sampled_from(["linear", "relu", "batchnorm", "identity", "avgpool_3x3", "nasiam.genotype",
                              "nasiam.search", "mlp", "true", "none", "-1", "1e400", "[1,2]"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=6), max_leaves=30)
# genotype-shaped objects: the right top-level keys with arbitrary values, so the checks below
# the surface are reached too
layer_like = st.fixed_dictionaries({}, optional={k: json_values for k in
                                                 ("op", "width", "norm", "activation", "bias", "fixed")})
genotype_like = st.fixed_dictionaries(
    {"format": st.just("nasiam.genotype"), "schema_version": st.just(1) | json_values,
     "layers": st.lists(layer_like | json_values, max_size=4) | json_values},
    optional={"in_dim": json_values, "space": json_values, "decisions": json_values, "meta": json_values})


@FUZZ
@given(value=json_values | genotype_like)
def test_genotype_json_raises_only_genotype_error(value):
    text = json.dumps(value)
    try:
        genotype = Genotype.from_json(text)
    except GenotypeError:
        return
    assert genotype.num_parameters() <= MAX_PARAMETERS if genotype.in_dim else True  # within the documented limit


@FUZZ
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_genotype_bytes_raise_only_genotype_error(data):
    with pytest.raises(GenotypeError):
        Genotype.from_json(data)


# -- the library API: SearchableHead, NASHead.from_genotype, NASHead.from_pretrained ----------
# sizes a caller may pass: the edges of the limits, past them, and values of the wrong type
sizes = st.sampled_from([0, 1, 8, -5, 64, 65, 65536, 65537, 10 ** 6, 2 ** 70, 3.5, "8", True, None])
API = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@API
@given(in_dim=sizes, out_dim=sizes, num_layers=sizes,
       widths=st.lists(st.sampled_from([1, 8, 65536, 10 ** 6, 0, -1]), min_size=1, max_size=3, unique=True))
def test_searchable_head_refuses_hostile_sizes_before_allocating(memory_cap, in_dim, out_dim, num_layers, widths):
    """Whatever the sizes, a ValueError naming the problem, or a head within NASHead's limit:
    never a TypeError or an allocation until the memory runs out (64 layers of 65,536 did)."""
    from nasiam import SearchableHead
    from nasiam.space import MLPSpace

    try:
        head = SearchableHead(in_dim, out_dim, num_layers, MLPSpace(widths=tuple(widths)))
    except ValueError as e:
        assert 0 < len(str(e)) < 400
        return
    assert sum(t.numel() for t in (*head.parameters(), *head.buffers())) <= MAX_PARAMETERS


@API
@given(in_dim=sizes, preset=st.sampled_from(["simsiam_predictor", "simclr_projector", "linear_predictor"]))
def test_from_genotype_raises_only_genotype_error(memory_cap, in_dim, preset):
    from nasiam import NASHead
    from nasiam.presets import get_preset

    try:
        head = NASHead.from_genotype(get_preset(preset), in_dim)
    except GenotypeError:
        return
    assert head.in_dim == in_dim and head.num_parameters() <= MAX_PARAMETERS


layer_edits = st.tuples(st.sampled_from(["op", "width", "norm", "activation", "bias", "fixed", "extra"]),
                        scalars | st.sampled_from(["gelu", "silu", "layernorm", "batchnorm_noaffine", "maxpool_3x3"]))


@API
@example(layer=0, edits=[("activation", "gelu")], top=None)   # the same shapes: only the recorded genotype tells
@given(layer=st.integers(0, 2), edits=st.lists(layer_edits, min_size=1, max_size=3),
       top=st.none() | st.sampled_from(["in_dim", "meta", "space", "schema_version"]).flatmap(
           lambda k: st.tuples(st.just(k), json_values)))
def test_from_pretrained_loads_only_the_head_its_weights_were_saved_with(tmp_path_factory, memory_cap, layer,
                                                                          edits, top):
    """An edited genotype.json next to a head's weights: a GenotypeError or ValueError, or the
    very head that was saved (an edited activation or norm with the same shapes loaded before)."""
    from nasiam import NASHead
    from nasiam.presets import get_preset

    folder = tmp_path_factory.mktemp("head")
    saved = NASHead.from_genotype(get_preset("simsiam_projector", hidden_dim=8, out_dim=8), 8)
    saved.save_pretrained(folder)
    data = json.loads((folder / "genotype.json").read_text())
    for key, value in edits:
        data["layers"][layer % len(data["layers"])][key] = value
    if top is not None:
        data[top[0]] = top[1]
    (folder / "genotype.json").write_text(json.dumps(data))
    try:
        loaded = NASHead.from_pretrained(folder)
    except (GenotypeError, ValueError):
        return
    assert loaded.genotype.layers == saved.genotype.layers and loaded.in_dim == saved.in_dim


# recipes: mappings of real option names (and some made up) to arbitrary YAML values
option_names = st.sampled_from(sorted(SearchConfig.__dataclass_fields__)) | st.text(string.ascii_letters + "_-",
                                                                                      min_size=1, max_size=12)
recipes = st.dictionaries(option_names, json_values, max_size=6) | json_values


@FUZZ
@given(recipe=recipes)
def test_recipe_loader_raises_only_config_error(tmp_path_factory, recipe):
    path = tmp_path_factory.mktemp("recipe") / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    try:
        load_config(SearchConfig, path)
    except ConfigError:
        pass


@FUZZ
@given(text=st.text(max_size=300))
def test_recipe_text_raises_only_config_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("recipe") / "r.yaml"
    path.write_text(text)
    try:
        load_config(PretrainConfig, path)
    except ConfigError:
        pass


sweeps = st.fixed_dictionaries(
    {"metric": st.fixed_dictionaries({"name": st.text(max_size=8)}, optional={"goal": json_values}) | json_values,
     "parameters": st.dictionaries(option_names, st.dictionaries(
         st.sampled_from(["value", "values", "distribution", "min", "max", "q"]), json_values, max_size=4)
         | json_values, max_size=4) | json_values},
    optional={"method": st.sampled_from(["grid", "random", "bayes"]) | json_values,
              "early_terminate": st.fixed_dictionaries(
                  {"type": st.just("hyperband") | json_values},
                  optional={k: json_values for k in ("min_iter", "max_iter", "s", "eta", "strict")}) | json_values})


@FUZZ
@given(sweep=sweeps | json_values)
def test_sweep_parser_raises_only_config_error(tmp_path_factory, sweep):
    path = tmp_path_factory.mktemp("sweep") / "s.yaml"
    path.write_text(yaml.safe_dump(sweep))
    try:
        read_sweep(path)
    except ConfigError:
        pass


PYTHON_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object/apply:subprocess.call [[touch, '{marker}']]",
]


@pytest.mark.parametrize("payload", PYTHON_TAGS)
def test_yaml_python_tags_are_refused_and_never_run(tmp_path, payload):
    marker = tmp_path / "pwned"
    value = payload.format(marker=marker)
    for text in (f"epochs: {value}\n", f"{value}\n"):
        path = tmp_path / "r.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match="not valid YAML"):
            load_config(SearchConfig, path)
        path.write_text(f"metric: {{name: loss}}\nparameters:\n  epochs: {{value: {value}}}\n")
        with pytest.raises(ConfigError, match="not valid YAML"):
            read_sweep(path)
    assert not marker.exists()


# -- the command line ----------------------------------------------------------------------
@pytest.fixture
def memory_cap():
    """Allocations of this test beyond 4 GiB more than the process has mapped fail (MemoryError)
    instead of taking the machine: a hostile size must be refused before it is allocated."""
    import resource

    mapped = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = mapped + (4 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _no_training(monkeypatch):
    """A training step fails the test: fuzzed options must be refused before one."""
    from nasiam.runner.loop import Run

    def refuse(self, epoch):
        raise AssertionError("a fuzzed command line reached training")

    monkeypatch.setattr(Run, "train_epoch", refuse)


made_up = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=14).filter(
    lambda s: not s.strip("-").startswith("h"))  # argparse takes --h... for --help (exit 0)
values = (st.text(max_size=12) | st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e400", "1e18", "[]", "[1,",
                                                  "none", "true", "../..", "\x00", "🙂", "--epochs"])
          | st.integers(-10 ** 20, 10 ** 20).map(str) | st.floats().map(str))
# real options (the data ones excluded: they keep the run away from any data), or made up ones
real = sorted(set(SearchConfig.__dataclass_fields__) - {"dataset", "data_root", "config", "out_dir", "run_name"})
plausible = st.sampled_from(["1", "2", "0.5", "true", "false", "none", "relu,gelu", "16,32", "simclr", "mocov3",
                             "cpu", "32-true", "lars", "joint", "gumbel", "nasiam", "constant"])
# mostly real options with plausible values, so many command lines get past the parsing and are
# refused by the checks after it (or by the missing data); a made-up option now and then
options = st.lists(st.tuples(st.sampled_from(real), plausible | values), min_size=1, max_size=4) | st.lists(
    st.tuples(st.sampled_from(real) | made_up, values), min_size=1, max_size=3)


@CLI_FUZZ
@given(command=st.sampled_from(["search", "pretrain"]), opts=options)
# found by this test: a traceback from Lightning's seeding, an OverflowError from int("1e400")
@example(command="search", opts=[("seed", "-1")])
@example(command="pretrain", opts=[("seed", str(2 ** 32))])
@example(command="search", opts=[("pred_hidden_dim", "1e400")])
@example(command="pretrain", opts=[("epochs", "-1E999")])
def test_fuzzed_training_options_exit_2_with_a_message(tmp_path_factory, capsys, monkeypatch, memory_cap, command,
                                                       opts):
    _no_training(monkeypatch)
    empty = tmp_path_factory.mktemp("nodata")
    argv = [command, *[f"--{k}={v}" for k, v in opts], "--dataset=cifar10", f"--data_root={empty}",
            f"--out_dir={empty / 'runs'}", "--run_name=fuzz"]
    code = _main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, code, err)
    assert "Traceback" not in err and err.strip(), (argv, err)
    assert not (empty / "runs" / "fuzz").exists()  # refused before writing anything


@CLI_FUZZ
@given(command=st.sampled_from(["export", "eval"]), words=st.lists(values | made_up.map(lambda s: f"--{s}"),
                                                                   max_size=4), opts=options)
def test_fuzzed_export_and_eval_exit_2_with_a_message(tmp_path_factory, capsys, memory_cap, command, words, opts):
    empty = tmp_path_factory.mktemp("nodata")
    assume(not any(w.startswith("-h") or w.startswith("--h") for w in words))
    target = ["knn", str(empty)] if command == "eval" else [str(empty), "--out", str(empty / "out")]
    argv = [command, *target, *words, *[f"--{k}={v}" for k, v in opts]]
    code = _main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, code, err)
    assert "Traceback" not in err and err.strip(), (argv, err)


def _main(argv):
    try:
        return main(argv)
    except SystemExit as e:  # argparse's own usage errors exit 2 after printing the usage
        return e.code


# -- every command, under a memory cap, leaving everything outside its directory as it was --
DOCUMENTED_EXITS = {0, 2, 3, 4, 5, 6}


def _snapshot(root):
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def _check_run(argv, root, inside, capsys):
    """Run `argv`; exit in the documented set, no traceback, and every file under `root` but
    outside `inside` untouched (none added, none changed)."""
    (root / "bystander.txt").write_text("not nasiam's")
    before = {k: v for k, v in _snapshot(root).items() if not k.startswith(str(inside))}
    code = _main(argv)
    err = capsys.readouterr().err
    assert code in DOCUMENTED_EXITS, (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    after = {k: v for k, v in _snapshot(root).items() if not k.startswith(str(inside))}
    assert after == before, (argv, set(after) ^ set(before))
    return code, err


heads_specs = st.lists(st.sampled_from(["default", "paper", "directpred", "linpred", "lightly", "solo-learn", "random:2",
                                        "random:0", "random:101", "random:3/seed", "search", "search:argmax",
                                        "search+init", "search(--epochs=1)", "x=default", "x=default",
                                        "../../etc", "search(", "random"]) | made_up, min_size=1, max_size=4)


@CLI_FUZZ
@given(heads=heads_specs, seeds=st.sampled_from(["2", "0,1", "1000000000", "0,0", "-1", "x", "4294967296", "3"]),
       jobs=st.sampled_from(["1", "2", "0", "1000", "-3"]), opts=options)
def test_fuzzed_compare_stays_in_its_directory(tmp_path_factory, capsys, monkeypatch, memory_cap, heads, seeds,
                                               jobs, opts):
    import nasiam.compare as compare_module
    from nasiam.compare.executor import ExecutionReport

    monkeypatch.setattr(compare_module, "run_jobs", lambda *a, **k: ExecutionReport())   # no training here
    root = tmp_path_factory.mktemp("compare")
    out = root / "out"
    argv = ["compare", "--heads", ",".join(heads), "--seeds", seeds, "--jobs", jobs, "--out", str(out),
            "--dataset=synthetic", *[f"--{k}={v}" for k, v in opts if k not in ("out_dir", "resume", "seed")]]
    _check_run(argv, root, out, capsys)


# what a comparison folder holds, damaged: summaries, run configs, the comparison's own record
compare_file_bytes = (st.binary(max_size=120) | json_values.map(lambda v: json.dumps(v).encode())
                      | st.dictionaries(st.sampled_from(["linear_top1", "knn_top1", "rankme", "train_seconds", "heads",
                                                         "selection", "command", "genotypes", "environment",
                                                         "format", "common", "pinned_heads", "finished_summaries",
                                                         "seed", "run_name"]),
                                        json_values, max_size=4).map(lambda d: json.dumps(d).encode())
                      | st.sampled_from([b'{"linear_top1": NaN}', b'{"train_seconds": 1e308}', b'"x"', b"[]",
                                         b'{"format": "nasiam.compare", "common": []}', b"\xff\xfe", b"seed: [",
                                         b"!!python/object/apply:os.system ['touch pwned']"]))


@CLI_FUZZ
@given(name=st.sampled_from(["summary.json", "config.yaml", "compare.json"]), data=compare_file_bytes,
       report_only=st.booleans())
# found by this test (2026-12-07): a null where the report reads a mapping was an AttributeError
@example(name="summary.json", data=b'{"heads":null}', report_only=False)
def test_fuzzed_compare_files_exit_2_with_a_message(tmp_path_factory, capsys, monkeypatch, memory_cap, name, data,
                                                    report_only):
    """A finished comparison of one run, one of its files replaced: reported (0) or refused
    with a message (2) naming the file, never a traceback, nothing outside it touched."""
    import nasiam.compare as compare_module
    from nasiam.compare.executor import ExecutionReport

    monkeypatch.setattr(compare_module, "run_jobs", lambda *a, **k: ExecutionReport())   # no training here
    root = tmp_path_factory.mktemp("compare_files")
    out = root / "out"
    options = ["--dataset=synthetic", "--subset=64", "--image_size=16", "--epochs=1", "--proj_hidden_dim=8",
               "--proj_output_dim=8", "--pred_hidden_dim=4"]
    plan, _ = compare_module.prepare("default", "0,", out, dict(o[2:].split("=", 1) for o in options))
    run = out / "runs" / plan.jobs[0].name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(dict(o[2:].split("=", 1) for o in plan.jobs[0].options())))
    (run / "summary.json").write_text(json.dumps({"command": "pretrain", "linear_top1": 50.0}))
    (out / name if name == "compare.json" else run / name).write_bytes(data)
    argv = ["compare", "--heads", "default", "--seeds", "0,", "--out", str(out), *options,
            *(["--report_only"] if report_only else [])]
    code, err = _check_run(argv, root, out, capsys)
    assert code in (0, 2), (data, err)
    assert code == 0 or name in err, (data, err)
    assert not (root / "pwned").exists() and not Path("pwned").exists()


@pytest.mark.slow
@CLI_FUZZ
@given(trials=st.sampled_from(["1", "0", "-1", "100000", "2"]), name=st.sampled_from([None, "../up", "ok", "a/b"]),
       parameters=st.dictionaries(st.sampled_from(sorted(SearchConfig.__dataclass_fields__)) | made_up,
                                  st.fixed_dictionaries({"value": json_values}) | json_values, max_size=3))
def test_fuzzed_sweep_stays_in_its_directory(tmp_path_factory, capsys, monkeypatch, memory_cap, trials, name,
                                             parameters):
    pytest.importorskip("optuna")
    _no_training(monkeypatch)
    root = tmp_path_factory.mktemp("sweep")
    empty = root / "nodata"
    empty.mkdir()
    sweep = root / "sweeps" / "s.yaml"
    sweep.parent.mkdir()
    sweep.write_text(yaml.safe_dump({"method": "random", "metric": {"name": "knn_top1", "goal": "maximize"},
                                     "parameters": parameters or {"epochs": {"value": 1}}}))
    argv = ["sweep", "--config", str(sweep), "--trials", trials, "--sweep_dir", str(root / "sweeps"),
            *(["--name", name] if name else []), "--dataset=cifar10", f"--data_root={empty}"]
    code, _ = _check_run(argv, root, root / "sweeps", capsys)
    assert code != 0   # no data: no trial can finish


@CLI_FUZZ
@given(repo=st.sampled_from(["user/name", "", "a" * 200, "../x", "user/na me", "x"]) | made_up,
       revision=st.sampled_from([None, "main", "../../x", ""]), private=st.booleans())
def test_fuzzed_push_stays_offline_and_in_place(tmp_path_factory, capsys, monkeypatch, memory_cap, repo, revision,
                                                private):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = tmp_path_factory.mktemp("push")
    run_dir = root / "run"
    run_dir.mkdir()
    argv = ["push", str(run_dir), "--repo", repo, *(["--revision", revision] if revision is not None else []),
            *(["--private"] if private else [])]
    code, _ = _check_run(argv, root, root / "nothing-may-change", capsys)
    assert code != 0   # an empty directory holds no heads to push
