"""Exit codes mean one thing each: 2 for input that cannot be used (read), 5 for the disk the
outputs go to (written); the message says which file, and whether it was read or written."""
import errno
import os
from pathlib import Path

import pytest

from nasiam.cli import EXIT_IO, EXIT_USAGE, describe_os_error


def test_output_disk_problems_are_5_and_say_what_was_written(tmp_path):
    code, message = describe_os_error(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "last.ckpt")))
    assert code == EXIT_IO and "the disk is full while writing" in message and "last.ckpt" in message
    code, message = describe_os_error(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "new" / "x")))
    assert code == EXIT_IO and "while writing" in message


def test_unreadable_inputs_are_2_and_say_what_was_read(tmp_path, monkeypatch):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("epochs: 3\n")
    monkeypatch.setattr(os, "access", lambda path, mode: False)   # (root reads everything: simulate a chmod 000)
    code, message = describe_os_error(PermissionError(errno.EACCES, "Permission denied", str(recipe)))
    assert code == EXIT_USAGE and f"cannot read {recipe}" in message and "epochs" not in message
    monkeypatch.undo()
    code, message = describe_os_error(OSError("image file is truncated (3 bytes not processed)"))
    assert code == EXIT_USAGE and "could not read the input data" in message and "while writing" not in message
    # a damaged val image meets the evaluation after the last epoch: the message said only "replace or remove
    # that file", not that the trained epochs are kept and --resume finishes the run (third probe of #33)
    code, message = describe_os_error(OSError(None, "damaged or unreadable image (x)", str(tmp_path / "v.jpg")))
    assert code == EXIT_USAGE and f"could not read {tmp_path / 'v.jpg'}" in message
    assert "checkpoints, earlier outputs) are intact" in message and "--resume continues" in message
    code, message = describe_os_error(OSError(errno.ENAMETOOLONG, "File name too long", "x" * 300))
    assert code == EXIT_USAGE and "too long" in message


def test_a_damaged_image_in_an_image_folder_is_named(tmp_path, capsys):
    """A truncated JPEG among the training images: exit 2, naming the file as read, not
    'Truncated File Read while writing outputs'."""
    from PIL import Image

    from nasiam.cli import main

    for split in ("train", "val"):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(40):
                Image.new("RGB", (16, 16), (i * 5, 0, 0)).save(tmp_path / split / cls / f"{i}.jpg")
    damaged = tmp_path / "train" / "a" / "0.jpg"
    damaged.write_bytes(damaged.read_bytes()[:40])
    code = main(["pretrain", "--dataset=imagefolder", f"--data_root={tmp_path}", "--image_size=16", "--batch_size=16",
                 "--subset=80", "--epochs=1", "--num_workers=0", "--proj_hidden_dim=8", "--proj_output_dim=8",
                 "--pred_hidden_dim=4", f"--out_dir={tmp_path / 'runs'}", "--run_name=r"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert str(damaged) in err and "while writing" not in err


def test_an_image_error_in_a_data_loading_worker_names_the_file(tmp_path):
    """torch passes a DataLoader worker's OSError on as its traceback's text, without errno or
    file: the message showed the first 300 characters of torch's traceback, and the image's name
    and the reason (at its end) were cut off. Now rebuilt from the traceback's last line."""
    from torch._utils import ExceptionWrapper

    image = tmp_path / "train" / "a" / "huge.png"
    try:
        raise OSError(None, "10,000 x 10,000 pixels (100 MP), more than the 33.6 MP an image is decoded at", str(image))
    except OSError:
        wrapper = ExceptionWrapper(where="in DataLoader worker process 1")
    with pytest.raises(OSError) as raised:
        wrapper.reraise()
    assert raised.value.filename is None and "Traceback" in str(raised.value)   # what the main process gets
    code, message = describe_os_error(raised.value)
    assert code == EXIT_USAGE and f"could not read {image}: 10,000 x 10,000 pixels (100 MP)" in message, message
    try:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))
    except OSError:
        wrapper = ExceptionWrapper(where="in DataLoader worker process 0")
    with pytest.raises(OSError) as raised:
        wrapper.reraise()
    assert describe_os_error(raised.value)[0] == EXIT_IO


