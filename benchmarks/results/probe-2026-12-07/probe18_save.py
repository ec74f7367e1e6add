"""probe 18 (h57): 97eb452's N7 fix (a config.yaml is a run's record only when it holds nasiam's
framework:/backbone:/proj_hidden_dim: lines), through NASHead.save_pretrained and the Lightning
callback's export_dir check. Usage: probe18_save.py PROBE_DIR (needs w/runs/s0, w/e0 of
probe18_base.sh; works in PROBE_DIR/sv on copies)."""
import os
import shutil
import sys
from pathlib import Path

from nasiam.head import NASHead

P = Path(sys.argv[1])
W = P / "sv"
shutil.rmtree(W, ignore_errors=True)
W.mkdir()
os.chdir(W)
S0, E0 = P / "w" / "runs" / "s0", P / "w" / "e0"
head = NASHead.from_pretrained(S0 / "heads" / "projector")
try:
    from nasiam.integrations.lightning import _checked_export_dir
except Exception as e:   # lightning not installed
    print(f"(the Lightning callback's check not importable: {type(e).__name__}: {str(e)[:80]})")
    _checked_export_dir = None


def case(cid, what, folder, expect, target="heads"):
    target = Path(folder) / target if target else Path(folder)
    try:
        head.save_pretrained(target)
        got = "written"
    except ValueError as e:
        got = f"refused: {str(e)[:170]}"
    flag = "" if got.split(":")[0] == expect else "  **UNEXPECTED**"
    print(f"{cid}: {what} [{target}]: {got}{flag}")


def project(name, files, dirs=()):
    d = W / name
    d.mkdir()
    for f, text in files.items():
        (d / f).write_text(text) if isinstance(text, str) else (d / f).write_bytes(text)
    for sub in dirs:
        (d / sub).mkdir()
    return d


cfg = (S0 / "config.yaml").read_text()
# nasiam runs: must be refused
shutil.copytree(S0, W / "run", ignore=shutil.ignore_patterns("checkpoints"))
case("R1", "a finished run's heads/", W / "run", "refused")
case("R2", "a finished run itself", W / "run", "refused", None)
case("R3", "a run still training (config.yaml, checkpoints/, no summary.json)",
     project("training", {"config.yaml": cfg}, ["checkpoints", "logs"]), "refused")
case("R4", "a run just started (config.yaml alone)", project("started", {"config.yaml": cfg}), "refused")
case("R5", "a run's config.yaml with CRLF line ends (copied through Windows)",
     project("crlf", {"config.yaml": cfg.replace("\n", "\r\n").encode()}, ["checkpoints"]), "refused")
case("R6", "a run's config.yaml with a UTF-8 BOM (edited in an editor that adds one)",
     project("bom", {"config.yaml": "\ufeff" + cfg}, ["checkpoints"]), "refused")
case("R7", "a run's config.yaml re-saved with flow style keys reordered (yaml round trip, sort_keys)",
     project("sorted", {"config.yaml": __import__("yaml").safe_dump(__import__("yaml").safe_load(cfg),
                                                                      sort_keys=True)}, ["checkpoints"]), "refused")
case("R8", "a run's config.yaml re-saved with 4-space indent json-like (yaml.safe_dump default_flow_style=True)",
     project("flow", {"config.yaml": __import__("yaml").safe_dump(__import__("yaml").safe_load(cfg),
                                                                    default_flow_style=True)}, ["checkpoints"]), "refused")
case("R9", "an export's heads/", E0, "refused")
os.symlink(S0 / "config.yaml", W / "linkcfg.yaml")
lk = project("linked", {}, ["checkpoints"])
os.symlink(S0 / "config.yaml", lk / "config.yaml")
case("R10", "a folder whose config.yaml is a link to a run's", lk, "refused")
# users' projects: must be written
case("U1", "LightningCLI log folder (config.yaml with model:/trainer:, hparams.yaml, checkpoints/)",
     project("lightning", {"config.yaml": "seed_everything: 0\ntrainer:\n  max_epochs: 1\nmodel:\n  framework: simsiam\n"
                           "  backbone: resnet18\n  proj_hidden_dim: 2048\n", "hparams.yaml": "lr: 0.1\n"},
             ["checkpoints"]), "written")
case("U2", "a project with another tool's summary.json (N7's SV11) and config.yaml",
     project("tool_summary", {"summary.json": '{"loss": 0.1}', "config.yaml": "lr: 0.1\n"}), "written")
case("U3", "a project with another tool's export.json", project("tool_export", {"export.json": "{}"}), "written")
case("U4", "a project whose config.yaml is the user's nasiam recipe (framework/backbone/proj_hidden_dim)",
     project("recipe", {"config.yaml": "framework: simclr\nbackbone: resnet18\nproj_hidden_dim: 2048\nepochs: 100\n"}),
     "written")
case("U5", "a Hydra project (config.yaml: framework: pytorch, backbone: vit, proj_hidden_dim: 256)",
     project("hydra", {"config.yaml": "framework: pytorch\nbackbone: vit_b16\nproj_hidden_dim: 256\n"}, ["outputs"]),
     "written")
fifo = project("fifo", {})
os.mkfifo(fifo / "config.yaml")
case("U6", "a project whose config.yaml is a FIFO", fifo, "written")
if _checked_export_dir is not None:
    for cid, folder, expect in (("L1", W / "run", "refused"), ("L2", W / "training", "refused"),
                                ("L3", W / "lightning" / "nas", "written"), ("L4", W / "tool_summary", "written")):
        try:
            _checked_export_dir(Path(folder))
            got = "written"
        except ValueError as e:
            got = f"refused: {str(e)[:150]}"
        print(f"{cid}: callback export_dir [{folder}]: {got}{'' if got.split(':')[0] == expect else '  **UNEXPECTED**'}")
