"""`NASHead`: a searched head frozen into standard PyTorch layers.

A `NASHead` is an `nn.Sequential` of `nn.Sequential` layers holding only `nn.Linear`,
`nn.BatchNorm1d`, `nn.LayerNorm`, 1-D pooling and activation modules, so it scripts, exports
and compiles like any hand-written MLP, and drops in wherever a projector or predictor goes.
The one exception is DirectPred's closed-form predictor (`DirectPredLinear`, a few lines of
plain PyTorch), which a genotype asks for by name.

On disk it is a directory with `genotype.json` (the architecture, validated JSON) and
`head.safetensors` (the weights): loading runs no code from the files. The same files travel
through the Hugging Face Hub (`push_to_hub`, `from_pretrained("hf-hub:user/name")`, nasiam.head.hub).
"""
from __future__ import annotations

import errno
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn as nn
from torch import Tensor

from nasiam._arguments import as_integer, check_bool, check_type, path_problem
from nasiam._folders import is_run_config, is_small_plain_file
from nasiam._io import atomic_write_bytes
from nasiam.errors import shown, shown_path
from nasiam.head.hub import GENOTYPE_FILE, HUB_PREFIX, WEIGHTS_FILE, check_repo_id, download_head, push_heads_to_hub
from nasiam.space.genotype import Genotype, GenotypeError, LayerSpec
from nasiam.space.spaces import build_chain

__all__ = ["NASHead", "GENOTYPE_FILE", "WEIGHTS_FILE"]


class NotAFolderError(NotADirectoryError, ValueError):
    """save_pretrained's `directory` is a file, or a file stands where a folder above it goes. A
    ValueError, as the library's other refused arguments; an OSError (ENOTDIR, naming the file)
    still, which the CLI reports as the failed write it was before."""

    def __init__(self, message: str, path: Path):
        super().__init__(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        self.message = message

    def __str__(self) -> str:
        return self.message


def _file_in_the_way(directory: Path) -> Path | None:
    """The file (or link to no folder) at `directory` or at a folder's place above it: what keeps
    `mkdir` from making `directory`; None where nothing does."""
    for path in (directory, *directory.parents):
        if os.path.lexists(path):
            return None if path.is_dir() else path
    return None


# the files that make a folder a nasiam run's or export's record (`nasiam.rundir`'s summary.json
# and export.json, a run's config.yaml): they vouch for the folder's genotype.json and heads/,
# which a head saved there (or the Lightning callback's export) would replace without a word
RUN_RECORDS = ("summary.json", "export.json", "config.yaml")


# what a run leaves beside its config.yaml from its first step: its lock (`nasiam.runner.lock`),
# then its checkpoints, then its summary. A config.yaml without any is a copy (a run's config
# given to `--config` from a project folder), no run (#33 probe 20, R1)
_RUN_TRACES = (".lock", "checkpoints", "summary.json")


def _is_nasiam_config(path: Path) -> bool:
    """Whether `path` is the config.yaml of a nasiam run, finished or still training: beside a
    run's traces (`_RUN_TRACES`), a config.yaml `nasiam._folders.is_run_config` reads as a run's
    resolved configuration (keys only it holds all of, `out_dir`, `run_name`, `resume`...; read as
    YAML: a BOM, flow style). Three line prefixes (`framework:`...) took a project's own recipe or
    Hydra config for a run's, and missed a run's with a BOM or in flow style (#33 probe 18, P6).
    Beside the traces, one that cannot be read (no permission, a link, over is_run_config's size)
    counts as a run's, so nothing is written beside it (probe 20, R3); a FIFO is never opened."""
    if not path.is_file() or not any(os.path.lexists(path.parent / trace) for trace in _RUN_TRACES):
        return False
    readable = os.access(path, os.R_OK) and is_small_plain_file(path)
    return not readable or is_run_config(path) is not None


def _is_nasiam_record(path: Path) -> bool:
    """Whether `path`, a summary.json or export.json, is one nasiam wrote: a JSON object naming its
    framework (a run's summary) or a nasiam format (an export's record, `rundir.EXPORT_FORMAT`).
    Another tool's file of that name beside a project's heads/ was taken for a run's (#33 probe
    18, P3); one that cannot be read counts as nasiam's, so nothing is written beside it."""
    if not path.is_file():
        return os.path.lexists(path)   # a link to nothing, a FIFO: not read, and not written beside
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(1 << 24))
    except OSError:
        return True
    except ValueError:   # not JSON (nasiam's are): another tool's
        return False
    return isinstance(data, dict) and ("framework" in data or str(data.get("format", "")).startswith("nasiam"))


