"""Import a script of benchmarks/ in a test (they are scripts, not a package)."""
import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


def load_benchmark(name: str):
    """benchmarks/NAME.py as a module; the scripts beside it (gpu_throughput, _timing) import
    while it loads."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))
