"""probe 17 (h56): MAX_YAML_VALUES's message on a file without aliases; a self-referring alias."""
import tempfile
import time
from pathlib import Path

from nasiam.config import ConfigError, read_yaml_file

T = Path(tempfile.mkdtemp())
for cid, text in {
    "V1 grid of 120,000 values, no alias (0.7 MB)": "method: grid\nparameters:\n  seed:\n    values: [" +
        ",".join(str(i) for i in range(120_000)) + "]\n",
    "V2 a list that holds itself (&a [*a])": "a: &a [1, *a]\n",
}.items():
    (T / "f.yaml").write_text(text)
    t0 = time.time()
    try:
        read_yaml_file(T / "f.yaml", "sweep file")
        print(f"{cid}: ok ({time.time() - t0:.1f}s)")
    except ConfigError as e:
        print(f"{cid}: refused ({time.time() - t0:.1f}s): {str(e)[:300]}")
    except Exception as e:  # noqa: BLE001
        print(f"{cid}: CRASH {type(e).__name__}: {str(e)[:200]}")