def run_record_in(directory: Path) -> str | None:
    """Which of `RUN_RECORDS` makes `directory` a nasiam run or export, or None: nothing may be
    saved there. So does a run's or an export's heads/ folder and every folder below it
    (`../summary.json`, `../../summary.json`...): a head saved there was called "changed since the
    run finished" by export and `--init` (#33 probe 15, L5; heads/<slot>: probe 17, N8), also
    through a link (probe 16, M12; the real path is looked at). nasiam's own writers save a run's
    heads there (`NASHead._write_pretrained`), before and after its summary.json (a run resumed
    for more epochs). A config.yaml counts when a run wrote it (`_is_nasiam_config`): a project's
    own (LightningCLI's beside its checkpoints/) was refused (probe 16, M12; probe 17, N7)."""
    def record_of(folder: Path) -> str | None:
        found = next((name for name in RUN_RECORDS[:2] if _is_nasiam_record(folder / name)), None)
        return found or ("config.yaml" if _is_nasiam_config(folder / "config.yaml") else None)

    found = record_of(directory)
    real = Path(os.path.realpath(directory))
    for depth, folder in enumerate((real, *real.parents), start=1):
        if found is None and folder.name == "heads":
            above = record_of(folder.parent)
            found = None if above is None else "../" * depth + above
    return found


