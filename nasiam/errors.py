"""Errors a run can end with; each maps to a distinct exit code in the CLI. Here, below every
layer, because run directories are read outside the runner too (`nasiam.rundir`)."""
from __future__ import annotations

import re

# a Ctrl-C before a command's own handlers are in place: the seconds the imports of torch and timm
# take (`nasiam.__main__`), and the options' choices (`nasiam.cli.main`); nothing has been written
INTERRUPTED_WHILE_STARTING = "nasiam: interrupted while starting; nothing was done"


def shown(value: object, limit: int = 40) -> str:
    """`value` as an error message shows it: its repr, cut to about `limit` characters. A
    hostile input (a 4,000-digit width, a megabyte of text) is named, not echoed whole; an
    integer past the 4,300 digits Python's repr allows is described by its length."""
    if isinstance(value, int) and value.bit_length() > 3 * limit:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    text = repr(value)
    length = len(value) if isinstance(value, str) else len(text)   # a string's own, not its repr's quotes
    return text if len(text) <= limit else f"{text[:limit - 10]}... ({length:,} characters)"


def shown_path(path: object, limit: int = 300) -> str:
    """A path as a message shows it: as it is when printable, else `shown` (control characters,
    a terminal's escape sequences, escaped; cut to about `limit` characters)."""
    text = str(path)
    return text if text.isprintable() and len(text) <= limit else shown(text, limit)


def _escaped(c: str) -> str:
    """A character a terminal would act on, as Python writes it in a string literal."""
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"


def shell_argument(value: object) -> str:
    """`value` as one argument of a command a message suggests, quoted for a POSIX shell. A value
    with characters a terminal would act on (an escape sequence, a right-to-left override) is
    written as bash's $'...' with them escaped: still one argument, never sent raw."""
    import shlex

    text = str(value)
    if text.isprintable():
        return shlex.quote(text)
    escaped = "".join("\\" + c if c in "\\'" else c if c.isprintable() else _escaped(c) for c in text)
    return f"$'{escaped}'"


def printable(text: str) -> str:
    """`text` as the terminal gets it: an error message quotes paths, options and file names the
    user (or a file) gave, and a character the terminal would act on (an escape sequence, a
    right-to-left override) is escaped wherever a message forgot `shown_path`; line breaks and
    tabs stay."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else _escaped(c) for c in text)


class RunError(RuntimeError):
    exit_code = 1


class CheckpointError(RunError):
    """A checkpoint is missing, corrupt, foreign, or from an incompatible configuration."""

    exit_code = 2


class NonFiniteLossError(RunError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 4

    def __init__(self, message: str, epoch: int, step: int):
        super().__init__(message)
        self.epoch, self.step = epoch, step


class CollapseError(RunError):
    """The searched heads' embeddings collapsed; the genotype is refused."""

    exit_code = 3


class RunDirLockedError(RunError):
    """Another live process owns the run directory (see nasiam.runner.lock)."""

    exit_code = 2


