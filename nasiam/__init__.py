"""nasiam: differentiable architecture search for siamese SSL heads.

The core needs only PyTorch::

    from nasiam import SearchableHead, NASHead, Genotype
"""
from nasiam._version import __version__
from nasiam.head import NASHead, SearchableHead, recalibrate_batchnorm
from nasiam.space import Genotype, GenotypeError, LayerSpec, MLPSpace, NASiamSpace

__all__ = ["Genotype", "GenotypeError", "LayerSpec", "MLPSpace", "NASiamSpace", "NASHead", "SearchableHead",
           "recalibrate_batchnorm", "__version__"]
