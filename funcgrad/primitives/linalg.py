"""Linear algebra primitives: ``dot_general`` (every product: dot, matmul, einsum,
tensordot), ``cholesky``, ``solve`` and ``slogdet``.

``dot_general(x, y, contract=((xc...), (yc...)), batch=((xb...), (yb...)))`` sums
over the contracting dimensions pairwise and keeps batch dimensions aligned; the
result is laid out as ``batch, x free, y free`` (as ``lax.dot_general``).
"""
import math

import numpy as np
import jax.numpy as jnp
import jax.lax as lax

from ..core.avals import promote_avals
from ..core.primitive import Primitive, defvjp, defvjp_indexed
from ._util import aval, dtype_of, shape_error, shape_of, weak_result
from ._lower import bind_like as _bind_like, cast as _cast
from .elementwise import add, convert_element_type, mul, neg
from .reductions import reduce_sum
from .shape import broadcast_in_dim, transpose


def _free(ndim, contract, batch):
    return tuple(i for i in range(ndim) if i not in contract and i not in batch)


# ----------------------------------------------------------------------------- dot_general

dot_general_p = Primitive("dot_general")


def _dot_impl(x, y, *, contract, batch):
    x, y = np.asarray(x), np.asarray(y)
    (xc, yc), (xb, yb) = contract, batch
    nx, ny = x.ndim, y.ndim
    if not xb:  # the common cases map straight onto one BLAS call
        if xc == (nx - 1,) and ((ny == 2 and yc == (0,)) or (ny == 1 and yc == (0,))) and x.shape[-1] != 1:
            if nx == 2 and ny == 2 and x.shape[0] < 64 and y.size >= 65536:
                # a few rows times a large matrix: OpenBLAS runs (y.T @ x.T).T 10-20%
                # faster than x @ y (the result is a column-major view; values are the same)
                return np.matmul(y.T, x.T).T
            return np.matmul(x, y)
        if nx == 2 and ny == 2 and len(xc) == 1:
            a = x if xc == (1,) else x.T
            b = y if yc == (0,) else y.T
            return np.matmul(a, b)
    xf, yf = _free(nx, xc, xb), _free(ny, yc, yb)
    xt = x if xb + xf + xc == tuple(range(nx)) else x.transpose(xb + xf + xc)
    yt = y if yb + yc + yf == tuple(range(ny)) else y.transpose(yb + yc + yf)
    bshape = tuple(x.shape[i] for i in xb)
    m = math.prod(x.shape[i] for i in xf)
    n = math.prod(y.shape[i] for i in yf)
    k = math.prod(x.shape[i] for i in xc)
    if k == 1:  # outer products (per-example gradients): a broadcast multiply, ~3x faster than BLAS
        lead = (math.prod(bshape),) if xb else ()
        out = np.multiply(xt.reshape(lead + (m, 1)), yt.reshape(lead + (1, n)))
    elif xb:
        b = math.prod(bshape)
        out = np.matmul(xt.reshape(b, m, k), yt.reshape(b, k, n))
    else:
        out = np.matmul(xt.reshape(m, k), yt.reshape(k, n))
    return out.reshape(bshape + tuple(x.shape[i] for i in xf) + tuple(y.shape[i] for i in yf))


def _dot_shape(x, y, *, contract, batch):
    (xc, yc), (xb, yb) = contract, batch
    if len(xc) != len(yc) or len(xb) != len(yb) or any(x.shape[i] != y.shape[j] for i, j in zip(xc, yc)):
        raise shape_error("dot_general", [x, y],
                          f"contracting dimensions {xc} of the first and {yc} of the second do not match",
                          "make the summed-over dimensions equal (for a @ b: a.shape[-1] == b.shape[-2]); "
                          "transpose an operand if needed")
    if any(x.shape[i] != y.shape[j] for i, j in zip(xb, yb)):
        raise shape_error("dot_general", [x, y], f"batch dimensions {xb} and {yb} do not match",
                          "make the batch dimensions equal (or broadcast them first)")
    dt, weak = weak_result([x, y], promote_avals([x, y])[0])
    shape = (tuple(x.shape[i] for i in xb) + tuple(x.shape[i] for i in _free(x.ndim, xc, xb))
             + tuple(y.shape[i] for i in _free(y.ndim, yc, yb)))
    return aval(shape, dt, weak)