class NASHead(nn.Sequential):
    """A fixed head built from a `Genotype`.

    Use `NASHead.from_genotype(genotype, in_dim)` for a freshly initialised head,
    `NASHead.from_pretrained(dir)` (or `"hf-hub:user/name"`) for a saved one, or
    `SearchableHead.export()` for the head a search found, with the search's weights.
    """

    def __init__(self, genotype: Genotype, in_dim: int | None = None):
        in_dim = in_dim if in_dim is not None else genotype.in_dim
        in_dim = in_dim if as_integer(in_dim) is None else as_integer(in_dim)   # a numpy integer, as an int
        if in_dim is None:
            raise GenotypeError("in_dim: the genotype is not tied to an input width; pass in_dim "
                                "(the backbone's feature dimension)")
        genotype.validate(in_dim)  # dims and parameter budget, before anything is allocated
        super().__init__(*build_chain(genotype.layers, in_dim))
        self.genotype = genotype.with_in_dim(in_dim)
        self.in_dim, self.out_dim = in_dim, genotype.out_dim

    @classmethod
    def from_genotype(cls, genotype: Genotype | Mapping[str, Any] | str | os.PathLike,
                      in_dim: int | None = None) -> "NASHead":
        """A randomly initialised head (PyTorch's default init) of the given architecture: a
        `Genotype`, its JSON mapping (`Genotype.to_dict()`, e.g. read from a file of one's
        own), or the path of a genotype file."""
        if isinstance(genotype, Mapping):
            genotype = Genotype.from_dict(dict(genotype))
        elif isinstance(genotype, (str, os.PathLike)):
            genotype = Genotype.load(genotype)
        elif not isinstance(genotype, Genotype):
            raise GenotypeError(f"NASHead.from_genotype takes a Genotype, its JSON mapping (a dict) or a genotype "
                                f"file's path, not {type(genotype).__name__}")
        return cls(genotype, in_dim)

    @torch.no_grad()
    def resized(self, in_dim: int | None = None, out_dim: int | None = None) -> "NASHead":
        """This head for a slot of other widths (None keeps this head's), by `Genotype.for_dims`'s
        rule: the hidden layers keep their widths and the output (input) width moves to the last
        (first) Linear.

        Weights are kept only where they still mean what they were trained for: the layers
        before the first one that changes keep theirs, that layer and all after it are fresh. A
        new output width thus keeps the hidden layers' weights; a new input width keeps nothing.
        The fresh layers are recorded in `genotype.meta["fresh_layers"]`.
        """
        in_dim = self.in_dim if in_dim is None else in_dim
        genotype = self.genotype.for_dims(in_dim, out_dim)
        if genotype.layers == self.genotype.layers and in_dim == self.in_dim:
            return self
        kept = 0
        if in_dim == self.in_dim:
            while kept < len(genotype.layers) and genotype.layers[kept] == self.genotype.layers[kept]:
                kept += 1
        fresh = list(range(kept, len(genotype.layers)))
        head = NASHead(replace(genotype, meta={**genotype.meta, "fresh_layers": fresh}))
        # a head of DirectPred or pooling layers has buffers but no parameters
        reference = next((t for t in (*self.parameters(), *self.buffers()) if t.is_floating_point()), None)
        if reference is not None:
            head.to(device=reference.device, dtype=reference.dtype)
        for i in range(kept):
            head[i].load_state_dict(self[i].state_dict())
        head.train(self.training)
        return head

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ValueError(
                "NASHead expects (batch, {}) features, got {}; flatten/pool the backbone output "
                "first, or rebuild the head for this width".format(self.in_dim, list(x.shape)))
        for layer in self:
            x = layer(x)
        return x

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, out_dim={self.out_dim}, genotype='{self.genotype.describe()}'"

    # -- persistence ------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write `genotype.json` and `head.safetensors` into `directory`, each atomically, the
        weights first: a new genotype never describes old (or missing) weights. A nasiam run or
        export, its heads/ and the folders below are refused (`run_record_in`)."""
        directory = Path(directory)
        record = run_record_in(directory)
        if record is not None:
            raise ValueError(f"directory: {shown_path(directory)} holds a nasiam run or export ({record}), whose "
                             f"{GENOTYPE_FILE} this head's would replace. Nothing was written; save the head in "
                             "another folder")
        return self._write_pretrained(directory)

    def _write_pretrained(self, directory: Path) -> Path:
        """`save_pretrained` without its refusal of a nasiam run's folders: the door by which nasiam
        writes a run's or an export's own heads/<slot> (the runner, `rundir.write_searched_heads`),
        also after a first summary.json (a run resumed for more epochs)."""
        from safetensors.torch import save

        blocking = _file_in_the_way(directory)   # was mkdir's raw "[Errno 17] File exists" (#33 probe 9, F5)
        if blocking is not None:
            where = "" if blocking == directory else f", on the way to {shown_path(directory)},"
            kind = "a file" if blocking.exists() else "a link to nothing"
            raise NotAFolderError(f"directory: {shown_path(blocking)}{where} is {kind}, and save_pretrained writes a "
                                  f"folder ({WEIGHTS_FILE} and {GENOTYPE_FILE} in it). Nothing was written; choose a "
                                  "folder's path", blocking)
        # a folder (not a link) named as a file of the head: no atomic replace can take its place
        folder = next((directory / name for name in (WEIGHTS_FILE, GENOTYPE_FILE)
                       if (directory / name).is_dir() and not (directory / name).is_symlink()), None)
        if folder is not None:
            raise ValueError(f"directory: {shown_path(folder)} is a folder, where save_pretrained writes a file. "
                             "Nothing was written; move that folder away or choose another directory")
        state = self.state_dict()
        if any(t.is_meta for t in state.values()):
            raise ValueError("save_pretrained: this head is on the meta device, whose tensors hold no values. Nothing "
                             "was written; build or load the head on a real device ('cpu') to save it")
        tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        with torch.device("meta"):   # the shapes from_pretrained expects of this genotype, without allocating them
            expected = NASHead(self.genotype).state_dict()
        problems = _state_problems(expected, tensors, strict=True)   # before anything is written
        if problems:
            raise ValueError(f"save_pretrained: this head's weights are damaged and from_pretrained would refuse "
                             f"them: {'; '.join(problems[:8])}. Nothing was written (NaN statistics: run "
                             f"recalibrate_batchnorm again on finite features)")
        directory.mkdir(parents=True, exist_ok=True)
        metadata = {"format": "nasiam.head", "in_dim": str(self.in_dim),
                    "genotype": self.genotype.to_json(indent=None)}
        atomic_write_bytes(directory / WEIGHTS_FILE, save(tensors, metadata=metadata))
        self.genotype.save(directory / GENOTYPE_FILE)
        return directory

    def push_to_hub(self, repo_id: str, *, private: bool | None = None, revision: str | None = None,
                    commit_message: str | None = None, token: str | bool | None = None, create_pr: bool = False):
        """Upload this head to the Hugging Face Hub repo `repo_id` ('user/name'): the files of
        `save_pretrained`, a config.json and a model card, in one commit. Returns the commit info
        (`.commit_url`). A run's projector and predictor: `nasiam.rundir.push_run_to_hub`."""
        return push_heads_to_hub(self, repo_id, private=private, revision=revision, commit_message=commit_message,
                                 token=token, create_pr=create_pr)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, map_location: str | torch.device = "cpu",
                        strict: bool = True, *, subfolder: str | None = None, revision: str | None = None,
                        token: str | bool | None = None, cache_dir: str | os.PathLike | None = None) -> "NASHead":
        """Load a head written by `save_pretrained`; `GenotypeError` or `ValueError` naming what
        is wrong if the files do not match.

        `directory` is a local directory, or a Hub repo written `"hf-hub:user/name"` (only that
        prefix goes to the network); `subfolder="projector"` picks a head of a run's repo, the
        rest goes to huggingface_hub. Downloaded files go through the same checks as local ones.
        """
        from safetensors import SafetensorError, safe_open
        from safetensors.torch import load_file

        # a number, None: pathlib's "expected str, bytes or os.PathLike object" named no argument
        check_type("directory", directory, (str, os.PathLike), "a saved head's folder or 'hf-hub:user/name'")
        # each argument by its name: `strict="no"` was read as true, `map_location="meta"` blamed
        # on the file, a NUL or a 5,000-byte path a raw error (the eighth probe of #33, E7)
        strict = check_bool("strict", strict)
        map_location = _checked_location(map_location)
        if subfolder is not None:
            check_type("subfolder", subfolder, (str, os.PathLike), "a folder's name inside the head's repo or folder")
        for name, value in (("directory", directory), ("subfolder", subfolder)):
            if value is not None and "\x00" in os.fspath(value):
                raise ValueError(f"{name}: {shown(os.fspath(value), 80)} holds a NUL character, which no path can hold")
        if isinstance(directory, str) and directory.startswith(HUB_PREFIX):
            directory = download_head(directory, subfolder=subfolder, revision=revision, token=token,
                                      cache_dir=cache_dir)
        elif revision is not None or token is not None or cache_dir is not None:
            raise ValueError(f"revision, token and cache_dir apply to Hub ids ('hf-hub:user/name'), and {directory} "
                             "is a local path")
        else:
            directory = Path(directory, subfolder) if subfolder else Path(directory)
            why = path_problem(directory)
            if why is not None:
                raise ValueError(f"directory: {shown(str(directory), 80)} is read as a path, and {why}; pass a saved "
                                 "head's folder")
        if directory.is_file():   # its genotype.json or head.safetensors: "missing genotype.json" of genotype.json
            raise FileNotFoundError(f"{shown_path(directory)} is a file; NASHead.from_pretrained takes the folder that "
                                    f"holds a saved head's {GENOTYPE_FILE} and {WEIGHTS_FILE} (here "
                                    f"{shown_path(directory.parent)})")
        genotype_path, weights_path = directory / GENOTYPE_FILE, directory / WEIGHTS_FILE
        missing = [p.name for p in (genotype_path, weights_path) if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"{shown_path(directory)} is not a saved NASHead: missing {', '.join(missing)} "
                                    f"(write one with NASHead.save_pretrained or `nasiam export`){_hub_hint(directory)}")
        genotype = Genotype.load(genotype_path)
        if genotype.in_dim is None:
            raise GenotypeError(f"{genotype_path}: in_dim is missing; a saved head records its input width")
        head = cls(genotype)
        try:   # opened here first: safetensors reports a file it may not read as "No such file or directory"
            with open(weights_path, "rb"):
                pass
        except OSError as e:
            advice = "; check the file's permissions" if e.errno in (errno.EACCES, errno.EPERM) else ""
            raise ValueError(f"{weights_path}: cannot be read ({e.strerror or e}){advice}") from None
        try:
            with safe_open(weights_path, framework="pt") as f:
                recorded = (f.metadata() or {}).get("genotype")
            state = load_file(weights_path, device=str(map_location))
        except (SafetensorError, OSError, ValueError) as e:
            raise ValueError(f"{weights_path}: not a readable safetensors file ({e})") from None
        head._load_checked(state, weights_path, strict)   # shapes first: their message is the plainer
        _check_same_architecture(genotype, recorded, genotype_path, weights_path)
        return head

    def _load_checked(self, state: dict[str, Tensor], source: object, strict: bool) -> None:
        problems = _state_problems(self.state_dict(), state, strict)
        if problems:
            raise ValueError(f"{source}: weights do not match the genotype: " + "; ".join(problems[:8]))
        self.load_state_dict(state, strict=strict)   # float64/float16 are cast to the head's dtype, as torch does


