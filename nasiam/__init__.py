"""nasiam: differentiable architecture search for siamese SSL heads.

The core needs only PyTorch::

    from nasiam import SearchableHead, NASHead, Genotype

The names are imported on first use (PEP 562): `import nasiam` itself loads no torch, so the
command line's entry point (`nasiam.__main__`) installs its Ctrl-C guard before the seconds
torch takes to import (#33 probe 18, P1).
"""
import importlib as _importlib
import importlib.util as _importlib_util
from typing import TYPE_CHECKING as _TYPE_CHECKING

from nasiam._version import __version__

# public name -> the module that defines it
_EXPORTS = {
    "NASHead": "nasiam.head", "SearchableHead": "nasiam.head", "recalibrate_batchnorm": "nasiam.head",
    "Genotype": "nasiam.space", "GenotypeError": "nasiam.space", "LayerSpec": "nasiam.space",
    "MLPSpace": "nasiam.space", "NASiamSpace": "nasiam.space",
}
__all__ = ["Genotype", "GenotypeError", "LayerSpec", "MLPSpace", "NASHead", "NASiamSpace", "SearchableHead",
           "recalibrate_batchnorm", "__version__"]

if _TYPE_CHECKING:   # what editors and type checkers see
    from nasiam.head import NASHead, SearchableHead, recalibrate_batchnorm
    from nasiam.space import Genotype, GenotypeError, LayerSpec, MLPSpace, NASiamSpace


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(_importlib.import_module(_EXPORTS[name]), name)
    elif name.isidentifier() and not name.startswith("_") and _importlib_util.find_spec(f"{__name__}.{name}") is not None:
        value = _importlib.import_module(f"{__name__}.{name}")   # `nasiam.space.register_activation`, as before
    else:
        raise AttributeError(f"module 'nasiam' has no attribute {name!r}")
    globals()[name] = value   # once: later lookups do not come here
    return value


def __dir__() -> list[str]:   # the public names, not this module's own imports
    return sorted({*__all__, *(name for name in globals() if name.startswith("__"))})
