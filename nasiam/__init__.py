"""nasiam: differentiable architecture search for siamese SSL heads.

The core needs only PyTorch::

    from nasiam import SearchableHead, NASHead, Genotype
"""
from nasiam.head import NASHead, SearchableHead, recalibrate_batchnorm
from nasiam.space import Genotype, GenotypeError, LayerSpec, MLPSpace, NASiamSpace

__version__ = "0.1.0.dev0"

__all__ = ["Genotype", "GenotypeError", "LayerSpec", "MLPSpace", "NASiamSpace", "NASHead", "SearchableHead",
           "recalibrate_batchnorm", "__version__"]