def _dot_lower(ctx, x, y, *, contract, batch):
    dt = ctx.avals_out[0].dtype
    return _bind_like(lax.dot_general, (_cast(x, dt), _cast(y, dt)), (contract, batch))


def dot_general(x, y, contract, batch=((), ())):
    c = (tuple(contract[0]), tuple(contract[1]))
    b = (tuple(batch[0]), tuple(batch[1]))
    return dot_general_p.bind(x, y, contract=c, batch=b)


def _dot_vjp(i, g, ans, x, y, *, contract, batch):
    """Cotangents of ``dot_general``: contract ``g`` with the other operand over the
    free dimensions, then permute into the operand's layout.  Both products come out
    in natural layout for plain matrix products (``g @ y.T`` and ``x.T @ g``)."""
    (xc, yc), (xb, yb) = contract, batch
    nx, ny = len(shape_of(x)), len(shape_of(y))
    xf, yf = _free(nx, xc, xb), _free(ny, yc, yb)
    nb = len(xb)
    g_batch = tuple(range(nb))
    g_xf = tuple(range(nb, nb + len(xf)))
    g_yf = tuple(range(nb + len(xf), nb + len(xf) + len(yf)))
    if i == 0:
        out = dot_general(g, y, (g_yf, yf), (g_batch, yb))   # (batch, x free, x contract by sorted yc)
        order = list(xb) + list(xf) + [xc[list(yc).index(c)] for c in sorted(yc)]
        return convert_element_type(transpose(out, tuple(np.argsort(order))), dtype_of(x))
    out = dot_general(x, g, (xf, g_xf), (xb, g_batch))       # (batch, y contract by sorted xc, y free)
    order = list(yb) + [yc[list(xc).index(c)] for c in sorted(xc)] + list(yf)
    return convert_element_type(transpose(out, tuple(np.argsort(order))), dtype_of(y))


def _dot_vjp_numpy(i, g, ans, x, y, *, contract, batch):
    """``_dot_vjp`` in NumPy for the products of dense layers: ``x (..., k) @ y (k, n)``,
    ``x (..., k) @ y (k,)`` and the 2-D products with either operand transposed (one BLAS
    call each, on transposed views); other layouts take ``_dot_vjp`` on NumPy values."""
    (xc, yc), (xb, _) = contract, batch
    nx, ny = x.ndim, y.ndim
    if xb or len(xc) != 1 or type(x) is not np.ndarray or type(y) is not np.ndarray:
        return _dot_vjp(i, g, ans, x, y, contract=contract, batch=batch)
    if xc[0] == nx - 1 and yc[0] == 0 and ny <= 2:          # x (..., k) @ y (k[, n])
        k = x.shape[-1]
        if i == 0:
            if ny == 1:
                ct = np.multiply.outer(g, y)
            elif g.size < 64 * g.shape[-1]:  # a few rows: (y @ g.T).T, which OpenBLAS runs twice as fast
                ct = np.matmul(y, g.T).T if nx == 2 else \
                    np.matmul(y, g.reshape(-1, g.shape[-1]).T).T.reshape(g.shape[:-1] + (k,))
            else:  # many rows: the column-major result would slow every elementwise rule after it
                ct = np.matmul(g, y.T)
        elif nx == 1:
            ct = np.multiply.outer(x, g) if ny == 2 else np.multiply(x, g)
        elif nx == 2:
            ct = np.matmul(x.T, g)
        else:  # sum over every leading dimension of x
            gm = g.reshape(-1, y.shape[1]) if ny == 2 else g.reshape(-1)
            ct = np.matmul(x.reshape(-1, k).T, gm)
    elif nx == 2 and ny == 2:
        a = x if xc[0] == 1 else x.T
        b = y if yc[0] == 0 else y.T
        if i == 0:
            ct = np.matmul(g, b.T)
            ct = ct if xc[0] == 1 else ct.T
        else:
            ct = np.matmul(a.T, g)
            ct = ct if yc[0] == 0 else ct.T
    else:
        return _dot_vjp(i, g, ans, x, y, contract=contract, batch=batch)
    dt = (x if i == 0 else y).dtype
    return ct if ct.dtype == dt else ct.astype(dt)


