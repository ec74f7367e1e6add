"""fp16 (16-mixed on CUDA) scales the loss; gradients nasiam takes outside `fabric.backward`
must scale and unscale themselves. Fabric runs 16-mixed as bf16 on CPU, so these tests give
Fabric what it builds on CUDA, a GradScaler with fp16 autocast, on the CPU."""
import pytest
import torch
from _runs import TINY

from nasiam.cli import main
from nasiam.runner.logger import read_metrics

lightning_fabric = pytest.importorskip("lightning_fabric")
from lightning_fabric.plugins.precision import MixedPrecision  # noqa: E402

pytestmark = pytest.mark.slow  # every test here trains or compiles

SEARCH = [a for a in TINY if not a.startswith(("--epochs", "--warmup_epochs"))] + [
    "--epochs=2", "--warmup_epochs=1", "--log_every_n_steps=1"]


@pytest.fixture
def cuda_like_fp16(monkeypatch):
    """`--precision=16-mixed` gets fp16 autocast and a GradScaler, as on a GPU."""
    original = lightning_fabric.Fabric

    class Fabric(original):
        def __init__(self, *args, precision=None, **kwargs):
            if precision == "16-mixed":
                kwargs["plugins"] = [MixedPrecision("16-mixed", "cpu", torch.amp.GradScaler("cpu"))]
                precision = None
            super().__init__(*args, precision=precision, **kwargs)

    monkeypatch.setattr(lightning_fabric, "Fabric", Fabric)


def _arch_grad_rms(run_dir) -> list[float]:
    return [row["train/arch_grad_rms"] for row in read_metrics(run_dir / "logs" / "metrics.csv")
            if "train/arch_grad_rms" in row]


@pytest.mark.parametrize("mode", ["joint", "bilevel"])
def test_fp16_search_reports_unscaled_logit_gradients(cuda_like_fp16, tmp_path, mode):
    """The logits' gradients are reported (and regularised) at the loss's own scale: in joint
    mode the weight step's scaler is undone on them, in bilevel mode the architecture step
    scales and unscales its own loss. Unscaled they are about 1e-3 here (as in fp32); left
    scaled by 2**15-2**16 they read 40-110."""
    assert main(["search", *SEARCH, f"--mode={mode}", "--precision=16-mixed", f"--out_dir={tmp_path}",
                 "--run_name=r"]) == 0
    rms = _arch_grad_rms(tmp_path / "r")
    assert rms and max(rms) < 1.0, rms


def test_an_fp16_search_checkpoints_its_architecture_loss_scale(cuda_like_fp16, tmp_path):
    """The checkpoint carries the architecture step's loss scale, so `--resume` goes on at the
    level the run had found instead of starting again at 2**16 (and skipping steps to find it)."""
    from nasiam.runner.checkpoint import load_checkpoint

    assert main(["search", *SEARCH, "--precision=16-mixed", f"--out_dir={tmp_path}", "--run_name=r"]) == 0
    state = load_checkpoint(tmp_path / "r" / "checkpoints" / "last.ckpt")["arch_optimizer"]
    # the scale starts at 2**16 and halves on each overflow (CPU fp16 overflows now and then)
    assert state["loss_scale"] in {2.0 ** k for k in range(17)} and state["loss_scale_finite_steps"] >= 0
