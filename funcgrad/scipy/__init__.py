"""``funcgrad.scipy``: ``special`` (erf, gammaln, logsumexp, ...) and ``stats.norm``, with
``jax.scipy``'s signatures, as compositions of funcgrad primitives (no scipy needed)."""
from . import special, stats  # noqa: F401

__all__ = ["special", "stats"]
