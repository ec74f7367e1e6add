"""A finished run's summary.json records the sha256 of the files read as its result (issue #33,
round three): a backbone, head or configuration replaced afterwards is refused by name wherever
the run is used as input (`pretrain --init`, `nasiam export`, a comparison's reuse), as an
export's own record (export.json) already was. Summaries written before the record keep loading."""
import json
import shutil

import pytest
from _runs import TINY

from nasiam.cli import main
from nasiam.errors import CheckpointError
from nasiam.rundir import check_run_files, require_complete, run_file_digests


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("record")
    assert main(["search", *TINY, "--subset=128", "--epochs=1", "--warmup_epochs=0", f"--out_dir={out}",
                 "--run_name=r"]) == 0
    return out / "r"


def _copy(finished, tmp_path):
    return shutil.copytree(finished, tmp_path / "r")


def _flip_last_byte(path):
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))   # same size and shapes: another run's bytes


def test_a_search_records_the_sha256_of_its_result_files(finished):
    recorded = json.loads((finished / "summary.json").read_text())["files"]
    assert {"config.yaml", "genotype.json", "backbone.json", "backbone.safetensors",
            "heads/projector/head.safetensors", "heads/projector/genotype.json"} <= set(recorded)
    assert not any(name.startswith(("logs/", "checkpoints/")) or name == "summary.json" for name in recorded)
    assert recorded == run_file_digests(finished)
    require_complete(finished, "--init")   # as written: trusted


@pytest.mark.parametrize("changed", ["backbone.safetensors", "heads/projector/head.safetensors"])
def test_pretrain_init_refuses_a_run_whose_file_was_replaced(finished, tmp_path, capsys, changed):
    run = _copy(finished, tmp_path)
    _flip_last_byte(run / changed)
    args = ["pretrain", *[a for a in TINY if not a.startswith(("--widths", "--warmup_epochs", "--arch_lr"))],
            "--epochs=1", f"--out_dir={tmp_path}", "--run_name=p", f"--init={run}"]
    assert main(args) == 2   # was 0: the replaced file trained on as the run's
    err = capsys.readouterr().err
    assert f"--init {run}: {changed} changed since the run finished (summary.json lists the sha256" in err
    assert not (tmp_path / "p" / "summary.json").exists()


def test_a_missing_head_is_refused_for_init_and_left_to_the_reader_elsewhere(finished, tmp_path):
    run = _copy(finished, tmp_path)
    shutil.rmtree(run / "heads" / "predictor")
    check_run_files(run, "", "advice")   # an archive of the small files, a W&B download: absent is not changed
    with pytest.raises(CheckpointError, match="heads/predictor/genotype.json, heads/predictor/head.safetensors "
                                              "missing"):
        require_complete(run, "--init")


def test_export_refuses_a_run_whose_configuration_changed(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    with open(run / "config.yaml", "a") as f:
        f.write("# edited\n")
    assert main(["export", str(run), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{run}: config.yaml changed since the run finished" in err and "Restore the files" in err
    assert not (tmp_path / "out").exists()


def test_a_summary_without_the_record_is_accepted_and_a_damaged_record_refused(finished, tmp_path):
    run = _copy(finished, tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    del summary["files"]   # as an earlier nasiam wrote it (the archived benchmark results)
    (run / "summary.json").write_text(json.dumps(summary))
    _flip_last_byte(run / "backbone.safetensors")
    require_complete(run, "--init")
    (run / "summary.json").write_text(json.dumps({**summary, "files": ["backbone.safetensors"]}))
    with pytest.raises(CheckpointError, match="'files' is not the record nasiam writes there"):
        require_complete(run, "--init")
