"""The `nasiam` command line.

    nasiam search                                  # quick CPU demo on Fashion-MNIST
    nasiam search --config recipes/cifar10_resnet18_METHOD.yaml --epochs=50   # a recipe per dataset and method
    nasiam export RUN_DIR --out my_heads --rank 2
    nasiam export RUN_DIR --out heads_128 --proj_output_dim 128   # for lightly's SimSiam example

Every option of a subcommand is a field of its configuration (nasiam.config); `--key=value`,
`--key value` and `--key-with-dashes` all work, so `wandb agent` can drive it.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import sys
from typing import Sequence

from nasiam._version import __version__
from nasiam.cli import compare, evaluate, export, pretrain, push, search, sweep
from nasiam.cli.common import EXIT_COLLAPSE, EXIT_INTERRUPTED, EXIT_IO, EXIT_MEMORY, EXIT_NONFINITE, EXIT_USAGE
from nasiam.cli.stdout import StandardOutputError, marked_stdout, standard_output_message, stderr_or_nowhere
from nasiam.config import ConfigError
from nasiam.data import DataNotFoundError
from nasiam.errors import (
    INTERRUPTED_WHILE_STARTING,
    CheckpointError,
    CollapseError,
    NonFiniteLossError,
    RunError,
    RunInterrupted,
    is_out_of_memory,
    out_of_memory_message,
)
from nasiam.integrations.plain import HeadMismatchError  # imported with the command: a Ctrl-C meanwhile is guarded
from nasiam.space import GenotypeError

# what a stopped or failed command has left, and where its output goes; a subcommand that differs
# sets its own (set_defaults) and run_handler says it
RESUMABLE = "continue with --resume (the last finished epoch is kept)"
KEPT = ("files already written (checkpoints, earlier outputs) are intact: where a checkpoint was written, --resume "
        "continues from it")
# the commands --resume continues; the others' failed writes get WRITTEN_KEPT (compare and
# export say their own): the --resume advice was given for compare's results.md (the seventh probe)
TRAINING_COMMANDS = ("search", "pretrain")
WRITTEN_KEPT = "files already written are intact; run the same command again once that is fixed"
# the commands refused up front where standard output is closed (`>&-`): their work would be done
# before their report failed (#33 probe 15, L6; probe 16, M10)
NEEDS_STDOUT = (*TRAINING_COMMANDS, "sweep", "compare", "export")
# the option naming where a command writes, for its failed writes' messages (a command that sets
# its own on_io_error names it there): "check the permissions of --out_dir" was said by eval and
# compare, which have none (#33 probe 16, M11); push writes nothing of its own
OUTPUT_OPTIONS = {"search": "--out_dir", "pretrain": "--out_dir", "sweep": "--sweep_dir", "eval": "--out",
                  "compare": "--out"}
# the help, the version, and no command's usage write no file
NOTHING_WRITTEN = "no file was written"
# A closed output pipe (`nasiam compare --report_only | head`): the status a program killed by
# SIGPIPE has, 128 + 13, as `cat` or `git log` give there. Not 0: the output did not all reach its
# reader, and `set -o pipefail` should be able to tell; not 5 with a message: nothing failed on
# nasiam's side (Python ignores SIGPIPE, so the write raises where a C program would have died).
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nasiam", description="Search, export and use siamese SSL heads.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (search, export, push, pretrain, compare, evaluate, sweep):   # --help lists them in this order
        command.add_parser(sub)
    return parser


def _unknown_options(parser, args, unknown: Sequence[str]) -> str:
    import difflib
    import re

    cls = getattr(args, "config_cls", None)
    known = [f.name for f in dataclasses.fields(cls)] if cls else []
    options, stray, expects_value = [], [], False
    for item in unknown:
        if item.startswith("-") and not re.fullmatch(r"-\.?\d[\d.e+-]*", item):  # '-1' is a value
            key = item.lstrip("-").split("=")[0].replace("-", "_")
            close = difflib.get_close_matches(key, known, n=1)
            options.append(item.split("=")[0] + (f" (did you mean --{close[0]}?)" if close else ""))
            expects_value = "=" not in item
        elif expects_value:  # `--bogus 1`: argparse leaves the value beside the option; it is not one
            expects_value = False
        else:
            stray.append(item)
    problems = ([f"unknown option(s): {', '.join(options)}"] if options else []) + (
        [f"unexpected argument(s): {', '.join(stray)}"] if stray else [])
    return "; ".join(problems) + f" (see nasiam {args.command} --help)"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except KeyboardInterrupt:   # before the command's handlers (probe 19, Q12), as nasiam.__main__ says
        _say(f"\n{INTERRUPTED_WHILE_STARTING}")
        return EXIT_INTERRUPTED
    args, code, exits = None, 0, False
    # stdout's own write errors told from an output file's, from the start: argparse prints the help
    # and version before any command runs, and drops a failed write (`nasiam --help > /dev/full`
    # exited 0 and said nothing, #33 probe 9, F3); the marked stream keeps it for _deliver
    with stderr_or_nowhere(), marked_stdout() as stdout:
        try:
            try:
                args, unknown = parser.parse_known_args(argv)
            except SystemExit as e:   # --help, --version, a usage error: raised again once the text is out
                exits, code = True, e.code
            except KeyboardInterrupt:   # parsing, or --help printing: nothing was done (probe 19, Q12)
                _say(f"\n{INTERRUPTED_WHILE_STARTING}")
                return EXIT_INTERRUPTED
            else:
                code = _run(parser, args, unknown, stdout)
            _deliver(stdout)
        except BrokenPipeError:   # `nasiam ... | head`: the reader has gone (run_handler checked a command's)
            code = _leave_quietly(code)
        except StandardOutputError as e:   # `> /dev/full`: the text did not all arrive
            command = f"nasiam {args.command}" if args is not None and args.command else "nasiam"
            _say(f"{command}: error: {standard_output_message(e, _on_io_error(args)[0])}")
            _detach_stdout()
            code = code or EXIT_IO
    if exits:   # as argparse would have, with the code the delivery gave
        raise SystemExit(code)
    return code


def _run(parser, args, unknown: Sequence[str], stdout) -> int:
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if unknown:
        _say(f"nasiam {args.command}: error: {_unknown_options(parser, args, unknown)}")
        return EXIT_USAGE
    if args.command in NEEDS_STDOUT and stdout.closed_from_start:
        # a run reports each epoch there, so it failed at its first line, and its message spoke of
        # checkpoints none had written (#33 probe 15, L6): refused before it starts; a sweep trained
        # a whole trial, a comparison wrote compare.json, an export was written whole, before their
        # report failed (and the export's advised rerun was refused) (probe 16, M10)
        args.on_io_error = (NOTHING_WRITTEN,)
        raise StandardOutputError(errno.EBADF, "it is closed")
    return run_handler(args)


def _deliver(stdout) -> None:
    """Flush what stdout still buffers (a short report, the help), while an error can still be
    handled, then raise the first write error of `stdout` (the marked stream) a caller dropped."""
    try:
        if sys.stdout is not None:   # None: set so by the command
            sys.stdout.flush()
    except (BrokenPipeError, StandardOutputError):
        raise
    except (OSError, ValueError):   # stdout closed or replaced by the command: nothing to deliver
        pass
    if stdout.lost is not None:
        raise stdout.lost


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe (or socket) whose reader has closed it: a BrokenPipeError
    elsewhere (a data loader's worker, a socket) is a failure, this one is the reader's choice."""
    import os
    import select
    import stat

    try:
        fd = sys.stdout.fileno()
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):   # no poll (Windows), a stdout without a descriptor
        return False


