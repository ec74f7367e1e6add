"""The twenty-second probe of #33 (benchmarks/results/probe-2026-12-07/findings-twenty-second.md):
the holes it found in the twenty-first session's fixes."""
from __future__ import annotations

import pytest

from nasiam.config import ConfigError, PretrainConfig, load_config


def _pretrain_options(**overrides):
    return load_config(PretrainConfig, None, {"dataset": "synthetic", **overrides})


def test_an_empty_wandb_mode_is_refused_like_any_other_bad_mode(monkeypatch):
    """T1: WANDB_MODE='' passed nasiam's check; wandb.init refused it with a traceback, exit 1,
    after the data were loaded."""
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "")
    monkeypatch.delenv("WANDB_RUN_ID", raising=False)
    with pytest.raises(ConfigError, match="WANDB_MODE='' is not a W&B mode"):
        _pretrain_options(wandb=True)
