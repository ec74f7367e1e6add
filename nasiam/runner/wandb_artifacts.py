"""Runs as Weights & Biases model artifacts, and runs built from them.

A finished search or pretrain logs its outputs as one artifact of type "model", named after
the run directory (`search-<run>`, `pretrain-<run>`): `heads/` (each head's genotype.json and
head.safetensors), `genotype.json`, `backbone.safetensors` with `backbone.json`, `config.yaml`
and `summary.json`, with the genotypes and scores as metadata. `nasiam pretrain` takes such an
artifact wherever it takes a run directory, written with an explicit prefix so that a local
path is never sent to the network:

    nasiam pretrain --head wandb:entity/project/search-myrun:latest      # the architecture
    nasiam pretrain --init wandb:entity/project/search-myrun:v3          # ... and the weights

The artifact is downloaded once into the run directory (`inputs/`), read by the same validated
loaders as a local run, and recorded as the run's input (`use_artifact`), so W&B shows the
lineage search -> pretrain. Local copies come first, without asking the server (see
`download_run`); credentials and the server are wandb's own business.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from nasiam._io import atomic_write_text
from nasiam.errors import RemoteError

__all__ = ["PREFIX", "RUN_FILES", "is_artifact_reference", "artifact_name", "log_run_artifact", "download_run"]

PREFIX = "wandb:"
RUN_FILES = ("genotype.json", "backbone.safetensors", "backbone.json", "config.yaml", "summary.json")
API_TIMEOUT = 10  # seconds per request to the W&B server (wandb.Api(timeout=), wandb >= 0.19.10)
_VERSION = re.compile(r"v\d+")


def is_artifact_reference(value: str | None) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def _safe_name(text: str) -> str:
    """W&B artifact names (and our download folders) allow letters, digits, '-', '_' and '.'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)


def artifact_name(kind: str, run_dir: Path) -> str:
    return _safe_name(f"{kind}-{Path(run_dir).name}")


def log_run_artifact(wandb_run, run_dir: Path, kind: str, metadata: Mapping[str, Any]):
    """Log `run_dir`'s outputs as a model artifact on `wandb_run`; returns the artifact."""
    import wandb

    run_dir = Path(run_dir)
    artifact = wandb.Artifact(artifact_name(kind, run_dir), type="model", metadata=dict(metadata),
                              description=f"nasiam {kind} run {run_dir.name}: heads, genotype and backbone")
    for name in RUN_FILES:
        if (run_dir / name).is_file():
            artifact.add_file(str(run_dir / name), name=name)
    if (run_dir / "heads").is_dir():
        artifact.add_dir(str(run_dir / "heads"), name="heads")
    wandb_run.log_artifact(artifact, aliases=["latest"])
    return artifact


def _reference(value: str) -> str:
    reference = value[len(PREFIX):]
    # entity/project/name:alias, project/name:alias or name:alias (wandb fills in the rest)
    if not re.fullmatch(r"([\w.-]+/){0,2}[\w.-]+(:[\w.-]+)?", reference):
        raise ValueError(f"{value!r} is not a W&B artifact reference; write wandb:ENTITY/PROJECT/NAME:ALIAS "
                         "(e.g. wandb:me/nasiam/search-myrun:latest)")
    return reference if ":" in reference else reference + ":latest"


def _artifact_dir() -> Path:
    """W&B's download folder as wandb.env.get_artifact_dir() reads it, without importing wandb."""
    return Path(os.environ.get("WANDB_ARTIFACT_DIR", "artifacts")).absolute()


def _wandb_copies(name: str) -> dict[int, Path]:
    """{version: folder} of the nasiam run artifact `name` already in W&B's download folder:
    `artifact.download()` and `wandb artifact get` write version N to <dir>/<name>:vN
    (<name>-vN where ':' is not allowed in a path, as wandb does on Windows)."""
    found: dict[int, Path] = {}
    for folder in sorted(_artifact_dir().glob(f"{name}[:-]v*")):
        version = folder.name[len(name) + 1:]
        if _VERSION.fullmatch(version) and (folder / "genotype.json").is_file():
            found.setdefault(int(version[1:]), folder)
    return found


def _api_timeout() -> int:
    """WANDB_HTTP_TIMEOUT when set (wandb reads it only when imported), else API_TIMEOUT:
    wandb's default (19 s) leaves an unreachable server slow to report."""
    try:
        return int(os.environ["WANDB_HTTP_TIMEOUT"])
    except (KeyError, ValueError):
        return API_TIMEOUT