def _leave_quietly(code: int = 0) -> int:
    """Python's advice for a closed stdout pipe: point stdout at devnull, so that the
    interpreter's last flush does not fail again ("Exception ignored ... BrokenPipeError", exit
    120), and exit without a word (the reader has gone; stderr is the user's terminal): 141, or
    the command's own failure `code` (`nasiam | head`, no command: 2)."""
    _detach_stdout()
    return code or EXIT_BROKEN_PIPE


def _detach_stdout() -> None:
    """Point stdout at devnull, and drop what it still buffers: the interpreter's last flush then
    has nothing to fail on ("Exception ignored ...", exit 120) after the CLI has said why."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


def _final_name(path: str | None, other: str | None) -> str | None:
    """The file a write was making, where `path` is its hidden temporary (.NAME.<hex>.nasiam.tmp):
    os.replace names the temporary first and the file second (`other`); a write names the
    temporary alone. The user knows the file, not the temporary (results.md being a folder
    named '.results.md.c1ce73c7.nasiam.tmp', the seventh probe)."""
    import os

    from nasiam._io import TEMPORARY_SUFFIX, is_temporary_file

    if not path or not is_temporary_file(os.path.basename(path)):
        return path
    if other:
        return other
    name = os.path.basename(path)[1:-len(TEMPORARY_SUFFIX)].rsplit(".", 1)[0]   # less '.' and '.<hex>.nasiam.tmp'
    return os.path.join(os.path.dirname(path), name)


def describe_os_error(e: OSError, kept: str = KEPT, out_option: str | None = "--out_dir") -> tuple[int, str]:
    """(exit code, message) of an OSError: the output's disk is 5 (what was being written, what
    is `kept`); an input that cannot be read is 2 (what was being read). Contents are never shown.
    `out_option`: the command's option naming where it writes (None: it has none, as push)."""
    import os

    from nasiam.errors import shown_path, worker_os_error

    raised = worker_os_error(e)   # an image's error in a DataLoader worker: its file and errno, as raised
    if raised is not None:
        return describe_os_error(raised, kept, out_option)
    path = _final_name(e.filename if isinstance(e.filename, str) else None,
                       e.filename2 if isinstance(e.filename2, str) else None)
    # a file's name is the user's (an image folder's, an archive's): escaped, never sent raw to the
    # terminal, as is a reader's text, which may quote it
    shown = shown_path(path) if path else None
    reason = shown_path(e.strerror) if e.strerror else None
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO):
        what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exhausted",
                errno.EROFS: "the file system is read-only"}.get(e.errno, reason or shown_path(e))
        return EXIT_IO, f"{what} while writing {shown or 'outputs'}; {kept}. Free space{_or_another(out_option)}"
    if e.errno == errno.ENAMETOOLONG:
        # (--run_name where the command has one: a run's folder is --out_dir/--run_name)
        options = "--run_name, --out_dir or " if out_option == "--out_dir" else f"{out_option} or " if out_option else ""
        return EXIT_USAGE, (f"the path {shown_path((path or '')[:120])}... is too long for this file system; shorten "
                            f"{options}the file's name")
    if path and os.path.exists(path) and not os.path.isdir(path) and not os.access(path, os.R_OK):
        return EXIT_USAGE, f"cannot read {shown} ({reason}); check its permissions"
    if path and e.errno == errno.EISDIR:   # results.md made a folder: the rename onto it fails
        return EXIT_IO, f"{shown} is a folder, where nasiam writes a file: move it away (it is left as it is); {kept}"
    if path and e.errno in (errno.EACCES, errno.EPERM):
        where = f"of {out_option} or choose another" if out_option else f"of {shown}'s folder"
        return EXIT_IO, f"{reason} while writing {shown}; {kept}. Check the permissions {where}"
    if e.errno is None:   # raised by a reader library (a truncated image, a damaged archive)
        # found mid-run (a damaged val image meets the evaluation after the last epoch): what was
        # already written stays, which the user needs to know before starting over
        if path and reason:
            return EXIT_USAGE, f"could not read {shown}: {reason}; replace or remove that file ({kept})"
        return EXIT_USAGE, f"could not read the input data ({shown_path(e)}); a damaged file in the dataset? ({kept})"
    return EXIT_IO, f"{reason or shown_path(e)} on {shown or 'a file of the run'}; {kept}"


