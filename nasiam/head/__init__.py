"""Heads: the searchable supernet and the frozen `NASHead` it exports."""
from nasiam.head.calibration import recalibrate_batchnorm
from nasiam.head.directpred import DirectPredLinear
from nasiam.head.nas_head import NASHead
from nasiam.head.searchable import SAMPLING_MODES, SearchableHead

__all__ = ["NASHead", "SearchableHead", "SAMPLING_MODES", "DirectPredLinear", "recalibrate_batchnorm"]