HOSTILE = "bad\x1b[2J\u202e.png"   # a terminal's clear-screen and a right-to-left override in a file's name


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device", HOSTILE),
    OSError(errno.ENAMETOOLONG, "File name too long", HOSTILE),
    PermissionError(errno.EACCES, "Permission denied", HOSTILE),
    OSError(None, f"damaged or unreadable image (cannot identify image file {HOSTILE})", HOSTILE),
    OSError(f"cannot identify image file {HOSTILE}"),
    OSError(errno.EBUSY, "Device or resource busy", HOSTILE),
])
def test_a_hostile_file_name_is_escaped_in_every_os_error_message(error):
    """describe_os_error put the file's name (and the reader's text quoting it) raw in its
    message: the escape sequence cleared the user's terminal. Now escaped in every branch."""
    code, message = describe_os_error(error)
    assert "\x1b" not in message and "\u202e" not in message, repr(message)
    assert "\\x1b[2J" in message, message   # named, escaped


def test_a_damaged_image_with_a_hostile_name_is_named_escaped(tmp_path, capsys):
    from PIL import Image

    from nasiam.cli import main

    for split in ("train", "val"):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(40):
                Image.new("RGB", (16, 16), (i * 5, 0, 0)).save(tmp_path / split / cls / f"{i}.png")
    (tmp_path / "train" / "a" / "0.png").unlink()
    (tmp_path / "train" / "a" / HOSTILE).write_bytes(b"not an image")
    code = main(["pretrain", "--dataset=imagefolder", f"--data_root={tmp_path}", "--image_size=16", "--batch_size=16",
                 "--subset=80", "--epochs=1", "--num_workers=0", "--proj_hidden_dim=8", "--proj_output_dim=8",
                 "--pred_hidden_dim=4", f"--out_dir={tmp_path / 'runs'}", "--run_name=r"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "\x1b" not in err and "\u202e" not in err and "bad\\x1b[2J\\u202e.png" in err, err


@pytest.mark.parametrize("argv", [
    ["export", "RUN", "--out", "OUT"],            # "... is not a search run directory": the path raw
    ["eval", "knn", "RUN"],                        # "... has no config.yaml"
    ["search", "--resume=RUN"],                    # "--resume=...: no checkpoint ..."
    ["search", HOSTILE],                           # "unexpected argument(s): ..."
])
def test_no_error_message_sends_a_control_character_to_the_terminal(tmp_path, capsys, argv):
    """Messages quote the paths and arguments the user gave; those that did not go through
    `shown_path` sent them raw (the fifth probe of #33: `nasiam export $'x\x1b[2J'` cleared the
    terminal). The CLI escapes whatever it prints as an error, wherever the message came from."""
    from nasiam.cli import main

    hostile = str(tmp_path / HOSTILE)
    assert main([a.replace("RUN", hostile).replace("OUT", str(tmp_path / "o")) for a in argv]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err, repr(err)
    assert "bad\\x1b[2J\\u202e.png" in err, err   # named, escaped
    assert not (tmp_path / "o").exists()


def test_an_unknown_option_is_named_without_the_value_beside_it(capsys):
    from nasiam.cli import main

    assert main(["search", "--bogus", "1", "--epochz=3", "--other", "-2", "stray"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "unknown option(s): --bogus, --epochz (did you mean --epochs?), --other; " in err
    assert "unexpected argument(s): stray (see nasiam search --help)" in err
    assert "1" not in err.replace("--epochz", "") and "-2" not in err


def _search(tmp_path, *options):
    from nasiam.cli import main

    (tmp_path / "empty").mkdir(exist_ok=True)   # a training step is never reached: the data is missing
    return main(["search", "--dataset=fashion_mnist", f"--data_root={tmp_path / 'empty'}", "--run_name=r", *options])


def test_an_out_dir_through_a_link_to_nothing_is_a_usage_error_naming_it(tmp_path, capsys):
    """#33 probe 13, J1: a dangling link or a link loop as --out_dir (or above it) was taken as
    absent, and making the folder over it failed as the disk's fault (exit 5)."""
    dangling, loop = tmp_path / "dangling", tmp_path / "loop"
    dangling.symlink_to(tmp_path / "nowhere")
    loop.symlink_to(loop)
    for out_dir in (dangling, dangling / "runs", loop):
        assert _search(tmp_path, f"--out_dir={out_dir}") == EXIT_USAGE
        err = capsys.readouterr().err
        assert "--out_dir:" in err and "is a symbolic link that leads nowhere" in err
    assert not (tmp_path / "nowhere").exists() and dangling.is_symlink() and loop.is_symlink()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_an_out_dir_where_no_folder_can_be_made_is_a_usage_error_naming_it(tmp_path, capsys):
    """#33 probe 13, J3: `--out_dir /proc/self/x` exited 2 with a bare "[Errno 2] No such file or
    directory: '/proc/self/x'" (the lock failed to make the folder), naming no option and no fix;
    compare's up-front check of a run folder let it pass."""
    from nasiam.runner.claim import start_refusal

    assert _search(tmp_path, "--out_dir=/proc/self/nasiam-x") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--out_dir: no folder can be made at /proc/self/nasiam-x/r: nothing can be created in /proc/self" in err
    assert "choose another --out_dir" in err and "Errno" not in err
    assert "nothing can be created in /proc/self" in start_refusal(Path("/proc/self/nasiam-x/r"))
    assert start_refusal(tmp_path / "new" / "r") is None   # a folder that can be made: as before
    # /proc itself, /sys: the kernel's, which os.access opens to root (probe 19, Q7)
    for kernel in ("/proc", "/sys"):
        assert f"nothing can be created in {kernel} " in start_refusal(Path(kernel) / "nasiam-x" / "r")


def test_an_out_dir_that_is_a_file_is_a_usage_error_and_the_file_is_untouched(tmp_path, capsys, monkeypatch):
    """--out_dir naming a file (or a folder below one) is the user's option, not the disk: exit
    2 naming it (it was 5, 'while writing'), and the file keeps its contents."""
    plain = tmp_path / "notes.txt"
    plain.write_text("mine")
    for out_dir in (plain, plain / "runs"):
        assert _search(tmp_path, f"--out_dir={out_dir}") == EXIT_USAGE
        assert f"--out_dir: {plain} is a file, not a folder" in capsys.readouterr().err
    assert plain.read_text() == "mine"
    monkeypatch.chdir(tmp_path)   # a relative name: a long $TMPDIR cuts an absolute one in the message
    escaped = Path("\x1b[31mnotes")   # refused for its name, printed escaped, before it is looked at
    escaped.write_text("mine")
    assert _search(tmp_path, f"--out_dir={escaped}") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b[31mnotes' holds characters a terminal would act on" in err, err
    assert escaped.read_text() == "mine"


def test_a_run_directory_too_long_for_its_files_is_refused_before_training(tmp_path, capsys):
    """A path that leaves no room for the run's files failed only at the first checkpoint,
    after an epoch of training; now before anything is written (exit 2), named and cut short."""
    deep = tmp_path
    while len(os.fsencode(deep)) < 4096 - 150:   # too long for a run's files, yet shorter than the limit
        deep = deep / ("d" * min(200, 4096 - 100 - len(os.fsencode(deep))))
    assert _search(tmp_path, f"--out_dir={deep}") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "bytes long: the files a run writes in it would pass this file system's limit" in err and len(err) < 400
    assert not (tmp_path / ("d" * 200)).exists()


@pytest.mark.parametrize("option", ["head", "init"])
def test_a_head_or_init_path_too_long_to_look_up_names_its_option(tmp_path, capsys, option):
    """`pretrain --head` / `--init` of a 300-character name: the ENAMETOOLONG was described as an
    output path's ("shorten --run_name, --out_dir or the file's name"); now the option is named,
    with what it takes."""
    from nasiam.cli import main

    argv = ["pretrain", "--dataset=synthetic", "--subset=64", "--image_size=16", "--batch_size=16", "--epochs=1",
            "--num_workers=0", f"--out_dir={tmp_path}", "--run_name=p", f"--{option}={'y' * 300}"]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"error: --{option}: " in err and "is read as a path, and it is longer than" in err, err
    assert "--run_name" not in err and "at a shorter path" in err


def test_a_full_disk_during_a_write_names_the_file_being_written(tmp_path, monkeypatch):
    """write() and fsync() raise ENOSPC naming no file, so exit 5 said 'while writing outputs';
    the atomic writer names the file it was writing (and leaves the previous one intact)."""
    import nasiam._io as io_module

    target = tmp_path / "checkpoints" / "last.ckpt"
    io_module.atomic_write_bytes(target, b"previous")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io_module.os, "fsync", full)
    with pytest.raises(OSError) as error:
        io_module.atomic_write_bytes(target, b"new")
    code, message = describe_os_error(error.value)
    assert code == EXIT_IO and f"the disk is full while writing {target};" in message
    assert target.read_bytes() == b"previous" and [p.name for p in target.parent.iterdir()] == ["last.ckpt"]


@pytest.mark.parametrize("command,error,step", [
    ("search", "cuda", "training (in train_epoch, nasiam/runner/loop.py:"),
    ("pretrain", "cpu", "training (in train_epoch, nasiam/runner/loop.py:"),
    ("search", "python", "training (in train_epoch, nasiam/runner/loop.py:"),
])
def test_running_out_of_memory_is_exit_7_naming_the_step_and_the_fix(tmp_path, monkeypatch, capsys, command, error,
                                                                    step):
    """Out of memory was a traceback with exit 1 (#33 round three): now exit 7, the step, and
    how to need less. No memory is allocated: the training step raises what torch would."""
    import torch
    from _runs import TINY

    from nasiam.cli import EXIT_MEMORY, main
    from nasiam.runner.pretrain import PretrainRun
    from nasiam.runner.search import SearchRun

    raised = {"cuda": torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total "
                                             "capacity of 79.11 GiB"),
              "cpu": RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate "
                                  "memory: you tried to allocate 21474836480 bytes. Error code 12 (Cannot allocate "
                                  "memory)"),
              "python": MemoryError()}[error]

    def out_of_memory(*args, **kwargs):
        raise raised

    monkeypatch.setattr(SearchRun if command == "search" else PretrainRun, "training_step", out_of_memory)
    options = [*TINY, "--warmup_epochs=0"] if command == "search" else [
        a for a in TINY if not a.startswith(("--widths", "--warmup_epochs", "--arch_lr"))]
    assert main([command, *options, "--epochs=1", f"--out_dir={tmp_path}", "--run_name=r"]) == EXIT_MEMORY == 7
    err = capsys.readouterr().err
    assert f"nasiam {command}: error: out of memory during {step}" in err, err
    assert "Use a smaller --batch_size or --image_size, or fewer images (--subset)" in err
    assert "Traceback" not in err and (error != "cuda" or "Tried to allocate 20.00 GiB" in err)


@pytest.mark.parametrize("command,advice", [
    ("search", "Use narrower heads: a smaller --proj_hidden_dim, --proj_output_dim or --pred_hidden_dim, or smaller "
               "candidate --widths"),
    ("pretrain", "Use narrower heads: a smaller --proj_hidden_dim, --proj_output_dim or --pred_hidden_dim, or a "
                 "--head with narrower layers"),
])
def test_out_of_memory_while_building_the_heads_advises_narrower_heads(tmp_path, monkeypatch, capsys, command,
                                                                       advice):
    """The heads' widths, not the batch, size the model: out of memory while building it advised
    --batch_size/--image_size/--subset, none of which helps. The heads' BatchNorm1d raises what
    torch's allocator would (the backbone's layers are 2-d, so it is the heads that fail)."""
    import torch
    from _runs import TINY

    from nasiam.cli import EXIT_MEMORY, main

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 64.00 GiB.")

    monkeypatch.setattr(torch.nn.BatchNorm1d, "__init__", out_of_memory)
    options = [*TINY, "--warmup_epochs=0"] if command == "search" else [
        a for a in TINY if not a.startswith(("--widths", "--warmup_epochs", "--arch_lr"))]
    assert main([command, *options, "--epochs=1", f"--out_dir={tmp_path}", "--run_name=r"]) == EXIT_MEMORY
    err = capsys.readouterr().err
    assert f"nasiam {command}: error: out of memory during building the model (in " in err, err
    assert advice in err and "--batch_size" not in err, err


def test_other_runtime_errors_are_not_called_out_of_memory(tmp_path, monkeypatch):
    from _runs import TINY

    from nasiam.cli import main
    from nasiam.errors import is_out_of_memory
    from nasiam.runner.search import SearchRun

    assert is_out_of_memory(MemoryError()) and not is_out_of_memory(RuntimeError("shapes do not match"))
    assert not is_out_of_memory(ValueError("out of memory"))   # only what an allocator raises

    def bug(*args, **kwargs):
        raise RuntimeError("a bug, not memory")

    monkeypatch.setattr(SearchRun, "training_step", bug)
    with pytest.raises(RuntimeError, match="a bug, not memory"):   # a traceback to report, as before
        main(["search", *TINY, "--epochs=1", "--warmup_epochs=0", f"--out_dir={tmp_path}", "--run_name=r"])



@pytest.mark.parametrize("raised", ["python", "cpu", "killed"])
def test_out_of_memory_in_a_data_worker_says_so_and_what_to_lower(capsys, raised):
    """A DataLoader worker's out-of-memory reached the user as "Caught RuntimeError in DataLoader
    worker process 0.. Use ..." (#33, found by an independent probe): the worker, its
    traceback's first line, advice for the training step. Now it names the data worker, what it
    raised, and the options that size the workers' memory; no traceback. The errors are the real
    ones: raised in a worker process and re-raised by the DataLoader."""
    from types import SimpleNamespace

    import torch

    from nasiam.cli import EXIT_MEMORY, run_handler

    error = {"python": MemoryError(), "cpu": RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to "
                                                         "allocate 21474836480 bytes. Error code 12"),
             "killed": None}[raised]

    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            raise error

    def handler(args):
        if raised == "killed":   # what the DataLoader raises when the out-of-memory killer ended a worker
            raise RuntimeError("DataLoader worker (pid 4242) is killed by signal: Killed. ")
        next(iter(torch.utils.data.DataLoader(Images(), num_workers=1)))

    assert run_handler(SimpleNamespace(command="pretrain", handler=handler)) == EXIT_MEMORY
    err = capsys.readouterr().err
    worker = "(pid 4242)" if raised == "killed" else "(DataLoader worker process 0)"
    assert f"nasiam pretrain: error: out of memory in a data-loading worker {worker}" in err, err
    assert "Use a smaller --image_size or --batch_size, or fewer --num_workers" in err, err
    assert "Traceback" not in err and "Caught" not in err and ".." not in err, err
    assert {"python": ": MemoryError.", "cpu": "DefaultCPUAllocator: can't allocate memory",
            "killed": "the system killed it"}[raised] in err, err


@pytest.mark.parametrize("argv", [
    ["compare", "--heads", "default", "--seeds", "1", "--report_only", "--out", "OUT"],
    ["search", "--dataset=synthetic", "--run_name=r", "--print_config", "--out_dir", "OUT"],
    ["pretrain", "--dataset=synthetic", "--run_name=r", "--print_config", "--out_dir", "OUT"],
    ["sweep", "--config", "no-sweep.yaml", "--sweep_dir", "OUT"],
    ["export", "no-run", "--out", "OUT"],
    ["eval", "knn", "random", "--dataset", "synthetic", "--out", "OUT"],
    ["eval", "curves", "no-run", "--out", "OUT"],
])
@pytest.mark.parametrize("hostile", ["o\x1b]0;pwn\x07", "o\u202egnp.exe", "o\nx"])
def test_an_output_path_a_terminal_would_act_on_is_refused_before_anything_is_written(tmp_path, capsys, argv,
                                                                                    hostile):
    """`compare --out $'c\\x1b[2J'` exited 0 printing the path raw twice in its tables' lines, as
    `search --out_dir` did in its progress (the fifth probe of #33): error messages escape a
    path, normal output does not. Output paths are refused as --run_name is, before work starts."""
    from nasiam.cli import main

    out = tmp_path / hostile
    assert main([a.replace("OUT", str(out)) for a in argv]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err and "\u202e" not in captured.out + captured.err
    option = argv[argv.index("OUT") - 1]
    assert f"{option}: " in captured.err and "printable characters" in captured.err, captured.err
    assert not out.exists() and os.listdir(tmp_path) == []


def test_a_failed_write_names_the_file_not_its_hidden_temporary(tmp_path):
    """results.md made a folder: the rename onto it failed and the message named the hidden
    '.results.md.c1ce73c7.nasiam.tmp', with the --resume advice of a training run (the seventh
    probe of #33, C4). The file is named, and the advice is the command's."""
    final, temporary = tmp_path / "results.md", tmp_path / ".results.md.c1ce73c7.nasiam.tmp"
    code, message = describe_os_error(IsADirectoryError(errno.EISDIR, "Is a directory", str(temporary), str(final)),
                                      "files already written are intact")
    assert code == EXIT_IO and f"{final} is a folder, where nasiam writes a file: move it away" in message, message
    assert ".nasiam.tmp" not in message and "--resume" not in message
    code, message = describe_os_error(OSError(errno.ENOSPC, "No space left on device", str(temporary)))
    assert code == EXIT_IO and f"the disk is full while writing {final};" in message, message


def test_compare_names_a_results_file_that_is_a_folder_without_resume_advice(tmp_path, capsys):
    from _runs import TINY

    from nasiam.cli import main

    options = [a for a in TINY if not a.startswith(("--widths", "--warmup_epochs", "--arch_lr"))]
    (tmp_path / "results.md").mkdir()
    assert main(["compare", "--heads", "default", "--seeds", "0,", "--out", str(tmp_path), "--report_only",
                 *options]) == EXIT_IO
    err = capsys.readouterr().err
    assert f"{tmp_path / 'results.md'} is a folder, where nasiam writes a file" in err, err
    assert ".nasiam.tmp" not in err and "--resume" not in err and "run the same command again" in err


CLOSED_PIPE = """
import os, sys
read_end, write_end = os.pipe()
os.close(read_end)               # the reader has gone, as `| head -c 1` leaves it
os.dup2(write_end, 1)
import nasiam.cli.compare as compare_cli
from nasiam.cli import main
compare_cli.cmd_compare = lambda args: print("x" * int(sys.argv[1])) or 0   # a report of this size
sys.exit(main(["compare", "--heads", "default", "--report_only", "--out", sys.argv[2]]))
"""


@pytest.mark.parametrize("size", [100_000, 10])   # raised while printing; raised by the last flush
def test_a_report_piped_into_head_exits_quietly_as_sigpipe_would(tmp_path, size):
    """`nasiam compare --report_only | head -c 1` exited 5, "Broken pipe on a file of the run ...
    --resume continues" (the seventh probe of #33, S1); a short report raised only in the
    interpreter's last flush ("Exception ignored", exit 120). Now exit 141 (128 + SIGPIPE, as
    `cat` gives there) and not a word."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", CLOSED_PIPE, str(size), str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert (done.returncode, done.stderr) == (141, ""), done.stderr


FULL_STDOUT = """
import os, sys
os.dup2(os.open("/dev/full", os.O_WRONLY), 1)   # `> /dev/full`: every write of stdout fails, ENOSPC
import nasiam.cli.compare as compare_cli
from nasiam.cli import main
compare_cli.cmd_compare = lambda args: print("x" * int(sys.argv[1])) or 0   # a report of this size
sys.exit(main(["compare", "--heads", "default", "--report_only", "--out", sys.argv[2]]))
"""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("size", [100_000, 10])   # raised while printing; raised by the last flush
def test_a_report_to_a_full_device_names_standard_output(tmp_path, size):
    """`nasiam compare --report_only > /dev/full` exited 5, "the disk is full while writing
    outputs ... choose another --out_dir" (the eighth probe of #33, E4): no file named, and
    compare has no --out_dir. Now exit 5 naming standard output, without an output option."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", FULL_STDOUT, str(size), str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 5, done.stderr
    assert "nasiam compare: error: standard output cannot be written (No space left on device)" in done.stderr
    assert "--out" not in done.stderr and "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_a_command_started_with_stdout_closed_ends_without_a_traceback(monkeypatch):
    """`nasiam export RUN --out X >&-`: Python sets sys.stdout to None; the final flush raised
    AttributeError after the work was done (exit 1, the ninth probe of #33, F4)."""
    import sys

    import nasiam.cli as cli

    monkeypatch.setattr(cli, "run_handler", lambda args: 0)
    monkeypatch.setattr(sys, "stdout", None)
    assert cli.main(["eval", "knn", "random"]) == 0


# -- #33 probe 16: each command's own words -------------------------------------------------------
@pytest.mark.parametrize("command, options", [("eval", {"--out"}), ("compare", {"--out"}), ("push", set()),
                                              ("sweep", {"--sweep_dir"}), ("search", {"--out_dir", "--run_name", "--resume"})])
def test_a_failed_write_names_only_an_option_the_command_has(tmp_path, command, options):
    """M11: eval and compare said "check the permissions of --out_dir", an option neither has."""
    import argparse
    import re

    from nasiam.cli import _on_io_error

    args = argparse.Namespace(command=command)
    for error in (PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "k.json")),
                  OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "k.json")),
                  OSError(errno.ENAMETOOLONG, "File name too long", str(tmp_path / "k.json"))):
        message = describe_os_error(error, *_on_io_error(args))[1]
        named = set(re.findall(r"--[a-z_]+", message))
        assert named <= options and (named or not options), message


