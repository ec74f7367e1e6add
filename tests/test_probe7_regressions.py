"""Defects the seventh probe of issue #33 found (benchmarks/results/probe-2026-12-07/findings-seventh.md),
kept as strict xfails until they are fixed: each test fails on the code probed (main e385572)."""
import pytest
import torch

from nasiam import SearchableHead


def test_the_probe_heads_are_tiny():
    """A guard that the module imports and builds a head (the xfail below is strict)."""
    assert SearchableHead(16, 8, num_layers=1)(torch.randn(4, 16)).shape == (4, 8)


class _OneProcess:
    is_global_zero = True

    @staticmethod
    def broadcast(value):
        return value


@pytest.mark.xfail(strict=True, reason="probe7 E10b/E11b/E12: a new run is refused only where checkpoints/last.ckpt "
                                       "exists, so it writes over a user's folder, an export or a finished run "
                                       "whose checkpoints were deleted (claim_run_dir)")
def test_a_new_run_is_not_started_in_a_folder_holding_files_nasiam_did_not_write_for_it(tmp_path):
    from types import SimpleNamespace

    from nasiam.runner.claim import claim_run_dir

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "alphas.csv").write_text("my own numbers\n")
    cfg = SimpleNamespace(resume=None, run_name="mine", out_dir=str(tmp_path))
    with pytest.raises(Exception) as info:   # CheckpointError or ConfigError: the CLI's exit 2
        claimed = claim_run_dir(cfg, "search", "simsiam", _OneProcess(), say=lambda _: None)
        claimed.lock.release()
    assert "mine" in str(info.value)
