"""nasiam: differentiable architecture search for siamese SSL heads.

The core needs only PyTorch::

    from nasiam import SearchableHead, NASHead, Genotype

The names are imported on first use (PEP 562): `import nasiam` itself loads no torch, so the
command line's entry point (`nasiam.__main__`) installs its Ctrl-C guard before the seconds
torch takes to import (#33 probe 18, P1).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from nasiam._version import __version__

# public name -> the module that defines it
_EXPORTS = {
    "NASHead": "nasiam.head", "SearchableHead": "nasiam.head", "recalibrate_batchnorm": "nasiam.head",
    "Genotype": "nasiam.space", "GenotypeError": "nasiam.space", "LayerSpec": "nasiam.space",
    "MLPSpace": "nasiam.space", "NASiamSpace": "nasiam.space",
}
__all__ = ["Genotype", "GenotypeError", "LayerSpec", "MLPSpace", "NASHead", "NASiamSpace", "SearchableHead",
           "recalibrate_batchnorm", "__version__"]

if TYPE_CHECKING:   # what editors and type checkers see
    from nasiam.head import NASHead, SearchableHead, recalibrate_batchnorm
    from nasiam.space import Genotype, GenotypeError, LayerSpec, MLPSpace, NASiamSpace


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nasiam' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value   # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
