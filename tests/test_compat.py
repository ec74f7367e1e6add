"""The private APIs of torch and Lightning Fabric behind nasiam._compat: present in the
installed versions, and a clear error when one is gone."""
import re

import pytest
import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from nasiam import _compat


def test_ddp_ignore_adds_to_what_is_ignored():
    model = nn.Linear(2, 2)
    _compat.ddp_ignore(model, ["weight"])
    _compat.ddp_ignore(model, ["bias", "weight"])
    assert sorted(model._ddp_params_and_buffers_to_ignore) == ["bias", "weight"]


def test_fabric_loader_passes():
    fabric = pytest.importorskip("lightning_fabric")
    loader = DataLoader(list(range(4)), batch_size=2)
    assert _compat.fabric_loader_passes(loader) is None
    wrapped = fabric.wrappers._FabricDataLoader(loader)
    assert _compat.fabric_loader_passes(wrapped) == 0
    _compat.set_fabric_loader_passes(wrapped, 3)
    assert _compat.fabric_loader_passes(wrapped) == 3


def test_a_missing_private_api_is_named_with_the_versions(monkeypatch):
    monkeypatch.delattr(DistributedDataParallel, "_set_params_and_buffers_to_ignore_for_model")
    message = re.escape(f"torch {torch.__version__} has no DistributedDataParallel.") + ".*tested with"
    with pytest.raises(_compat.PrivateAPIError, match=message):
        _compat.ddp_ignore(nn.Linear(2, 2), ["weight"])
    fabric = pytest.importorskip("lightning_fabric")
    wrapped = fabric.wrappers._FabricDataLoader(DataLoader(list(range(4))))
    del wrapped._num_iter_calls
    with pytest.raises(_compat.PrivateAPIError, match="_num_iter_calls.*resume a run mid-epoch"):
        _compat.fabric_loader_passes(wrapped)
