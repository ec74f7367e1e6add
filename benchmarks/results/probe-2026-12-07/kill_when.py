"""Start a command, SIGKILL it the moment a file matching GLOB appears under DIR.
argv: DIR GLOB TIMEOUT -- cmd..."""
import glob, os, signal, subprocess, sys, time
d, pattern, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
cmd = sys.argv[sys.argv.index("--") + 1:]
p = subprocess.Popen(cmd, stdout=open(os.environ.get("KW_LOG", "/dev/null"), "w"), stderr=subprocess.STDOUT)
start = time.time()
while p.poll() is None and time.time() - start < timeout:
    hits = glob.glob(os.path.join(d, "**", pattern), recursive=True)
    if hits:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        print(f"killed at {time.time() - start:.1f}s on {hits[0]}")
        break
    time.sleep(0.001)
else:
    print(f"not killed: rc={p.poll()} after {time.time() - start:.1f}s")
    if p.poll() is None:
        p.kill()
