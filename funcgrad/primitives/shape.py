"""Shape primitives: ``reshape``, ``broadcast_in_dim``, ``transpose``, ``concatenate``.

All are linear, so their JVP applies the primitive to the tangent and their VJP is
the transpose map (reshape back, sum over broadcast dims, inverse permutation,
slice the pieces).
"""
import math

import numpy as np
import jax.numpy as jnp
import jax.lax as lax

from ..core import staging as _staging
from ._lower import bind_like as _bind_like, cast as _cast
from ..core.primitive import Primitive, defvjp, defvjp_indexed
from ._util import aval, normalize_axes, shape_error, shape_of, weak_result


def _linear_jvp(prim):
    def jvp(primals, tangents, **params):
        return prim.bind(*primals, **params), (None if tangents[0] is None else prim.bind(tangents[0], **params))
    return jvp


# ----------------------------------------------------------------------------- reshape

reshape_p = Primitive("reshape")
reshape_p.impl = lambda x, *, shape: x.reshape(shape) if type(x) is np.ndarray else np.reshape(np.asarray(x), shape)


def _reshape_shape(x, *, shape):
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise shape_error("reshape", [x], f"cannot reshape {x.size} elements into shape {shape}",
                          "give a shape with the same number of elements (one dimension may be -1)")
    return x.update(shape=shape)


reshape_p.shape = _reshape_shape
reshape_p.lower = lambda ctx, x, *, shape: _bind_like(lax.reshape, (_cast(x, ctx.avals_out[0].dtype),),
                                                      tuple(shape))
reshape_p.jvp = _linear_jvp(reshape_p)
defvjp(reshape_p, lambda g, ans, x, *, shape: reshape(g, shape_of(x)))
reshape_p.vjp_numpy = lambda i, g, ans, x, *, shape: np.reshape(g, shape_of(x))