def test_compare_refuses_an_out_where_nothing_can_be_made(capsys):
    """M11: `nasiam compare ... --out ro/cmp` under a folder nothing can be made in: exit 5
    "check the permissions of --out_dir"; now exit 2 up front naming --out, as export does."""
    from nasiam.cli import main

    assert main(["compare", "--seeds", "1", "--heads", "default", "--out", "/proc/self/nasiam-x/cmp"]) == EXIT_USAGE
    assert "--out: no folder can be made at /proc/self/nasiam-x/cmp: nothing can be created in /proc/self" in \
        capsys.readouterr().err


@pytest.mark.parametrize("command, module, name, words", [
    (["compare", "--heads", "default"], "nasiam.compare", "compare", "the runs that had finished are kept"),
    (["push", "run", "--repo", "me/heads"], "nasiam.rundir", "push_run_to_hub", "all of them or none")])
def test_ctrl_c_gives_each_command_its_own_advice(monkeypatch, capsys, command, module, name, words):
    """M16: Ctrl-C in compare or push said "continue with --resume (the last finished epoch is
    kept)", the training commands' advice."""
    import importlib

    from nasiam.cli import main

    def interrupted(*args, **options):
        raise KeyboardInterrupt
    monkeypatch.setattr(importlib.import_module(module), name, interrupted)
    assert main(command) == 130
    err = capsys.readouterr().err
    assert words in err and "--resume" not in err, err