_HEAD_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _state_problems(expected: Mapping[str, Tensor], state: Mapping[str, Tensor], strict: bool) -> list[str]:
    """What makes `state` (a file's tensors) no weights of a head whose own are `expected`: the
    loader refuses a file with any, and `save_pretrained` refuses to write one (its own state as
    `state`, the state of a head built from its genotype as `expected`): a head that NaN features
    reached was saved, then refused as damaged on loading (#33 probe 8, E5); a weight replaced by
    one of another shape, compared with itself, too (#33 probe 14, K9). One check for both, so
    the writer never accepts what the reader refuses."""
    problems = [f"{k}: expected {tuple(v.shape)}, file has {tuple(state[k].shape)}"
                for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if strict:
        problems += [f"missing {k}" for k in expected if k not in state]
        problems += [f"unexpected {k}" for k in state if k not in expected]
    # a float parameter silently cast from bool/int, or NaN weights, is a damaged file, not a head;
    # float8 has no isfinite (torch raised NotImplementedError) and is not a dtype a head trains in
    problems += [f"{k}: {state[k].dtype} values, expected floating point" for k, v in expected.items()
                 if k in state and v.is_floating_point() and not state[k].is_floating_point()]
    problems += [f"{k}: {state[k].dtype} values, not a dtype a saved head holds (float16, bfloat16, float32, "
                 "float64)" for k in expected if k in state and state[k].is_floating_point()
                 and state[k].dtype not in _HEAD_DTYPES]
    problems += [f"{k}: non-finite values" for k in expected if k in state and state[k].dtype in _HEAD_DTYPES
                 and not bool(torch.isfinite(state[k]).all())]
    # a variance below zero gives NaN in eval mode (the square root of a negative number): no
    # BatchNorm computes one, so the file was damaged or edited
    problems += [f"{k}: negative variances (a BatchNorm's running variance is never below zero)"
                 for k in expected if k.endswith("running_var") and k in state
                 and state[k].is_floating_point() and bool((state[k] < 0).any())]
    return problems


def _checked_location(map_location: Any) -> torch.device:
    """`map_location` a device the weights can be loaded onto, named in the message when not:
    'meta' holds no values (it was "not a readable safetensors file"), a CUDA device this
    machine lacks gave torch's RuntimeError about drivers."""
    try:
        device = torch.device(map_location)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"map_location must be a device ('cpu', 'cuda', 'cuda:N' or a torch.device), got "
                         f"{shown(map_location)} (type {type(map_location).__name__})") from None
    if device.type == "meta":
        raise ValueError("map_location='meta': a meta tensor holds no values, and a saved head is its weights; load "
                         "it on 'cpu' (then head.to('meta') if only its shapes are needed)")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ValueError(f"map_location={str(device)!r}: this machine has {count} CUDA device(s); use 'cpu'"
                             f"{' or cuda:0 to cuda:' + str(count - 1) if count else ''}")
    elif device.type != "cpu":   # mps, xpu, ...: torch's raw "not linked with support for mps devices"
        try:
            torch.empty(0, device=device)
        except (RuntimeError, AssertionError, ValueError) as e:
            raise ValueError(f"map_location={str(device)!r}: this PyTorch cannot place tensors there "
                             f"({str(e).splitlines()[0] if str(e) else type(e).__name__}); use 'cpu'") from None
    return device


