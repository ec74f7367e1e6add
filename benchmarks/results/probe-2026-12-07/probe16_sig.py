"""Start a command; send it SIGNAL (INT or TERM) the moment a file matching GLOB appears under DIR
(or after DELAY seconds when GLOB is '-'); print its exit status and its last stderr lines.
argv: DIR GLOB SIGNAL TIMEOUT_OR_DELAY -- cmd..."""
import glob
import os
import signal
import subprocess
import sys
import time

d, pattern, sig, timeout = sys.argv[1], sys.argv[2], getattr(signal, "SIG" + sys.argv[3]), float(sys.argv[4])
cmd = sys.argv[sys.argv.index("--") + 1:]
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
start = time.time()
sent = None
while p.poll() is None and time.time() - start < (timeout if pattern != "-" else 600):
    if pattern == "-" and time.time() - start >= timeout or \
            pattern != "-" and glob.glob(os.path.join(d, "**", pattern), recursive=True):
        p.send_signal(sig)
        sent = time.time() - start
        break
    time.sleep(0.0005)
err = p.communicate()[1]
print(f"signal {sys.argv[3]} {'sent at %.2fs' % sent if sent is not None else 'not sent'}; rc={p.returncode}")
print("   stderr tail:", " | ".join(err.strip().splitlines()[-2:])[:600])
