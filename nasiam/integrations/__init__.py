"""Drop-in integrations: plain PyTorch models, lightly, solo-learn.

`nasiam.integrations.lightly` and `nasiam.integrations.solo_learn` import their library only
when used."""
from nasiam.integrations.plain import HeadMismatchError, head_dims, swap_head, swap_heads

__all__ = ["HeadMismatchError", "head_dims", "swap_head", "swap_heads"]