def _dot_jvp(primals, tangents, *, contract, batch):
    x, y = primals
    tx, ty = tangents
    ans = dot_general_p.bind(x, y, contract=contract, batch=batch)
    t = None
    if tx is not None:
        t = dot_general_p.bind(tx, y, contract=contract, batch=batch)
    if ty is not None:
        t2 = dot_general_p.bind(x, ty, contract=contract, batch=batch)
        t = t2 if t is None else add(t, t2)
    return ans, None if t is None else convert_element_type(t, dtype_of(ans))


dot_general_p.impl = _dot_impl
dot_general_p.shape = _dot_shape
dot_general_p.lower = _dot_lower
dot_general_p.jvp = _dot_jvp
defvjp_indexed(dot_general_p, _dot_vjp)
dot_general_p.vjp_numpy = _dot_vjp_numpy
dot_general_p.residuals = ("inputs",)  # each cotangent reads the other operand, never the output


# ----------------------------------------------------------------------------- helpers

def matrix_transpose(x):
    nd = len(shape_of(x))
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def batched_matmul(a, b):
    """``a @ b`` for stacks of matrices with equal batch dimensions."""
    nd = len(shape_of(a))
    batch = tuple(range(nd - 2))
    return dot_general(a, b, ((nd - 1,), (nd - 2,)), (batch, batch))


def eye_like(a):
    n = shape_of(a)[-1]
    return broadcast_in_dim(np.eye(n, dtype=dtype_of(a)), shape_of(a), (len(shape_of(a)) - 2, len(shape_of(a)) - 1))


def _check_square(op, a):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise shape_error(op, [a], "expects square matrices in the last two dimensions",
                          "pass an array of shape (..., n, n)")
    if a.dtype.kind != "f":
        from ._util import dtype_error
        raise dtype_error(op, [a], "expects floating-point matrices", "convert with .astype(float)")


# ----------------------------------------------------------------------------- solve

solve_p = Primitive("solve")
solve_p.impl = np.linalg.solve


def _solve_shape(a, b):
    _check_square("linalg.solve", a)
    if b.ndim != a.ndim or b.shape[:-1] != a.shape[:-1]:
        raise shape_error("linalg.solve", [a, b], "right-hand side does not match the matrix",
                          "pass b of shape (..., n, k) for a of shape (..., n, n)")
    dt, _ = promote_avals([a, b])
    return aval(b.shape, dt)


solve_p.shape = _solve_shape
solve_p.lower = lambda ctx, a, b: jnp.linalg.solve(jnp.asarray(a, ctx.avals_out[0].dtype),
                                                   jnp.asarray(b, ctx.avals_out[0].dtype))


def solve(a, b):
    return solve_p.bind(a, b)


def _solve_jvp(primals, tangents):
    a, b = primals
    ta, tb = tangents
    x = solve(a, b)
    rhs = None
    if tb is not None:
        rhs = tb
    if ta is not None:
        term = neg(batched_matmul(ta, x))
        rhs = term if rhs is None else add(rhs, term)
    return x, None if rhs is None else solve(a, rhs)


def _solve_vjp(i, g, x, a, b):
    ct_b = solve(matrix_transpose(a), g)
    if i == 1:
        return convert_element_type(ct_b, dtype_of(b))
    return convert_element_type(neg(batched_matmul(ct_b, matrix_transpose(x))), dtype_of(a))


solve_p.jvp = _solve_jvp
defvjp_indexed(solve_p, _solve_vjp)


# ----------------------------------------------------------------------------- cholesky

cholesky_p = Primitive("cholesky")
cholesky_p.impl = np.linalg.cholesky


def _chol_shape(a):
    _check_square("linalg.cholesky", a)
    return aval(a.shape, a.dtype)


def _phi(x):
    """Lower triangle with the diagonal halved."""
    n = shape_of(x)[-1]
    mask = np.tril(np.ones((n, n), dtype_of(x))) - 0.5 * np.eye(n, dtype=dtype_of(x))
    return mul(x, mask)


