"""A Unix socket planted where a file is expected, for the tests of what nasiam refuses."""
import os
import socket
from pathlib import Path


def bind_unix_socket(path: Path) -> socket.socket:
    """A socket bound at `path`, by its name from its folder: an AF_UNIX address holds 108 bytes
    at most, which a long $TMPDIR (macOS's, pytest-xdist's) passes with an absolute path."""
    sock = socket.socket(socket.AF_UNIX)
    before = os.getcwd()
    os.chdir(path.parent)
    try:
        sock.bind(path.name)
    finally:
        os.chdir(before)
    return sock
