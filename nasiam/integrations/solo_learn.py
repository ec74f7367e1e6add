"""solo-learn: NAS-head variants of its `simsiam`, `simclr`, `mocov2plus` and `mocov3` methods.

`register()` adds `nas_simsiam`, `nas_simclr`, `nas_mocov2plus` and `nas_mocov3` to
`solo.methods.METHODS`: one per nasiam framework that names its solo-learn method
(`SSLFramework.solo_learn_method`). Each builds the original method from the same config, then replaces
`projector` (and `predictor`) by the heads named in `method_kwargs.nas_heads` (a nasiam search
run directory or a genotype.json), rebuilt for solo-learn's widths (`features_dim` in,
`proj_output_dim` out) by `Genotype.for_dims`; with `method_kwargs.nas_init_weights: true` they
keep the search's weights, which needs a run at those widths (`nasiam export RUN --out DIR
--proj_output_dim 2048`, docs/integrations.md). For MoCo the momentum projector is rebuilt from
the new projector and re-initialised to it, as solo-learn does at construction. solo-learn's
`learnable_params` reads the attributes lazily, so the optimiser sees the new heads.

Run solo-learn's own script with the methods registered:

    python -m nasiam.integrations.solo_learn path/to/solo-learn/main_pretrain.py \\
        --config-path scripts/pretrain/cifar --config-name simsiam.yaml \\
        method=nas_simsiam +method_kwargs.nas_heads=runs/search-simsiam-... +method_kwargs.nas_init_weights=true
"""
from __future__ import annotations

import copy
import os
import runpy
import sys

from nasiam.errors import shown, shown_path
from nasiam.frameworks import FRAMEWORKS
from nasiam.head import NASHead
from nasiam.integrations.lightly import load_head_sources
from nasiam.integrations.plain import fit_head, slot_dims, swap_heads

__all__ = ["register", "nas_method", "solo_methods"]


def solo_methods() -> dict[str, str]:
    """solo-learn's methods that nasiam's frameworks are, {key in `solo.methods.METHODS`: class
    name}, as each framework class declares (`SSLFramework.solo_learn_method`)."""
    return dict(cls.solo_learn_method for cls in FRAMEWORKS.values() if cls.solo_learn_method is not None)


def _option(cfg, key: str, default=None):
    from omegaconf import OmegaConf

    value = OmegaConf.select(cfg, f"method_kwargs.{key}", default=default)
    return default if value is None else value


def _flag(cfg, key: str) -> bool:
    """`method_kwargs.<key>` as a bool, its words read as nasiam's options read them (true/false,
    yes/no, on/off, 1/0): Hydra gives `+method_kwargs.nas_init_weights=no` as the string 'no',
    which `bool` read as true, keeping the searched weights unasked (the nineteenth probe of #33, Q4)."""
    from nasiam.config import ConfigError, parse_value

    value = _option(cfg, key, False)
    try:
        return parse_value(f"method_kwargs.{key}", value, bool)
    except ConfigError:
        raise ValueError(f"method_kwargs.{key} must be true or false (or yes/no, on/off, 1/0), got {shown(value)}: "
                         f"write +method_kwargs.{key}=true or false") from None


def nas_method(base: type) -> type:
    """A subclass of solo-learn method `base` whose heads come from nasiam."""

    class NASMethod(base):
        def __init__(self, cfg):
            super().__init__(cfg)
            source = _option(cfg, "nas_heads")
            if source is None:
                raise ValueError(f"{type(self).__name__} needs method_kwargs.nas_heads: a nasiam search run "
                                 "directory or a genotype.json")
            heads, has_weights = load_head_sources(source, "method_kwargs.nas_heads")
            use_weights = _flag(cfg, "nas_init_weights")
            if use_weights and not has_weights:
                raise ValueError(f"nas_init_weights needs a search run directory with heads/, not {source}")
            run = source if has_weights else None
            swaps = {}
            for slot in ("projector", "predictor"):
                if slot not in heads or not hasattr(self, slot):
                    continue
                head = heads[slot]
                if not use_weights and isinstance(head, NASHead):
                    head = head.genotype  # the architecture only, built for this method's widths below
                in_dim, out_dim = slot_dims(getattr(self, slot))  # solo-learn's own head: features_dim, proj_output_dim
                swaps[slot] = fit_head(head, in_dim, out_dim, where=f"{type(self).__name__}.{slot}", slot=slot,
                                       run=run)
            swap_heads(self, swaps)  # checks the dims against solo-learn's own heads
            if hasattr(self, "momentum_projector"):
                from solo.utils.momentum import initialize_momentum_params

                self.momentum_projector = copy.deepcopy(self.projector)
                initialize_momentum_params(self.projector, self.momentum_projector)

        @staticmethod
        def add_and_assert_specific_cfg(cfg):
            cfg = base.add_and_assert_specific_cfg(cfg)
            if _option(cfg, "nas_heads") is None:
                raise ValueError("method_kwargs.nas_heads is missing: a nasiam search run directory or genotype.json")
            return cfg

    NASMethod.__name__ = NASMethod.__qualname__ = f"NAS{base.__name__}"
    return NASMethod


def register() -> dict[str, type]:
    """Add the `nas_*` methods to `solo.methods.METHODS` (idempotent); returns them."""
    import solo.methods as methods

    added = {}
    for name, class_name in solo_methods().items():
        key = f"nas_{name}"
        if key not in methods.METHODS:
            methods.METHODS[key] = nas_method(getattr(methods, class_name))
        added[key] = methods.METHODS[key]
    return added


def main(argv: list[str] | None = None) -> None:
    """`python -m nasiam.integrations.solo_learn SCRIPT [args]`: register, then run SCRIPT."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        raise SystemExit("usage: python -m nasiam.integrations.solo_learn path/to/main_pretrain.py [hydra args]")
    # as `python SCRIPT` does: the script's folder first on sys.path, so a solo-learn checkout
    # that is not pip-installed is importable from wherever the launcher is started
    script = os.path.abspath(argv[0])
    if not os.path.isfile(script):
        raise SystemExit(f"no script at {argv[0]}: pass the path of solo-learn's main_pretrain.py")
    sys.path.insert(0, os.path.dirname(script))
    try:
        register()
    except ModuleNotFoundError as e:
        if e.name not in ("solo", "solo.methods"):
            raise
        # solo-learn is GitHub-only: a checkout's main_pretrain.py finds its `solo` beside it
        raise SystemExit(f"solo-learn is not installed (no module {e.name!r}) and {shown_path(argv[0])} is not in a "
                         "solo-learn checkout: install solo-learn (git clone https://github.com/vturrisi/solo-learn, "
                         "then pip install it from there) or pass the main_pretrain.py of a checkout") from None
    sys.argv = [script, *argv[1:]]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