def _hub_hint(directory: Path) -> str:
    """A missing local path written like a Hub id ('user/name'): only 'hf-hub:' goes to the
    network (a typo never downloads), so say how to ask for the Hub."""
    parts = directory.parts
    if directory.exists() or directory.is_absolute() or len(parts) not in (2, 3):
        return ""
    repo = "/".join(parts[:2])
    try:
        check_repo_id(repo)
    except ValueError:
        return ""
    sub = f", subfolder={parts[2]!r}" if len(parts) == 3 else ""
    return (f"; no such local directory. To load from the Hugging Face Hub, write "
            f"NASHead.from_pretrained('{HUB_PREFIX}{repo}'{sub})")


def _check_same_architecture(genotype: Genotype, recorded: str | None, genotype_path: Path, weights_path: Path) -> None:
    """`save_pretrained` records the genotype in the weights file too: an edit of
    genotype.json that keeps every shape (another activation, another norm without
    parameters) would otherwise load the weights into a head they were not trained in. A
    weights file from elsewhere, with no record, is checked by its shapes alone."""
    if recorded is None:
        return
    try:
        saved = Genotype.from_json(recorded)
    except GenotypeError as e:
        raise GenotypeError(f"{weights_path}: the genotype recorded with the weights is invalid ({e})") from None
    if saved.layers == genotype.layers and saved.in_dim == genotype.in_dim:
        return
    differs = next((f"layer {i}: " + ", ".join(f"{k} {getattr(a, k)} in {genotype_path.name}, {getattr(b, k)} with "
                                               "the weights" for k in LayerSpec.__dataclass_fields__
                                               if getattr(a, k) != getattr(b, k))
                    for i, (a, b) in enumerate(zip(genotype.layers, saved.layers)) if a != b),
                   f"{len(genotype.layers)} layers and in_dim {genotype.in_dim} in {genotype_path.name}, "
                   f"{len(saved.layers)} and {saved.in_dim} with the weights")
    raise GenotypeError(f"{genotype_path} does not describe the head its weights were saved with ({differs}); "
                        f"restore genotype.json, or save the head again with NASHead.save_pretrained")