def reshape(x, shape):
    shape = tuple([d if type(d) is int else int(d) for d in shape])
    if -1 in shape:
        size = math.prod(shape_of(x))
        known = math.prod(d for d in shape if d != -1)
        if shape.count(-1) > 1 or known == 0 or size % known:
            from ..core.avals import get_aval
            raise shape_error("reshape", [get_aval(x)], f"cannot infer -1 in shape {shape}",
                              "use at most one -1 and a shape whose size divides the array's")
        shape = tuple(size // known if d == -1 else d for d in shape)
    if shape_of(x) == shape:
        return x
    return reshape_p.bind(x, shape=shape)


# ----------------------------------------------------------------------------- broadcast

broadcast_p = Primitive("broadcast_in_dim")


def _broadcast_impl(x, *, shape, dims):
    xs = np.shape(x)
    expanded = [1] * len(shape)
    for d, n in zip(dims, xs, strict=True):
        expanded[d] = n
    return np.broadcast_to(np.reshape(np.asarray(x), expanded), shape)


def _broadcast_shape(x, *, shape, dims):
    ok = len(dims) == x.ndim and all(n == 1 or n == shape[d] for n, d in zip(x.shape, dims))
    if not ok:
        raise shape_error("broadcast_in_dim", [x], f"cannot broadcast to shape {shape} with dims {dims}",
                          "each dimension must be 1 or equal to the target dimension")
    return x.update(shape=shape)


def _broadcast_vjp(g, ans, x, *, shape, dims):
    from .reductions import reduce_sum
    xs = shape_of(x)
    summed = tuple(i for i in range(len(shape)) if i not in dims)
    summed += tuple(d for d, n in zip(dims, xs) if n == 1 and shape[d] != 1)
    if summed:
        g = reduce_sum(g, tuple(sorted(summed)))
    return reshape(g, xs)


broadcast_p.impl = _broadcast_impl
_staging.BROADCAST = broadcast_p  # uniform constants are staged as broadcasts of a scalar
broadcast_p.shape = _broadcast_shape
broadcast_p.lower = lambda ctx, x, *, shape, dims: _bind_like(
    lax.broadcast_in_dim, (_cast(x, ctx.avals_out[0].dtype),), tuple(shape), tuple(dims))
broadcast_p.jvp = _linear_jvp(broadcast_p)
defvjp(broadcast_p, _broadcast_vjp)


def _broadcast_vjp_numpy(i, g, ans, x, *, shape, dims):
    xs = shape_of(x)
    summed = tuple(i for i in range(len(shape)) if i not in dims)
    summed += tuple(d for d, n in zip(dims, xs) if n == 1 and shape[d] != 1)
    if summed:
        g = np.add.reduce(g, axis=tuple(sorted(summed)))
    return np.reshape(g, xs)


broadcast_p.vjp_numpy = _broadcast_vjp_numpy


def broadcast_in_dim(x, shape, dims):
    shape, dims = tuple(shape), tuple(dims)
    if shape_of(x) == shape and dims == tuple(range(len(shape))):
        return x
    return broadcast_p.bind(x, shape=shape, dims=dims)


def broadcast_to(x, shape):
    """NumPy-style broadcast of ``x`` to ``shape`` (trailing alignment)."""
    shape = tuple(shape)
    xs = shape_of(x)
    if xs == shape:
        return x
    if len(xs) > len(shape):
        from ..core.avals import get_aval
        raise shape_error("broadcast_to", [get_aval(x)], f"cannot broadcast to the smaller rank shape {shape}",
                          "give a target shape with at least as many dimensions")
    return broadcast_in_dim(x, shape, tuple(range(len(shape) - len(xs), len(shape))))


# ----------------------------------------------------------------------------- transpose

transpose_p = Primitive("transpose")
transpose_p.impl = lambda x, *, perm: np.transpose(np.asarray(x), perm)


def _transpose_shape(x, *, perm):
    if sorted(perm) != list(range(x.ndim)):
        raise shape_error("transpose", [x], f"axes {perm} are not a permutation of {x.ndim} dimensions",
                          f"pass a permutation of range({x.ndim})")
    return x.update(shape=tuple(x.shape[p] for p in perm))


transpose_p.shape = _transpose_shape
transpose_p.lower = lambda ctx, x, *, perm: _bind_like(lax.transpose, (_cast(x, ctx.avals_out[0].dtype),),
                                                       tuple(perm))
transpose_p.jvp = _linear_jvp(transpose_p)
defvjp(transpose_p, lambda g, ans, x, *, perm: transpose(g, tuple(np.argsort(perm))))
transpose_p.vjp_numpy = lambda i, g, ans, x, *, perm: np.transpose(g, np.argsort(perm))


def transpose(x, perm):
    perm = tuple(int(p) for p in perm)
    if perm == tuple(range(len(perm))):
        return x
    return transpose_p.bind(x, perm=perm)


# ----------------------------------------------------------------------------- concatenate

concatenate_p = Primitive("concatenate")
concatenate_p.impl = lambda *xs, axis: np.concatenate(xs, axis)


def _concatenate_shape(*xs, axis):
    nd = xs[0].ndim
    if nd == 0:
        raise shape_error("concatenate", xs, "zero-dimensional arrays cannot be concatenated",
                          "use stack, or give the arrays at least one dimension")
    for x in xs:
        if x.ndim != nd or any(a != b for i, (a, b) in enumerate(zip(x.shape, xs[0].shape)) if i != axis):
            raise shape_error("concatenate", xs, f"shapes differ outside axis {axis}",
                              "make every dimension but the concatenation axis equal")
    from ..core.avals import promote_avals
    dt, weak = promote_avals(xs)
    dt, weak = weak_result(xs, dt)
    shape = list(xs[0].shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return aval(tuple(shape), dt, weak)


def _concatenate_vjp(i, g, ans, *xs, axis):
    from .indexing import slice_axis
    start = sum(shape_of(x)[axis] for x in xs[:i])
    return slice_axis(g, axis, start, start + shape_of(xs[i])[axis])


def _concatenate_jvp(primals, tangents, *, axis):
    from .elementwise import convert_element_type
    from ._util import dtype_of
    ans = concatenate_p.bind(*primals, axis=axis)
    if all(t is None for t in tangents):
        return ans, None
    dt = dtype_of(ans)
    ts = [np.zeros(shape_of(p), dt) if t is None else convert_element_type(t, dt)
          for p, t in zip(primals, tangents, strict=True)]
    return ans, concatenate_p.bind(*ts, axis=axis)


concatenate_p.shape = _concatenate_shape
concatenate_p.lower = lambda ctx, *xs, axis: jnp.concatenate(
    [jnp.asarray(x, ctx.avals_out[0].dtype) for x in xs], axis)
concatenate_p.jvp = _concatenate_jvp
defvjp_indexed(concatenate_p, _concatenate_vjp)


def concatenate(xs, axis):
    xs = list(xs)
    nd = len(shape_of(xs[0]))
    (axis,) = normalize_axes("concatenate", (axis,), nd)
    if len(xs) == 1:
        return xs[0]
    return concatenate_p.bind(*xs, axis=axis)


# VJPs of these linear maps read only shapes and dtypes.
reshape_p.residuals = ()
broadcast_p.residuals = ()
transpose_p.residuals = ()
concatenate_p.residuals = ()


# ----------------------------------------------------------------------------- vmap

def _front(size, vals, dims):
    from ._batching import move_to_front
    return [move_to_front(v, d, size) for v, d in zip(vals, dims, strict=True)]


reshape_p.batch = lambda size, vals, dims, *, shape: (
    reshape_p.bind(_front(size, vals, dims)[0], shape=(size,) + tuple(shape)), 0)
broadcast_p.batch = lambda size, vals, bdims, *, shape, dims: (
    broadcast_p.bind(_front(size, vals, bdims)[0], shape=(size,) + tuple(shape),
                     dims=(0,) + tuple(d + 1 for d in dims)), 0)
transpose_p.batch = lambda size, vals, dims, *, perm: (
    transpose_p.bind(_front(size, vals, dims)[0], perm=(0,) + tuple(p + 1 for p in perm)), 0)
concatenate_p.batch = lambda size, vals, dims, *, axis: (
    concatenate_p.bind(*_front(size, vals, dims), axis=axis + 1), 0)