def _or_another(out_option: str | None) -> str:
    return f" or choose another {out_option}" if out_option else ""


def _say(message: str) -> None:
    """An error message to stderr, every character a terminal would act on escaped: messages
    quote paths, options and files the user gave (`nasiam export $'\\x1b[2J'` cleared the screen)."""
    from nasiam.errors import printable

    print(printable(message), file=sys.stderr)


def _on_io_error(args) -> tuple:
    """(what is kept, the output option) a failed write of `args.command` is described with (None:
    the help or version, before any command)."""
    if args is None or args.command is None:
        return (NOTHING_WRITTEN,)
    return getattr(args, "on_io_error", None) or (KEPT if args.command in TRAINING_COMMANDS else WRITTEN_KEPT,
                                                  OUTPUT_OPTIONS.get(args.command))


def run_handler(args) -> int:
    prefix = f"nasiam {args.command}: error:"
    on_io_error = _on_io_error(args)
    try:
        return args.handler(args)
    except (ConfigError, DataNotFoundError, GenotypeError, CheckpointError, FileNotFoundError) as e:
        _say(f"{prefix} {e}")
        return EXIT_USAGE
    except CollapseError as e:
        _say(f"{prefix} {e}")
        return EXIT_COLLAPSE
    except NonFiniteLossError as e:
        _say(f"{prefix} {e}")
        return EXIT_NONFINITE
    except RunInterrupted as e:  # SIGINT (130) or SIGTERM (143), after a resumable checkpoint
        _say(f"\nnasiam {args.command}: {e}")
        return e.exit_code
    except RunError as e:  # e.g. the run directory is in use by another run (2)
        _say(f"{prefix} {e}")
        return e.exit_code
    except KeyboardInterrupt:
        _say(f"\nnasiam {args.command}: {getattr(args, 'on_interrupt', 'interrupted; ' + RESUMABLE)}")
        return EXIT_INTERRUPTED
    except StandardOutputError:   # `nasiam ... > /dev/full`: the stream, not an output file; main says it
        raise
    except OSError as e:
        if isinstance(e, BrokenPipeError) and _stdout_reader_gone():   # `nasiam ... | head`: main leaves quietly
            raise
        code, message = describe_os_error(e, *on_io_error)
        _say(f"{prefix} {message}")
        return code
    except HeadMismatchError as e:
        _say(f"{prefix} {e}")
        return EXIT_USAGE
    except (MemoryError, RuntimeError) as e:   # torch.OutOfMemoryError, an allocator's RuntimeError
        if not is_out_of_memory(e):
            raise
        _say(f"{prefix} {out_of_memory_message(e, args.command, *getattr(args, 'on_io_error', ())[:1])}")
        return EXIT_MEMORY
