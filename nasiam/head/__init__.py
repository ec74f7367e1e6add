"""Heads: the searchable supernet and the frozen `NASHead` it exports."""
from nasiam.head.calibration import recalibrate_batchnorm
from nasiam.head.nas_head import NASHead
from nasiam.head.searchable import SAMPLING_MODES, SearchableHead
from nasiam.space.directpred import DirectPredLinear  # a layer a NASHead may hold; re-exported for users

__all__ = ["NASHead", "SearchableHead", "SAMPLING_MODES", "DirectPredLinear", "recalibrate_batchnorm"]
