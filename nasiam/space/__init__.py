"""Search spaces: the op registries, `Genotype`, and the supernet layers of each space."""
from nasiam.space.directpred import DirectPredLinear, frozen_statistics
from nasiam.space.genotype import Genotype, GenotypeError, LayerSpec, space_from_dict
from nasiam.space.mlp import MLPSearchLayer, MLPSpace
from nasiam.space.nasiam_paper import PAPER_OPS, NASiamSearchLayer, NASiamSpace, parse_paper_genotype
from nasiam.space.siam import PREDICTOR_FAMILIES, PredictorFamilyLayer, SiamSpace
from nasiam.space.registry import (
    create_activation,
    create_norm,
    get_activation,
    get_norm,
    list_activations,
    list_norms,
    register_activation,
    register_norm,
)
from nasiam.space.spaces import (
    FixedLayer,
    SearchableLayer,
    SearchSpace,
    SlotSearch,
    build_layer,
    create_space,
    list_spaces,
    register_space,
)

__all__ = [
    "Genotype", "GenotypeError", "LayerSpec",
    "SearchSpace", "SearchableLayer", "FixedLayer", "MLPSpace", "MLPSearchLayer", "NASiamSpace", "NASiamSearchLayer",
    "SiamSpace", "PredictorFamilyLayer", "PREDICTOR_FAMILIES", "SlotSearch",
    "PAPER_OPS", "parse_paper_genotype", "build_layer", "create_space", "list_spaces", "register_space",
    "space_from_dict", "register_activation", "register_norm", "create_activation", "create_norm",
    "get_activation", "get_norm", "list_activations", "list_norms", "DirectPredLinear", "frozen_statistics",
]