def _chol_jvp(primals, tangents):
    a, = primals
    L = cholesky_p.bind(a)
    ta = tangents[0]
    if ta is None:
        return L, None
    ta = mul(add(ta, matrix_transpose(ta)), 0.5)
    z = solve(L, ta)                          # L^-1 dA
    w = matrix_transpose(solve(L, matrix_transpose(z)))   # L^-1 dA L^-T
    return L, batched_matmul(L, _phi(w))


def _chol_vjp(g, L, a):
    p = _phi(batched_matmul(matrix_transpose(L), g))
    lt = matrix_transpose(L)
    y = solve(lt, p)                          # L^-T P
    s = matrix_transpose(solve(lt, matrix_transpose(y)))  # L^-T P L^-1
    return mul(add(s, matrix_transpose(s)), 0.5)


cholesky_p.shape = _chol_shape
cholesky_p.lower = lambda ctx, a: jnp.linalg.cholesky(a)
cholesky_p.jvp = _chol_jvp
defvjp(cholesky_p, _chol_vjp)
cholesky_p.residuals = ("ans",)  # the factor L only


def cholesky(a):
    return cholesky_p.bind(a)


# ----------------------------------------------------------------------------- slogdet

slogdet_p = Primitive("slogdet", multiple_results=True)
slogdet_p.impl = lambda a: tuple(np.linalg.slogdet(a))


def _slogdet_shape(a):
    _check_square("linalg.slogdet", a)
    return [aval(a.shape[:-2], a.dtype), aval(a.shape[:-2], a.dtype)]


def _slogdet_jvp(primals, tangents):
    a, = primals
    sign, logdet = slogdet_p.bind(a)
    ta = tangents[0]
    if ta is None:
        return [sign, logdet], [None, None]
    nd = len(shape_of(a))
    t = reduce_sum(mul(solve(a, ta), eye_like(a)), (nd - 2, nd - 1))
    return [sign, logdet], [None, t]


def _slogdet_vjp(g, ans, a):
    g_logdet = g[1]
    if g_logdet is None:
        return None
    nd = len(shape_of(a))
    inv_t = matrix_transpose(solve(a, eye_like(a)))
    return mul(broadcast_in_dim(g_logdet, shape_of(a), tuple(range(nd - 2))), inv_t)


slogdet_p.shape = _slogdet_shape
slogdet_p.lower = lambda ctx, a: list(jnp.linalg.slogdet(a))
slogdet_p.jvp = _slogdet_jvp
defvjp(slogdet_p, _slogdet_vjp)
slogdet_p.residuals = ("inputs",)


def slogdet(a):
    return slogdet_p.bind(a)


# ----------------------------------------------------------------------------- vmap

def _dot_batch(size, vals, dims, *, contract, batch):
    """A batched operand's batch dimension becomes its first free dimension (or, when
    both are batched, a new leading batch dimension of the product)."""
    from ._batching import move_to_front
    (xc, yc), (xb, yb) = contract, batch
    x, y = vals
    dx, dy = dims
    shift = lambda t: tuple(i + 1 for i in t)  # noqa: E731
    if dx is not None and dy is not None:
        x, y = move_to_front(x, dx, size), move_to_front(y, dy, size)
        return dot_general_p.bind(x, y, contract=(shift(xc), shift(yc)),
                                  batch=((0,) + shift(xb), (0,) + shift(yb))), 0
    if dx is not None:
        x = move_to_front(x, dx, size)
        return dot_general_p.bind(x, y, contract=(shift(xc), yc), batch=(shift(xb), yb)), len(xb)
    y = move_to_front(y, dy, size)
    nxf = len(np.shape(x)) - len(xc) - len(xb)
    return dot_general_p.bind(x, y, contract=(xc, shift(yc)), batch=(xb, shift(yb))), len(xb) + nxf


def _front_rule(prim):
    """Primitives already batched over leading dimensions: move the batch dimension first."""
    def rule(size, vals, dims):
        from ._batching import move_to_front
        out = prim.bind(*[move_to_front(v, d, size) for v, d in zip(vals, dims, strict=True)])
        return out, ([0] * len(out) if prim.multiple_results else 0)
    return rule


dot_general_p.batch = _dot_batch
solve_p.batch = _front_rule(solve_p)
cholesky_p.batch = _front_rule(cholesky_p)
slogdet_p.batch = _front_rule(slogdet_p)
