"""``funcgrad.scipy.stats.norm``: the normal distribution, with ``jax.scipy.stats.norm``'s
signatures and formulas (``loc`` and ``scale`` broadcast against ``x``)."""
import numpy as _np

from ...numpy import _math as _M
from .. import special as _special

_public = _special._public


@_public
def logpdf(x, loc=0, scale=1):
    """``-(log(2 pi scale^2) + ((x - loc) / scale)^2) / 2``."""
    x, loc, scale = _special._floats(x, loc, scale)
    scale_sq = _M.multiply(scale, scale)
    log_normalizer = _M.log(_M.multiply(2 * _np.pi, scale_sq))
    d = _M.subtract(x, loc)
    quadratic = _M.divide(_M.multiply(d, d), scale_sq)
    return _M.divide(_M.add(log_normalizer, quadratic), -2.0)


@_public
def pdf(x, loc=0, scale=1):
    """``exp(logpdf(x, loc, scale))``."""
    return _M.exp(logpdf.__wrapped__(x, loc, scale))


@_public
def cdf(x, loc=0, scale=1):
    """``ndtr((x - loc) / scale)``: accurate in both tails."""
    x, loc, scale = _special._floats(x, loc, scale)
    return _special.ndtr.__wrapped__(_M.divide(_M.subtract(x, loc), scale))


__all__ = ["logpdf", "pdf", "cdf"]
