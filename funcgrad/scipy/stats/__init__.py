"""``funcgrad.scipy.stats``: probability distributions (``norm``) as in ``jax.scipy.stats``."""
from . import norm  # noqa: F401

__all__ = ["norm"]
