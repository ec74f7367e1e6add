"""The twenty-first probe of #33, its sweep findings (S11): a distribution's range checked when
the sweep file is read, and results.md's table and links when no trial ran."""
import pytest
import yaml

from nasiam.cli import main
from nasiam.config import ConfigError
from nasiam.runner.sweep_file import read_sweep


def _sweep(tmp_path, parameters, method="random"):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"method": method, "metric": {"name": "knn_top1", "goal": "maximize"},
                                    "parameters": parameters}))
    return path


@pytest.mark.parametrize("spec, named", [
    ({"distribution": "log_uniform_values", "min": 0.1, "max": 0.01}, "min 0.1 is above max 0.01; swap them"),
    ({"distribution": "uniform", "min": 0.5, "max": 0.1}, "min 0.5 is above max 0.1"),
    ({"distribution": "q_uniform", "min": 0.01, "max": 0.1, "q": 0}, "q, the step between values, must be a number above 0"),
    ({"distribution": "log_uniform_values", "min": 0, "max": 0.1}, "a log scale needs min above 0"),
    ({"distribution": "uniform", "min": 0.01, "max": float("inf")}, "min and max must be finite numbers"),
])
def test_a_distribution_the_sampler_cannot_draw_from_is_refused_when_read(tmp_path, spec, named):
    """S11: each trial failed with Optuna's words ("`low <= high` must hold"), naming no
    parameter, and the sweep ended with nothing, exit 2."""
    path = _sweep(tmp_path, {"arch_lr": spec})
    with pytest.raises(ConfigError, match=named) as refused:
        read_sweep(path)
    assert str(path) in str(refused.value) and "'arch_lr'" in str(refused.value)


def test_a_sound_range_is_read(tmp_path):
    read_sweep(_sweep(tmp_path, {"arch_lr": {"distribution": "log_uniform_values", "min": 0.001, "max": 0.1},
                                 "epochs": {"distribution": "int_uniform", "min": 1, "max": 1}}))


def test_results_md_is_a_table_and_links_no_run_that_never_started(tmp_path, monkeypatch, capsys):
    """S11: with no swept parameter recorded the header had a cell more than its delimiter row
    (no Markdown table), a failed trial linked trials/trial-0, which did not exist, and the error
    pointed at trial logs that were never written."""
    pytest.importorskip("optuna")
    import nasiam.runner.search as search_module

    class RefusedRun:   # refused before its run folder is made, as a trial's options can be
        def __init__(self, cfg, verbose=False):
            raise ValueError("this trial's options are refused")

    monkeypatch.setattr(search_module, "SearchRun", RefusedRun)
    path = _sweep(tmp_path, {"seed": {"value": 1}})
    assert main(["sweep", "--config", str(path), "--sweep_dir", str(tmp_path / "sw"), "--trials", "1"]) == 2
    out, err = capsys.readouterr()
    assert "trial 0 failed: this trial's options are refused" in err and "logs" not in err
    # probe 22, T11: the summary lists only the files written (no history.png with no finished trial)
    assert "(results.md, results.csv, optuna.db)" in out
    lines = (tmp_path / "sw" / "sweep" / "results.md").read_text().splitlines()
    assert len({line.count("|") for line in lines}) == 1, lines   # header, delimiter and rows alike
    assert "trials/trial-0" not in "\n".join(lines) and not (tmp_path / "sw" / "sweep" / "trials" / "trial-0").exists()
