"""Sorting: ``sort`` (stable, along one axis) and ``argsort`` (no derivative).

The VJP of ``sort`` sends each cotangent back to where its element came from:
a scatter-add at the ``argsort`` positions.
"""
import numpy as np
import jax.numpy as jnp

from ..core.primitive import Primitive, defvjp
from ._util import aval, dtype_of, shape_of
from .indexing import gather, scatter

sort_p = Primitive("sort")
sort_p.impl = lambda x, *, axis: np.sort(np.asarray(x), axis=axis, kind="stable")
sort_p.shape = lambda x, *, axis: aval(x.shape, x.dtype, x.weak_type)
sort_p.lower = lambda ctx, x, *, axis: jnp.sort(x, axis=axis, stable=True)

argsort_p = Primitive("argsort", nondiff=True)
argsort_p.impl = lambda x, *, axis: np.argsort(np.asarray(x), axis=axis, kind="stable")
argsort_p.shape = lambda x, *, axis: aval(x.shape, np.int64)
argsort_p.lower = lambda ctx, x, *, axis: jnp.asarray(jnp.argsort(x, axis=axis, stable=True), np.int64)
argsort_p.jvp = lambda primals, tangents, *, axis: (argsort_p.bind(primals[0], axis=axis), None)
defvjp(argsort_p, lambda g, ans, x, *, axis: None)


def sort(x, axis):
    return sort_p.bind(x, axis=axis)


def argsort(x, axis):
    return argsort_p.bind(x, axis=axis)


def _along_axis_index(idx, shape, axis):
    """Index arrays and spec that pick ``idx`` along ``axis`` and everything elsewhere."""
    nd = len(shape)
    arrays, spec = [], []
    for d in range(nd):
        if d == axis:
            arrays.append(idx)
        else:
            r = [1] * nd
            r[d] = shape[d]
            arrays.append(np.arange(shape[d]).reshape(r))
        spec.append(("array", d))
    return arrays, spec


def take_along_axis(x, idx, axis):
    arrays, spec = _along_axis_index(idx, shape_of(idx), axis)
    return gather(x, arrays, spec)


def put_along_axis_add(target, idx, values, axis):
    arrays, spec = _along_axis_index(idx, shape_of(idx), axis)
    return scatter(target, values, arrays, spec, "add")


def _sort_jvp(primals, tangents, *, axis):
    x, = primals
    ans = sort_p.bind(x, axis=axis)
    if tangents[0] is None:
        return ans, None
    return ans, take_along_axis(tangents[0], argsort(x, axis), axis)


def _sort_vjp(g, ans, x, *, axis):
    zeros = np.zeros(shape_of(x), dtype_of(g))
    return put_along_axis_add(zeros, argsort(x, axis), g, axis)


sort_p.jvp = _sort_jvp
defvjp(sort_p, _sort_vjp)
sort_p.residuals = ("inputs",)  # the permutation is argsort(x)


# ----------------------------------------------------------------------------- vmap

def _batch_sort(prim):
    def rule(size, vals, dims, *, axis):
        from ._batching import move_to_front
        return prim.bind(move_to_front(vals[0], dims[0], size), axis=axis + 1), 0
    return rule


sort_p.batch = _batch_sort(sort_p)
argsort_p.batch = _batch_sort(argsort_p)