@pytest.mark.parametrize("way_in", ["console script", "python -m nasiam"])
@pytest.mark.parametrize("importing", ["torch", "nasiam.data"])
def test_ctrl_c_while_nasiam_starts_is_no_traceback(way_in, importing):
    """A Ctrl-C during the imports (seconds with torch), before main's handlers: a
    KeyboardInterrupt traceback (#33 probe 16, M14), still through the console script, which
    imported torch with the package before any guard (probe 18, P1); inside torch's own import
    it could leave a RecursionError or a C++ abort. The SIGINT is sent while `importing` is
    imported (torch: the package's import; nasiam.data: the parser's options)."""
    import os
    import signal
    import subprocess
    import sys

    import tomllib

    from nasiam.errors import INTERRUPTED_WHILE_STARTING

    script = tomllib.loads(Path("pyproject.toml").read_text())["project"]["scripts"]["nasiam"]
    module, _, attribute = script.partition(":")
    enter = (f"from {module} import {attribute} as entry\nsys.exit(entry())\n" if way_in == "console script"
             else "runpy.run_module('nasiam', run_name='__main__', alter_sys=True)\n")
    code = ("import os, runpy, signal, sys\n"
            "class CtrlC:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            f"        if name == {importing!r}:\n"
            "            sys.meta_path.remove(self)\n"
            "            os.kill(os.getpid(), signal.SIGINT)\n"
            "sys.meta_path.insert(0, CtrlC())\n" + enter)
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True, timeout=120,
                          env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert INTERRUPTED_WHILE_STARTING in done.stderr and "nasiam 0" not in done.stdout