class RunInterrupted(RunError):
    """SIGINT, SIGTERM, SIGUSR1 or SIGHUP stopped the run at a step boundary, after a resumable
    checkpoint; the exit code is the shell's for that signal (128 + its number: 130, 143, 138, 129)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


class RunsFailedError(RunError):
    """`nasiam compare` finished what it could, but some of its runs failed or could not start
    (a search that collapsed leaves its rows nothing to train); the others are reported, and
    the same command runs the failed ones again."""

    exit_code = 6


class PeerLostError(RunError):
    """Another process of a multi-process run stopped (killed, crashed), so this one cannot go on;
    its checkpoints are intact and `--resume` continues. A code of its own: the run did not fail
    of itself, and a cluster script may want to requeue it."""

    exit_code = 8


class RemoteError(RunError):
    """A remote service (W&B, the Hugging Face Hub) could not be reached or refused the request.
    Nothing local was changed, so it is an input problem (2), as a missing local file would be."""

    exit_code = 2


# -- running out of memory: not an error class of ours, but one exit code and one message --------
OUT_OF_MEMORY_EXIT = 7
# where in nasiam an allocation failed, innermost first: the step a user recognises
_BUILD_STEP = "building the model and the data"
_STEPS = (("training_step", "a training step"), ("train_epoch", "training"), ("extract", "the evaluation's feature "
          "extraction"), ("knn", "the kNN evaluation"), ("final_evaluation", "the final evaluation (kNN, linear "
          "probe)"), ("recalibrate_exported", "recalibrating the exported heads' BatchNorm"),
          ("restore", "loading the checkpoint"), ("save", "writing a checkpoint"), ("build", _BUILD_STEP),
          ("export_run", "the export"), ("evaluate", "the evaluation"))
_ADVICE = {"eval": "a smaller --batch_size or fewer labelled images (--bank_subset)",
           "export": "a machine with more free memory (the export rebuilds the search's model)"}
# building the model allocates the heads' weights: their widths, not the batch, set its size
_MODEL_PACKAGES = ("head", "space", "frameworks")
_MODEL_ADVICE = {"search": "narrower heads: a smaller --proj_hidden_dim, --proj_output_dim or --pred_hidden_dim, or "
                           "smaller candidate --widths",
                 "pretrain": "narrower heads: a smaller --proj_hidden_dim, --proj_output_dim or --pred_hidden_dim, "
                             "or a --head with narrower layers"}


# A DataLoader worker's error reaches the main process as the same class, its text the worker's
# traceback after "Caught X in DataLoader worker process N."; a worker the kernel's out-of-memory
# killer ended (SIGKILL) is a RuntimeError saying so. Either way the images' decoding and
# augmentation, in the workers, ran out: what to lower differs from the training step's.
_WORKER_CAUGHT = re.compile(r"Caught (\w+) in DataLoader worker process (\d+)\.")
_WORKER_KILLED = re.compile(r"DataLoader worker \(pid (\d+)\) is killed by signal: Killed")
_WORKER_ADVICE = ("a smaller --image_size or --batch_size, or fewer --num_workers (each worker decodes and augments "
                  "images in a process of its own)")


def is_out_of_memory(error: BaseException) -> bool:
    """A MemoryError, torch's OutOfMemoryError (CUDA, MPS), or the RuntimeError of an
    allocator that could not allocate (torch's CPU allocator, a device's), also as a DataLoader
    worker's error; or a DataLoader worker killed by SIGKILL (the kernel's out-of-memory killer)."""
    if isinstance(error, MemoryError):
        return True
    if not isinstance(error, RuntimeError):
        return False
    if _WORKER_KILLED.search(str(error)):
        return True
    text = str(error).lower()
    return (type(error).__name__ == "OutOfMemoryError" or "out of memory" in text
            or "can't allocate memory" in text or "cannot allocate memory" in text or "not enough memory" in text)


def out_of_memory_message(error: BaseException, command: str,
                          kept: str = "files already written (checkpoints, earlier outputs) are intact") -> str:
    """What `nasiam COMMAND` says when `error` (`is_out_of_memory`) ended it: the step where the
    allocation failed (from the traceback, innermost nasiam frame first) and how to need less."""
    import os
    import traceback

    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frames = [f for f in traceback.extract_tb(error.__traceback__) if os.path.abspath(f.filename).startswith(package)]
    names = [f.name for f in reversed(frames)]
    step = next((phrase for name in names for function, phrase in _STEPS if name == function), None)
    where = ""
    if frames:
        innermost = frames[-1]
        where = f" (in {innermost.name}, nasiam/{os.path.relpath(innermost.filename, package)}:{innermost.lineno})"
    worker = _data_worker(error)
    if worker is not None:
        what, original = worker
        during = f" during {step}" if step else ""
        return f"out of memory in {what}{during}{where}: {original}. Use {_WORKER_ADVICE}; {kept}"
    text = (str(error).splitlines() or [""])[0].strip() or type(error).__name__
    text = text if len(text) <= 200 else text[:190] + "..."
    advice = _ADVICE.get(command, "a smaller --batch_size or --image_size, or fewer images (--subset)")
    in_model = any(os.path.relpath(f.filename, package).split(os.sep)[0] in _MODEL_PACKAGES for f in frames)
    if step in (None, _BUILD_STEP) and in_model and command in _MODEL_ADVICE:
        step, advice = "building the model", _MODEL_ADVICE[command]   # (not a forward pass: no step above)
    return f"out of memory during {step or 'nasiam ' + command}{where}: {text}. Use {advice}; {kept}"


# the last line of a worker's traceback of an OSError: "OSError: [Errno N] why: 'path'"
_WORKER_OS_ERROR = re.compile(r"(?:\w+\.)*\w*Error: \[Errno (\d+|None)\] (.*): (['\"])(.*)\3")


def worker_os_error(error: OSError) -> OSError | None:
    """The OSError a DataLoader worker raised, rebuilt from its traceback's last line (torch
    passes the text on, not the errno nor the file: an image's name would be lost at its end),
    or None when `error` is not such an error."""
    text = str(error)
    if not _WORKER_CAUGHT.match(text):
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    found = _WORKER_OS_ERROR.fullmatch(lines[-1])
    if not found:
        return None
    number, reason, _, path = found.groups()
    return OSError(None if number == "None" else int(number), reason, path)


def _data_worker(error: BaseException) -> tuple[str, str] | None:
    """(which worker, what it raised) when `error` came from a DataLoader worker, else None.
    What it raised is the last line of the worker's traceback ("MemoryError", "RuntimeError:
    DefaultCPUAllocator: ..."), cut short; the traceback itself is torch's, not the user's."""
    text = str(error)
    caught = _WORKER_CAUGHT.match(text)
    if caught:
        lines = [line.strip() for line in text.splitlines()[1:] if line.strip()]
        original = lines[-1] if lines else caught.group(1)
        original = shown_path(original, 200)   # (a path in it is the user's: escaped)
        return f"a data-loading worker (DataLoader worker process {caught.group(2)})", original
    killed = _WORKER_KILLED.search(text)
    if killed:
        return (f"a data-loading worker (pid {killed.group(1)})",
                "the system killed it (SIGKILL, as its out-of-memory killer does)")
    return None
