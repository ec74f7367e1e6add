"""`_io.remove_abandoned`'s flock race, probed (the ninth probe only read it): writers and
cleaners of one name in one folder, in separate processes, for SECONDS each.
usage: python probe10_race.py DIR SECONDS. Prints, per scenario, the writers' failures, what
the cleaners removed, and what is left in DIR (only the outputs should be).

W1: 2 processes `atomic_write_bytes(DIR/out.bin)` in a loop (each write's content its own),
    2 processes `remove_abandoned(DIR, "out.bin")` in a loop: no write may fail, the final file
    must be one writer's whole content, no temporary may be left.
W2: 2 processes `new_directory(DIR/outdir-<i>)` (fill, rename, remove, again) and 2 cleaners:
    no fill may lose a file (each folder is checked for its 3 files after the rename).
W3: a writer SIGKILLed mid-write (its temporary left), then a live writer and a cleaner: the
    dead one's temporary must go, the live one's never."""
import multiprocessing as mp
import os
import shutil
import signal
import sys
import time

from nasiam._io import atomic_write_bytes, new_directory, remove_abandoned


def writer(d, tag, seconds, q):
    end, n, fails = time.time() + seconds, 0, []
    while time.time() < end:
        data = (f"{tag}:{n}:".encode() * 2000)
        try:
            atomic_write_bytes(os.path.join(d, "out.bin"), data)
        except Exception as e:   # noqa: BLE001
            fails.append(repr(e)[:200])
        n += 1
    q.put(("writer", tag, n, fails[:3], len(fails)))


def cleaner(d, name, seconds, q):
    end, removed, n = time.time() + seconds, [], 0
    while time.time() < end:
        removed += remove_abandoned(d, name)
        n += 1
    q.put(("cleaner", name, n, removed[:3], len(removed)))


def filler(d, tag, seconds, q):
    end, n, fails = time.time() + seconds, 0, []
    while time.time() < end:
        target = os.path.join(d, f"outdir-{tag}")
        try:
            with new_directory(target) as tmp:
                for i in range(3):
                    open(os.path.join(tmp, f"f{i}"), "w").write(f"{tag}{n}")
            got = sorted(os.listdir(target))
            if got != ["f0", "f1", "f2"]:
                fails.append(f"after rename: {got}")
            shutil.rmtree(target)
        except Exception as e:   # noqa: BLE001
            fails.append(repr(e)[:200])
        n += 1
    q.put(("filler", tag, n, fails[:3], len(fails)))


def scenario(name, targets, d):
    q = mp.Queue()
    procs = [mp.Process(target=f, args=(*a, q)) for f, a in targets]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    print(name, *results, sep="\n  ")
    print("  left in the folder:", sorted(os.listdir(d))[:10])


if __name__ == "__main__":
    root, seconds = sys.argv[1], float(sys.argv[2])
    d1 = os.path.join(root, "w1")
    os.makedirs(d1)
    scenario("W1 atomic_write_bytes x2 vs remove_abandoned x2", [(writer, (d1, "a", seconds)), (writer, (d1, "b", seconds)),
             (cleaner, (d1, "out.bin", seconds)), (cleaner, (d1, "out.bin", seconds))], d1)
    content = open(os.path.join(d1, "out.bin"), "rb").read()
    first = content.split(b":")[:2]
    print("  final out.bin whole and one writer's:", content == (b":".join(first) + b":") * 2000)
    d2 = os.path.join(root, "w2")
    os.makedirs(d2)
    scenario("W2 new_directory x2 vs remove_abandoned x2 (each name)", [(filler, (d2, "a", seconds)), (filler, (d2, "b", seconds)),
             (cleaner, (d2, "outdir-a", seconds)), (cleaner, (d2, "outdir-b", seconds))], d2)
    d3 = os.path.join(root, "w3")
    os.makedirs(d3)
    pid = os.fork()
    if pid == 0:   # a writer killed between its temporary's creation and its rename
        import nasiam._io as io_
        real = os.replace
        io_.os.replace = lambda *a: (os.kill(os.getpid(), signal.SIGKILL), real(*a))
        atomic_write_bytes(os.path.join(d3, "out.bin"), b"dead")
        os._exit(0)
    os.waitpid(pid, 0)
    print("W3 after the SIGKILLed writer:", sorted(os.listdir(d3)))
    scenario("W3 a live writer and a cleaner after it", [(writer, (d3, "c", seconds / 2)), (cleaner, (d3, "out.bin", seconds / 2))], d3)