@pytest.mark.parametrize("ctrl_cs", [1, 2])
@pytest.mark.parametrize("stderr", ["open", "closed"])
def test_ctrl_c_while_starting_is_said_on_stderr_or_nowhere(ctrl_cs, stderr):
    """#33 probe 19, Q11: with stderr closed (`2>&-`) the line went to stdout (print's rule for
    file=None), and a second Ctrl-C exited 1 (os.write raised in the handler). The first Ctrl-C
    is said at once; a second leaves at once, 130 either way."""
    import os
    import signal
    import subprocess
    import sys

    from nasiam.errors import INTERRUPTED_WHILE_STARTING

    code = ("import os, signal, sys\n"
            "class CtrlC:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'torch':\n"
            "            sys.meta_path.remove(self)\n"
            f"            for _ in range({ctrl_cs}):\n"
            "                os.kill(os.getpid(), signal.SIGINT)\n"
            "sys.meta_path.insert(0, CtrlC())\n"
            "from nasiam.__main__ import main\nsys.exit(main())\n")

    def child_setup():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if stderr == "closed":
            os.close(2)

    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True, timeout=120,
                          env=env, preexec_fn=child_setup)
    assert done.returncode == 130 and done.stdout == "", (done.returncode, done.stdout, done.stderr[-2000:])
    if stderr == "open":
        assert "Ctrl-C while loading" in done.stderr and INTERRUPTED_WHILE_STARTING in done.stderr, done.stderr


def test_ctrl_c_while_the_options_are_read_is_no_traceback(monkeypatch, capsys):
    """#33 probe 19, Q12: between the import guard and the command's handlers (parsing, --help
    printing) a Ctrl-C was a KeyboardInterrupt traceback."""
    import argparse

    from nasiam.cli import main
    from nasiam.errors import INTERRUPTED_WHILE_STARTING

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", interrupted)
    assert main(["--help"]) == 130
    assert INTERRUPTED_WHILE_STARTING in capsys.readouterr().err
