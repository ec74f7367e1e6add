"""Sharing heads on the Hugging Face Hub.

A head on the Hub is the directory `NASHead.save_pretrained` writes (`genotype.json` +
`head.safetensors`) plus a small `config.json` and a model card (`README.md`). A run's heads go
to one repo, one subfolder per slot::

    user/my-heads/
        README.md              model card: library_name: nasiam, tags, usage
        config.json            {"format": "nasiam.heads", "heads": {...}}
        projector/             genotype.json, head.safetensors, config.json
        predictor/             (same)

Loading is explicit about the network: only ids written ``hf-hub:user/name`` go to the Hub (a
mistyped local path is a FileNotFoundError, never a download), a run's slot is chosen with
``subfolder=`` and a branch, tag or commit with ``revision=`` or, as timm writes it, ``@``::

    NASHead.from_pretrained("hf-hub:user/my-heads", subfolder="projector", revision="v1")
    NASHead.from_pretrained("hf-hub:user/my-heads@v1", subfolder="projector")     # the same

Only `genotype.json` and `head.safetensors` are downloaded (through the Hugging Face cache, so
``HF_HUB_OFFLINE=1`` and ``HF_HUB_CACHE`` work as for any Hub library) and they go through the
same strict loader as a local directory: nothing downloaded is executed or unpickled.

huggingface_hub is imported only when a function here is called: the core runs without it.
`NASHead` imports this module, so heads are taken as any object with NASHead's
`save_pretrained`, `genotype`, `in_dim`, `out_dim` and `num_parameters`.
"""
from __future__ import annotations

import inspect
import json
import math
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Mapping

from nasiam._arguments import as_real
from nasiam._io import atomic_write_text
from nasiam._version import __version__
from nasiam.errors import RemoteError

__all__ = ["HUB_PREFIX", "CONFIG_FILE", "MODEL_CARD_FILE", "GENOTYPE_FILE", "WEIGHTS_FILE", "download_head",
           "push_heads_to_hub", "check_repo_id", "transfer_errors", "describe_transfer_error"]

GENOTYPE_FILE = "genotype.json"     # the two files of a saved NASHead (nasiam.head.nas_head re-exports them)
WEIGHTS_FILE = "head.safetensors"
_Head = Any  # a nasiam.head.NASHead, which imports this module (annotations only)

HUB_PREFIX = "hf-hub:"  # as in timm
CONFIG_FILE = "config.json"
MODEL_CARD_FILE = "README.md"
TAGS = ("nasiam", "self-supervised-learning", "neural-architecture-search", "pytorch")

# The Hub's own rules for a repo id, checked here so a bad one fails before any import or request:
# letters, digits, '-', '_', '.', not starting or ending with '-' or '.', at most 96 characters.
_ID_PART = re.compile(r"(?![-.])[A-Za-z0-9_.-]{1,96}(?<![-.])")
# A subfolder becomes an `allow_patterns` glob when downloading: no wildcards, no '..'.
_SUBFOLDER_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _require_hub():
    try:
        import huggingface_hub
    except ImportError as e:
        raise ImportError("Sharing heads on the Hugging Face Hub needs huggingface_hub: "
                          "pip install huggingface_hub") from e
    return huggingface_hub


def check_repo_id(repo_id: str) -> str:
    """`repo_id` if it is a valid 'user/name' (or 'org/name') Hub model id, else ValueError."""
    parts = repo_id.split("/") if isinstance(repo_id, str) else []
    problem = None
    if len(parts) != 2:
        problem = "expected 'user/name'"
    elif not all(_ID_PART.fullmatch(p) for p in parts):
        problem = "letters, digits, '-', '_' and '.' only, not starting or ending with '-' or '.', at most 96 each"
    elif "--" in repo_id or ".." in repo_id or repo_id.endswith(".git"):
        problem = "'--', '..' and a '.git' ending are not allowed"
    if problem:
        raise ValueError(f"repo id {repo_id!r}: {problem}")
    return repo_id


def _check_subfolder(subfolder: str | None) -> str | None:
    if subfolder is None or subfolder in ("", "."):
        return None
    parts = subfolder.strip("/").split("/")
    if not all(_SUBFOLDER_PART.fullmatch(p) and p != ".." for p in parts):
        raise ValueError(f"subfolder {subfolder!r}: expected a folder of the repo such as 'projector' "
                         "(letters, digits, '-', '_', '.')")
    return "/".join(parts)


