"""``funcgrad.scipy.special``: scipy.special's names with ``jax.scipy.special``'s signatures.

``erf``, ``erfc``, ``erfinv``, ``gammaln``, ``digamma`` and ``polygamma`` bind the
primitives of ``funcgrad/primitives/special.py`` (where their rules live); the rest are
compositions.  Integer and boolean inputs become floats as NumPy's ufuncs make them
(``int32`` -> ``float64``); float32 stays float32, Python scalars stay weak.
"""
import numpy as _np

from ..errors import api_boundary as _api_boundary
from ..numpy import _math as _M
from ..numpy import _reductions as _R
from ..numpy import _shape as _S
from ..primitives import special as _P
from ..primitives.misc import stop_gradient as _stop_gradient


def _public(fn):
    return _api_boundary(fn, python_scalars_to_numpy=True)


def _floats(*xs):
    """The operands in their common float dtype (Python ints and bools as floats)."""
    xs = [float(x) if type(x) in (int, bool) else x for x in xs]
    return _M._in_float(_np.exp, *xs)


@_public
def erf(x):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``."""
    x, = _floats(x)
    return _P.erf(x)


@_public
def erfc(x):
    """``1 - erf(x)``, accurate where it is tiny (large ``x``)."""
    x, = _floats(x)
    return _P.erfc(x)


@_public
def erfinv(x):
    """The inverse of ``erf`` on ``[-1, 1]`` (``+-inf`` at ``+-1``, NaN outside)."""
    x, = _floats(x)
    return _P.erf_inv(x)


@_public
def gammaln(x):
    """``log|Gamma(x)|`` (``inf`` at the poles 0, -1, -2, ...); its derivative is ``digamma``."""
    x, = _floats(x)
    return _P.lgamma(x)


@_public
def digamma(x):
    """``psi(x) = d/dx log Gamma(x)``; its derivative is ``polygamma(1, x)``."""
    x, = _floats(x)
    return _P.digamma(x)


@_public
def polygamma(n, x):
    """The ``n``-th derivative of ``digamma`` (``polygamma(0, x)`` is ``digamma(x)``).

    ``n`` must be a concrete non-negative integer (a Python int or a NumPy integer
    scalar): it selects the function, as a static argument."""
    try:
        n_int = int(n)
    except TypeError:
        raise TypeError(f"funcgrad.scipy.special.polygamma: n must be a concrete integer, got {n!r}.\n"
                        "Fix: pass n as a Python int (mark it static under jit: static_argnums).") from None
    if n_int != n or n_int < 0:
        raise ValueError(f"funcgrad.scipy.special.polygamma: n must be a non-negative integer, got {n!r}")
    x, = _floats(x)
    return _P.digamma(x) if n_int == 0 else _P.polygamma(n_int, x)


def _expit(x):
    # 1 / (1 + exp(-x)) written so that no branch overflows: e = exp(-|x|) in (0, 1],
    # then 1 / (1 + e) for x >= 0 and e / (1 + e) below (accurate in both tails).
    # The sign is taken with a select, not abs, so the derivative at 0 is right.
    x, = _floats(x)
    pos = _M.greater_equal(x, 0)
    e = _M.exp(_M.where(pos, _M.negative(x), x))
    return _M.divide(_M.where(pos, 1.0, e), _M.add(1.0, e))


@_public
def expit(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``, finite with a finite derivative everywhere."""
    return _expit(x)


@_public
def logit(x):
    """``log(x / (1 - x))``, the inverse of ``expit``."""
    x, = _floats(x)
    return _M.log(_M.divide(x, _M.subtract(1.0, x)))


@_public
def ndtr(x):
    """The standard normal CDF, ``(1 + erf(x / sqrt(2))) / 2``, computed with ``erfc`` in
    the tails (as jax) so that ``ndtr(-10)`` keeps its digits."""
    x, = _floats(x)
    half_sqrt_2 = 0.5 * 2.0 ** 0.5
    w = _M.multiply(x, half_sqrt_2)
    z = _M.abs(w)
    tail = _P.erfc(z)
    y = _M.where(_M.less(z, half_sqrt_2), _M.add(1.0, _P.erf(w)),
                 _M.where(_M.greater(w, 0.0), _M.subtract(2.0, tail), tail))
    return _M.multiply(0.5, y)


def _logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    if b is not None:
        a, b = _floats(a, b)
        a = _M.where(_M.not_equal(b, 0), a, -_np.inf)
    else:
        a, = _floats(a)
    axes = _R._axes("logsumexp", a, axis)
    masked = a if where is None else _M.where(where, a, -_np.inf)
    amax = _R.max(masked, axis=axes, keepdims=True)
    amax = _stop_gradient(_M.where(_M.isfinite(amax), amax, 0.0))
    e = _M.exp(_M.subtract(masked, amax))  # masked-out terms are exp(-inf) = 0, as is their derivative
    if b is not None:
        e = _M.multiply(e, b)
    s = _R.sum(e, axis=axes, keepdims=keepdims)
    if b is not None or return_sign:
        sign = _M.sign(s)
        s = _M.abs(s)
    out = _M.add(_M.log(s), amax if keepdims else _S.squeeze(amax, axes))
    if return_sign:
        return out, sign
    if b is not None:
        out = _M.where(_M.less(sign, 0), _np.nan, out)
    return out


@_public
def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """``log(sum(b * exp(a), axis))`` without overflow (the maximum is shifted out).

    ``b`` scales the terms (a negative sum gives NaN, or its sign with
    ``return_sign=True``, which returns ``(log|sum|, sign)``); ``where`` masks terms out.
    All-``-inf`` input gives ``-inf``; gradients stay finite for inputs of any size."""
    return _logsumexp(a, axis, b, keepdims, return_sign, where)


__all__ = ["erf", "erfc", "erfinv", "gammaln", "digamma", "polygamma", "expit", "logit", "ndtr", "logsumexp"]