def _fix(reference: str, copies: Mapping[int, Path]) -> str:
    """The ways round a W&B server that cannot give the artifact: local copies."""
    path, name = reference.rsplit(":", 1)[0], reference.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    run = re.sub(r"^(search|pretrain)-", "", name)
    text = (f"or pass a local copy instead: the directory of the run it was logged from (e.g. runs/{run}), or the "
            f"artifact's folder (`wandb artifact get {path}:vN`, run where W&B can be reached, writes it to "
            f"{_artifact_dir()}/{name}:vN, where nasiam finds it)")
    if copies:
        versions = ", ".join(f"v{v}" for v in sorted(copies))
        text += (f"; W&B's download folder here holds {name} {versions}: use one with "
                 f"wandb:{path}:v{max(copies)} or pass its folder {copies[max(copies)]}")
    return text


def _cause(error: Exception) -> str:
    return f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"


def _server_error(reference: str, error: Exception, copies: Mapping[int, Path]) -> RemoteError:
    no_key = type(error).__name__ == "UsageError" and not os.environ.get("WANDB_API_KEY")
    what = ("no W&B API key is configured; log in with `wandb login` or set WANDB_API_KEY (WANDB_BASE_URL for a "
            "self-hosted server)" if no_key else
            "the W&B server could not be reached or refused the key; check the connection, WANDB_BASE_URL and the "
            "key (`wandb login --relogin`, WANDB_API_KEY)")
    return RemoteError(f"could not read the W&B artifact {reference} ({_cause(error)}): {what}, "
                       f"{_fix(reference, copies)}")


def download_run(value: str, inputs_dir: Path, api=None) -> tuple[Path, str]:
    """The local directory of the artifact `value` and the resolved reference for `use_artifact`.
    Looked for, in order: this run's own earlier download in `inputs_dir` (a resumed run keeps its
    input even if the alias has moved); for a version alias (vN, which never changes), W&B's
    download folder; then the server. RemoteError when the server cannot be reached or refuses
    the key, FileNotFoundError when it has no such artifact; both name the local copies instead."""
    reference = _reference(value)
    alias, name = reference.rsplit(":", 1)[1], reference.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    target = Path(inputs_dir) / _safe_name(reference)
    record = target.with_name(target.name + ".json")  # written after a complete download
    try:
        if (target / "genotype.json").is_file():
            return target, json.loads(record.read_text())["qualified_name"]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no record: the download did not finish; fetch it again
    copies = _wandb_copies(name)
    if _VERSION.fullmatch(alias) and int(alias[1:]) in copies:
        return copies[int(alias[1:])], reference
    try:
        import wandb
    except ImportError:
        raise ImportError(f"{value} is a W&B artifact: pip install 'nasiam[wandb]' (or pip install wandb), "
                          f"{_fix(reference, copies)}") from None
    if api is None:
        mode = os.environ.get("WANDB_MODE", "")
        if mode in ("offline", "disabled", "dryrun"):   # the user said no server: asking would only wait on retries
            raise RemoteError(f"could not read the W&B artifact {reference}: WANDB_MODE is {mode}, so the W&B server "
                              f"was not asked; unset WANDB_MODE (or set it to online) to download it, "
                              f"{_fix(reference, copies)}")
        try:
            api = wandb.Api(timeout=_api_timeout())
        except Exception as e:  # UsageError (no key), AuthenticationError/CommError (server), by version
            raise _server_error(reference, e, copies) from None
    try:
        artifact = api.artifact(reference, type="model")
    except Exception as e:  # wandb raises CommError/ValueError subclasses that vary by version
        raise FileNotFoundError(f"W&B artifact {reference} could not be fetched ({str(e).splitlines()[0][:200]}); "
                                "check the name and alias, WANDB_API_KEY and WANDB_BASE_URL, "
                                f"{_fix(reference, copies)}") from None
    try:
        local = Path(artifact.download(root=str(target)))
    except Exception as e:
        if isinstance(e, OSError) and e.errno is not None:
            raise  # the disk, not the server: reported as such (cli.describe_os_error)
        raise RemoteError(f"could not download the W&B artifact {reference} into {target} ({_cause(e)}); run the "
                          f"same command again to retry, {_fix(reference, copies)}") from None
    if not (local / "genotype.json").is_file():
        raise FileNotFoundError(f"W&B artifact {reference} holds no genotype.json: not a nasiam run artifact")
    qualified = getattr(artifact, "qualified_name", None)
    qualified = qualified if isinstance(qualified, str) else reference
    atomic_write_text(record, json.dumps({"reference": reference, "qualified_name": qualified}) + "\n")
    return local, qualified
