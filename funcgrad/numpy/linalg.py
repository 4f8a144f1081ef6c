"""``funcgrad.numpy.linalg``: norm, inv, solve, det, slogdet, cholesky."""
from typing import NamedTuple

import numpy as np

from ..core.avals import get_aval
from ..primitives import elementwise as E
from ..primitives import linalg as L
from ..primitives import shape as S
from ..primitives._util import shape_error
from ..errors import api_boundary  # noqa: F401
from . import _math as M
from . import _reductions as R
from ._array import asarray


def _arr(x):
    return asarray(x) if isinstance(x, (list, tuple)) else x


def _matrix(x):
    """A linalg operand: integer and bool matrices are solved in float64, as NumPy does."""
    x = _arr(x)
    if get_aval(x).dtype.kind in "biu":
        x = E.convert_element_type(x, np.float64)
    return x


class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


def slogdet(a):
    """``(sign, log|det a|)``, stable for large or tiny determinants."""
    sign, logdet = L.slogdet(_matrix(a))
    return SlogdetResult(sign, logdet)


def det(a):
    """The determinant of ``a`` (batched over leading axes), as ``sign * exp(logabsdet)`` of ``slogdet``."""
    sign, logdet = L.slogdet(_matrix(a))
    return E.mul(sign, E.exp(logdet))


def solve(a, b):
    """``x`` with ``a @ x == b``; ``b`` is a vector when it is 1-d (NumPy 2 rule)."""
    a, b = _matrix(a), _matrix(b)
    sa, sb = np.shape(a), np.shape(b)
    if len(sa) < 2 or sa[-1] != sa[-2]:
        raise shape_error("linalg.solve", [get_aval(a), get_aval(b)], "a must be square (..., n, n)",
                          "pass a square matrix")
    vector = len(sb) == 1
    if vector:
        b = S.reshape(b, sb + (1,))
        sb = np.shape(b)
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    a = S.broadcast_to(a, batch + sa[-2:])
    b = S.broadcast_to(b, batch + sb[-2:])
    x = L.solve(a, b)
    return S.reshape(x, np.shape(x)[:-1]) if vector else x


def inv(a):
    """The inverse of the square matrix ``a`` (batched over leading axes), as ``solve(a, I)``."""
    a = _matrix(a)
    return L.solve(a, L.eye_like(a))


def cholesky(a):
    """The lower-triangular ``L`` with ``L @ L.T == a`` for a symmetric positive-definite ``a``."""
    return L.cholesky(_matrix(a))


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002  (NumPy's name)
    """Vector and matrix norms (NumPy's ``ord`` conventions, no SVD-based ones)."""
    x = _arr(x)
    if get_aval(x).dtype.kind != "f":
        x = E.convert_element_type(x, np.float64)  # NumPy: norms of integers and bools are float64
    nd = len(np.shape(x))
    if axis is None and ord is None:
        out = M.sqrt(R.sum(E.mul(x, x)))
        return S.reshape(out, (1,) * nd) if keepdims else out
    if axis is None:
        axis = tuple(range(nd))
    axes = axis if isinstance(axis, tuple) else (axis,)
    if len(axes) == 1:
        ax = axes[0]
        ax_abs = M.abs(x)
        if ord is None or ord == 2:
            return M.sqrt(R.sum(E.mul(x, x), ax, keepdims=keepdims))
        if ord == np.inf:
            return R.max(ax_abs, ax, keepdims=keepdims)
        if ord == -np.inf:
            return R.min(ax_abs, ax, keepdims=keepdims)
        if ord == 0:
            return R.sum(E.convert_element_type(E.ne(x, 0), get_aval(x).dtype), ax, keepdims=keepdims)
        if ord == 1:
            return R.sum(ax_abs, ax, keepdims=keepdims)
        return M.power(R.sum(M.power(ax_abs, ord), ax, keepdims=keepdims), 1.0 / ord)
    if len(axes) == 2:
        r, c = (a % nd for a in axes)
        if ord in (None, "fro"):
            return M.sqrt(R.sum(E.mul(x, x), (r, c), keepdims=keepdims))
        ax_abs = M.abs(x)
        if ord in (1, -1):
            colsum = R.sum(ax_abs, r, keepdims=True)
            red = R.max if ord == 1 else R.min
            out = red(colsum, c, keepdims=True)
        elif ord in (np.inf, -np.inf):
            rowsum = R.sum(ax_abs, c, keepdims=True)
            red = R.max if ord == np.inf else R.min
            out = red(rowsum, r, keepdims=True)
        else:
            raise NotImplementedError(f"norm ord={ord!r} for matrices needs an SVD, which funcgrad does not have yet")
        return out if keepdims else S.reshape(out, tuple(d for i, d in enumerate(np.shape(out)) if i not in (r, c)))
    raise ValueError(f"norm: improper number of axes {axes}")
