"""benchmarks/demo_size.py: the CPU demo's size, measured side by side (issue #35)."""
import pytest
from _benchmarks import load_benchmark

from nasiam.config import SearchConfig, field_types, load_config, parse_value


def test_the_baseline_preset_is_the_demo_as_it_runs_today():
    """The baseline spells out the demo's defaults; if a default changes, this fails until the
    benchmark's baseline (and the README's timings) follow it."""
    demo_size = load_benchmark("demo_size")
    defaults = load_config(SearchConfig, None, {}, check_environment=False)
    types = field_types(SearchConfig)
    for option in demo_size.BASELINE:
        name, raw = option.removeprefix("--").split("=", 1)
        assert getattr(defaults, name) == parse_value(name, raw, types[name]), \
            f"--{name}: the demo's default is {getattr(defaults, name)!r}, the benchmark's baseline says {raw}"


def test_each_candidate_changes_the_baseline_in_what_it_says():
    demo_size = load_benchmark("demo_size")
    base = set(demo_size.BASELINE)
    for name, args in demo_size.PRESETS.items():
        if name != "baseline":
            assert set(args) != base and len({a.split("=")[0] for a in args}) == len(args), name


def test_the_table_gives_each_run_its_ratio_to_the_same_seeds_baseline():
    demo_size = load_benchmark("demo_size")

    def run(preset, seed, wall, knn):
        return {"preset": preset, "seed": seed, "exit": 0, "wall_seconds": wall, "train_seconds": wall - 40,
                "eval_seconds": 30, "knn20_top1": knn, "knn200_top1": knn - 4, "decisions_above_noise": 4,
                "decisions": 8, "arch_steps": 644, "genotypes": {"projector": "linear128", "predictor": "linear"}}

    table = demo_size.report([run("baseline", 300, 400, 79.5), run("s10k", 300, 300, 79.0),
                              run("baseline", 301, 200, 80.0), run("s10k", 301, 180, 79.8)])
    assert "| s10k | 300 | 300 | 0.75x |" in table and "| s10k | 301 | 180 | 0.90x |" in table
    assert "| s10k | 2 | 0.82x | 79.40 |" in table   # the mean of the per-seed ratios, not of the seconds


def test_an_unknown_preset_is_refused(capsys, monkeypatch):
    demo_size = load_benchmark("demo_size")
    monkeypatch.setattr("sys.argv", ["demo_size.py", "--presets", "baseline,tiny"])
    with pytest.raises(SystemExit) as exit_info:
        demo_size.main()
    assert exit_info.value.code == 2 and "unknown preset(s) tiny" in capsys.readouterr().err
