"""Exit codes mean one thing each: 2 for input that cannot be used (read), 5 for the disk the
outputs go to (written); the message says which file, and whether it was read or written."""
import errno
import os

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
    code, message = describe_os_error(OSError(errno.ENAMETOOLONG, "File name too long", "x" * 300))
    assert code == EXIT_USAGE and "too long" in message
