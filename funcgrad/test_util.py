"""``check_grads``: finite-difference checks of forward and reverse mode, public so
users can check their own ``custom_jvp`` / ``custom_vjp`` rules."""
import numpy as np

from . import tree as tree_util
from .api import jvp, vjp

_EPS = {np.dtype(np.float64): 1e-4, np.dtype(np.float32): 1e-2, np.dtype(np.float16): 1e-1}
_TOL = {np.dtype(np.float64): 1e-5, np.dtype(np.float32): 2e-2, np.dtype(np.float16): 1e-1}


def _dtype(tree):
    dts = [np.asarray(x).dtype for x in tree_util.leaves(tree)]
    return min(dts, key=lambda d: d.itemsize) if dts else np.dtype(np.float64)


def _rand_like(rng, tree):
    return tree_util.map(lambda x: rng.standard_normal(np.shape(x)).astype(np.asarray(x).dtype), tree)


def _axpy(a, x, y):
    return tree_util.map(lambda xi, yi: (np.asarray(yi) + a * np.asarray(xi)).astype(np.asarray(yi).dtype), x, y)


def _vdot(x, y):
    return sum(float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))
               for a, b in zip(tree_util.leaves(x), tree_util.leaves(y), strict=True))


def _assert_close(what, got, want, atol, rtol):
    for g, w in zip(tree_util.leaves(got), tree_util.leaves(want), strict=True):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        if not np.allclose(g, w, atol=atol, rtol=rtol):
            err = np.max(np.abs(g - w))
            raise AssertionError(f"check_grads: {what} does not match finite differences "
                                 f"(max abs error {err:.3g}, atol={atol}, rtol={rtol}):\n got {g}\nwant {w}")


def _fd_jvp(f, args, tangents, eps):
    plus = f(*_axpy(eps, tangents, args))
    minus = f(*_axpy(-eps, tangents, args))
    return tree_util.map(lambda p, m: (np.asarray(p, np.float64) - np.asarray(m, np.float64)) / (2 * eps),
                         plus, minus)


def check_jvp(f, args, eps=None, atol=None, rtol=None, seed=0):
    """Check ``jvp(f)`` against central finite differences along a random direction."""
    rng = np.random.default_rng(seed)
    dt = _dtype(args)
    eps = eps or _EPS.get(dt, 1e-4)
    atol = atol or _TOL.get(dt, 1e-5)
    rtol = rtol or _TOL.get(dt, 1e-5)
    t = _rand_like(rng, args)
    _, out_t = jvp(f, tuple(args), tuple(t))
    _assert_close("jvp", out_t, _fd_jvp(f, args, t, eps), atol, rtol)


def check_vjp(f, args, eps=None, atol=None, rtol=None, seed=0):
    """Check ``vjp(f)`` by ``<u, J v>`` (finite differences) ``== <J^T u, v>``."""
    rng = np.random.default_rng(seed + 1)
    dt = _dtype(args)
    eps = eps or _EPS.get(dt, 1e-4)
    atol = atol or _TOL.get(dt, 1e-5)
    rtol = rtol or _TOL.get(dt, 1e-5)
    out, f_vjp = vjp(f, *args)
    u = _rand_like(rng, out)
    v = _rand_like(rng, args)
    lhs = _vdot(u, _fd_jvp(f, args, v, eps))
    rhs = _vdot(f_vjp(u), v)
    _assert_close("vjp", rhs, lhs, atol, rtol)


def check_grads(f, args, order=2, modes=("fwd", "rev"), eps=None, atol=None, rtol=None):
    """Check derivatives of ``f`` at ``args`` up to ``order`` in the given modes.

    Forward mode compares ``jvp`` with central differences; reverse mode compares
    ``vjp`` through the identity ``<u, J v> = <J^T u, v>``.  For order > 1 the same
    checks run on the derivative functions.  Raises ``AssertionError`` on mismatch.
    """
    args = tuple(args)
    rng = np.random.default_rng(42)

    def _check(fun, a, k):
        if "fwd" in modes:
            check_jvp(fun, a, eps, atol, rtol)
            if k > 1:
                t = _rand_like(rng, a)
                _check(lambda *xs: jvp(fun, xs, t)[1], a, k - 1)
        if "rev" in modes:
            check_vjp(fun, a, eps, atol, rtol)
            if k > 1:
                u = _rand_like(rng, fun(*a))
                _check(lambda *xs: vjp(fun, *xs)[1](u), a, k - 1)

    _check(f, args, order)
