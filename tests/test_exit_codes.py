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


def test_an_unknown_option_is_named_without_the_value_beside_it(capsys):
    from nasiam.cli import main

    assert main(["search", "--bogus", "1", "--epochz=3", "--other", "-2", "stray"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "unknown option(s): --bogus, --epochz (did you mean --epochs?), --other; " in err
    assert "unexpected argument(s): stray (see nasiam search --help)" in err
    assert "1" not in err.replace("--epochz", "") and "-2" not in err