def parse_hub_id(model_id: str) -> tuple[str, str | None]:
    """'hf-hub:user/name' -> ('user/name', None); 'hf-hub:user/name@v1' -> ('user/name', 'v1'), the
    revision written as timm writes it."""
    if not model_id.startswith(HUB_PREFIX):
        raise ValueError(f"{model_id!r} is not a Hub id: write 'hf-hub:user/name'")
    repo_id, at, revision = model_id[len(HUB_PREFIX):].partition("@")
    if at and (not revision or "@" in revision or any(c.isspace() for c in revision)):
        raise ValueError(f"{model_id!r}: write a revision as 'hf-hub:user/name@REVISION' (a branch, tag or commit)")
    if repo_id.count("/") > 1:
        user, name, rest = repo_id.split("/", 2)
        raise ValueError(f"{model_id!r}: a Hub id is 'hf-hub:user/name'; load a head from a subfolder with "
                         f"NASHead.from_pretrained('hf-hub:{user}/{name}{at}{revision}', subfolder='{rest}')")
    return check_repo_id(repo_id), revision or None


# -- download -------------------------------------------------------------------------------
def download_head(model_id: str, *, subfolder: str | None = None, revision: str | None = None,
                  token: str | bool | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """Download (or find in the Hugging Face cache) the two files of a head and return their local
    directory. A cache miss that cannot be downloaded is a FileNotFoundError naming
    HF_HUB_OFFLINE and the cache; repo, revision and permission errors are huggingface_hub's own.
    """
    (repo_id, in_id), sub = parse_hub_id(model_id), _check_subfolder(subfolder)
    if in_id is not None and revision not in (None, in_id):
        raise ValueError(f"{model_id!r} names revision {in_id!r} and revision={revision!r} another: give one")
    revision = revision if revision is not None else in_id
    hf = _require_hub()
    from huggingface_hub import constants
    from huggingface_hub.utils import LocalEntryNotFoundError, OfflineModeIsEnabled

    where = f"{HUB_PREFIX}{repo_id}" + (f" (subfolder {sub!r})" if sub else "") + (
        f" at revision {revision!r}" if revision else "")
    cache = str(cache_dir or constants.HF_HUB_CACHE)
    wanted = [f"{sub}/{name}" if sub else name for name in (GENOTYPE_FILE, WEIGHTS_FILE)]
    try:
        # One snapshot = one commit, so the genotype and the weights always come from the same one;
        # allow_patterns are exact paths: nothing else in the repo is fetched.
        root = hf.snapshot_download(repo_id, revision=revision, allow_patterns=wanted, token=token,
                                    cache_dir=cache_dir, library_name="nasiam", library_version=__version__)
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as e:
        if _offline(constants):
            raise FileNotFoundError(
                f"{where} is not in the Hugging Face cache ({cache}) and HF_HUB_OFFLINE is set, so it was not "
                "downloaded: download it once with HF_HUB_OFFLINE unset, or point HF_HUB_CACHE (or cache_dir=) "
                "at a cache that holds it") from e
        raise FileNotFoundError(
            f"{where} could not be downloaded (the Hub could not be reached: {str(e).splitlines()[0]}) and is not "
            f"in the Hugging Face cache ({cache}); check the connection, or set HF_HUB_OFFLINE=1 to use only "
            "the cache") from e
    directory = Path(root, sub) if sub else Path(root)
    missing = [name for name in (GENOTYPE_FILE, WEIGHTS_FILE) if not (directory / name).is_file()]
    if missing:
        hint = "" if sub else "; a run's heads are in subfolders: pass subfolder='projector' (or 'predictor')"
        if _offline(constants):
            hint += f"; HF_HUB_OFFLINE is set and the cached snapshot in {cache} lacks them"
        raise FileNotFoundError(f"{where} holds no saved NASHead: missing {', '.join(missing)}{hint}")
    return directory


def _offline(constants) -> bool:
    is_offline = getattr(constants, "is_offline_mode", None)  # a function in recent huggingface_hub
    return bool(is_offline() if callable(is_offline) else constants.HF_HUB_OFFLINE)


# -- upload ---------------------------------------------------------------------------------
def push_heads_to_hub(heads: _Head | Mapping[str, _Head], repo_id: str, *, private: bool | None = None,
                      revision: str | None = None, commit_message: str | None = None,
                      token: str | bool | None = None, create_pr: bool = False,
                      card: Mapping[str, Any] | None = None) -> Any:
    """Upload one head (to the repo's root) or several (slot -> head, one subfolder each) in one
    commit, with config.json and a model card (`card`: see `model_card`). Creates the repo (and
    the branch `revision`) if needed; `private=True` also makes an existing public repo private,
    with a UserWarning. A failed request is a RemoteError saying which and what to do; nothing
    was uploaded then."""
    check_repo_id(repo_id)
    if not isinstance(heads, Mapping):
        layout: dict[str | None, _Head] = {None: heads}
    else:
        if not heads:
            raise ValueError("no head to push")
        for slot in heads:
            if not isinstance(slot, str) or not _SUBFOLDER_PART.fullmatch(slot):
                raise ValueError(f"head name {slot!r}: expected a folder name such as 'projector'")
        layout = dict(heads)
    hf = _require_hub()
    api = hf.HfApi()
    names = ", ".join(slot for slot in layout if slot) or "head"
    with tempfile.TemporaryDirectory(prefix="nasiam-hub-") as tmp:
        _write_repo(Path(tmp), layout, repo_id, card)   # before any request: a bad head fails here, locally
        try:
            api.create_repo(repo_id, token=token, private=private, exist_ok=True)
            if private:  # before anything is uploaded to a repo that should not be public
                _make_private(api, repo_id, token)
            if revision is not None and not create_pr:  # uploading to a branch needs the branch
                api.create_branch(repo_id, branch=revision, token=token, exist_ok=True)
            return api.upload_folder(repo_id=repo_id, folder_path=tmp, token=token, revision=revision,
                                     create_pr=create_pr, commit_message=commit_message or f"Upload nasiam {names}")
        except transfer_errors() as e:   # the Hub's HTTP errors and the transport's (not OSErrors in huggingface_hub>=1)
            what = "head was" if None in layout else "heads were"
            raise RemoteError(f"could not push to {repo_id}, the {what} not uploaded: "
                              f"{describe_transfer_error(e)}") from None


def _make_private(api, repo_id: str, token: str | bool | None) -> None:
    """create_repo(private=True, exist_ok=True) leaves an existing public repo public, without a
    word: make it private, and say so (a UserWarning, which `nasiam push` prints)."""
    if getattr(api.model_info(repo_id, token=token), "private", None):
        return
    settings = getattr(api, "update_repo_settings", None)
    if settings is not None and "private" in inspect.signature(settings).parameters:
        settings(repo_id, private=True, token=token)
    else:  # huggingface_hub before update_repo_settings took private=
        api.update_repo_visibility(repo_id, private=True, token=token)
    warnings.warn(f"{repo_id} existed and was public: it is private now, as asked", UserWarning, stacklevel=3)


def transfer_errors() -> tuple[type[BaseException], ...]:
    """What a request of huggingface_hub can fail with: its HTTP errors (HfHubHTTPError), offline
    mode and a missing token are OSErrors in every version, and so are the transport errors of
    requests (huggingface_hub 0.x); those of httpx (1.x) and httpx2 (2.x) are not."""
    clients = (sys.modules.get(name) for name in ("httpx", "httpx2"))  # imported by huggingface_hub if used
    return (OSError, *(client.HTTPError for client in clients if client is not None))


def describe_transfer_error(error: BaseException) -> str:
    """What went wrong in a Hub request, and the fix."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    cause = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:300]}"
    login = "log in with `hf auth login` or set HF_TOKEN to a token with write access to the repo"
    if status in (401, 403):
        return f"the Hub refused the token ({cause}); {login}"
    if type(error).__name__ == "LocalTokenNotFoundError":
        return f"no Hugging Face token was found ({cause}); {login}"
    if type(error).__name__ == "OfflineModeIsEnabled":
        return f"HF_HUB_OFFLINE is set ({cause}); unset it to upload"
    if status is None:
        return (f"the Hub could not be reached ({cause}); check the connection (and HF_ENDPOINT or the proxy "
                "settings if you use them), then run the same command again")
    return f"the Hub answered HTTP {status} ({cause}); check the repo id, and that the token may write to it"


def _write_repo(root: Path, layout: Mapping[str | None, _Head], repo_id: str,
                card: Mapping[str, Any] | None = None) -> None:
    configs = {}
    for slot, head in layout.items():
        folder = root / slot if slot else root
        head.save_pretrained(folder)
        # what a reader of the repo wants at a glance; the loader reads genotype.json, not this
        configs[slot] = {"format": "nasiam.head", "library_name": "nasiam", "nasiam_version": __version__,
                         "in_dim": head.in_dim, "out_dim": head.out_dim, "num_parameters": head.num_parameters(),
                         "genotype": head.genotype.describe()}
        atomic_write_text(folder / CONFIG_FILE, json.dumps(configs[slot], indent=2) + "\n")
    if None not in layout:  # several heads: the root config lists them
        summary = {"format": "nasiam.heads", "library_name": "nasiam", "nasiam_version": __version__,
                   "heads": {slot: {k: c[k] for k in ("in_dim", "out_dim", "num_parameters", "genotype")}
                             for slot, c in configs.items()}}
        atomic_write_text(root / CONFIG_FILE, json.dumps(summary, indent=2) + "\n")
    atomic_write_text(root / MODEL_CARD_FILE, model_card(layout, repo_id, card))


_CARD_NAME = re.compile(r"[A-Za-z0-9_.+-]{1,80}")   # what goes into the card's YAML and text as it is


def model_card(layout: Mapping[str | None, _Head], repo_id: str, card: Mapping[str, Any] | None = None) -> str:
    """README.md: YAML front matter for the Hub, what the heads were trained with (`card`: a
    run's config.yaml keys and `metrics` from its summary.json), each head's genotype, and how
    to load it. What was not recorded is said so, not guessed."""
    card = dict(card or {})
    rows, usage = [], []
    for slot, head in layout.items():
        rows.append(f"| {f'`{slot}`' if slot else 'head'} | `{head.genotype.describe()}` | "
                    f"{head.in_dim} → {head.out_dim} | {head.num_parameters():,} |")
        call = f'"{HUB_PREFIX}{repo_id}"' + (f', subfolder="{slot}"' if slot else "")
        usage.append(f"{slot or 'head'} = NASHead.from_pretrained({call})")
    frameworks = {str(h.genotype.meta.get("framework")) for h in layout.values()}  # search runs record it
    framework = str(card.get("framework") or (frameworks.pop() if len(frameworks) == 1 else "None"))
    about = f" ({framework})" if re.fullmatch(r"[A-Za-z0-9_-]{1,40}", framework) and framework != "None" else ""

    def named(key: str) -> str | None:
        value = card.get(key)
        return str(value) if value is not None and _CARD_NAME.fullmatch(str(value)) else None

    dataset, backbone, licence = named("dataset"), named("backbone"), named("license") or "mit"
    front = "\n".join(["---", "library_name: nasiam", f"license: {licence}", "tags:", *(f"- {t}" for t in TAGS),
                       *(["datasets:", f"- {dataset}"] if dataset else []), "---"])
    # a finite number only: a bool is none, a NaN or an infinity was shown "nan", "inf", an int
    # past a float's range an OverflowError (the nineteenth probe of #33, Q16)
    numbers = {k: as_real(v) for k, v in (card.get("metrics") or {}).items() if _CARD_NAME.fullmatch(str(k))}
    metrics = {k: v for k, v in numbers.items() if v is not None and math.isfinite(v)}
    trained = "\n".join([
        "| framework | dataset | backbone |", "|---|---|---|",
        f"| {about[2:-1] or 'not recorded'} | {dataset or 'not recorded'} | {backbone or 'not recorded'} |", "",
        *(["| metric | value |", "|---|---|", *(f"| {k} | {v:.4g} |" for k, v in metrics.items())] if metrics
          else ["No evaluation was recorded with the heads."])])
    return f"""{front}

# {repo_id.split("/")[1]}

Head{"s" if len(layout) > 1 else ""} for siamese self-supervised learning{about}, saved by
[nasiam](https://github.com/nasiam/nasiam) (architecture search for SSL projectors and predictors) as
`NASHead`: plain PyTorch layers (Linear, BatchNorm/LayerNorm, pooling, activations) built from a genotype.

## Training

{trained}

## Architecture

The genotype of each head (the searched layers, `genotype.json`):

| head | architecture | in → out | parameters |
|---|---|---|---|
{chr(10).join(rows)}

## Usage

```python
from nasiam import NASHead

{chr(10).join(usage)}
```

Each head is `genotype.json` (the architecture, validated JSON) and `head.safetensors` (the weights);
loading downloads only these two files and runs no code from them. `config.json` summarises the
head{"s" if len(layout) > 1 else ""}.
"""
