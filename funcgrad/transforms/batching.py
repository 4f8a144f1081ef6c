"""``vmap``: a :class:`BatchTracer` carries a value with one extra *batch dimension*
(``bdim``, or None for a value that is the same across the batch).

Each primitive's ``batch`` rule maps ``(values, bdims, **params)`` to
``(out, out_bdim)``.  A primitive without one is batched by a loop over the batch
(:func:`loop_rule`): always correct, just not vectorised, so every primitive works
under ``vmap`` from the start and a rule is only ever an optimisation.
"""

from ..core.avals import get_aval
from ..core.trace import Trace, Tracer, concretization_error, new_trace
from ..primitives._batching import elementwise_rule, loop_rule, move_to_front  # noqa: F401 (rule helpers)


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace, val, bdim):
        self._trace, self.val, self.bdim = trace, val, bdim

    @property
    def aval(self):
        a = get_aval(self.val)
        if self.bdim is None:
            return a
        return a.update(shape=a.shape[:self.bdim] + a.shape[self.bdim + 1:])

    def parts(self):
        return self.val, self.bdim


class BatchTrace(Trace):
    __slots__ = ("axis_size", "fun_name")

    def __init__(self, axis_size, fun_name=None):
        self.axis_size, self.fun_name = axis_size, fun_name

    def process(self, prim, args, params):
        vals, dims = self.unpack(args)
        if all(d is None for d in dims):
            return prim.bind(*vals, **params)
        rule = prim.batch or loop_rule(prim)
        out, out_dim = rule(self.axis_size, vals, dims, **params)
        if prim.multiple_results:
            return [o if d is None else BatchTracer(self, o, d) for o, d in zip(out, out_dim, strict=True)]
        return out if out_dim is None else BatchTracer(self, out, out_dim)

    def concrete(self, tracer, what):
        raise concretization_error(what, f"batched by vmap with shape {tracer.aval.str_short()}", self.fun_name)


def vmap_flat(fun, args, in_dims, size, fun_name=None, origin=None):
    """Run ``fun`` (flat -> flat) on batched ``args``; returns ``(outs, out_dims)``."""
    with new_trace(BatchTrace, size, fun_name, origin=origin) as trace:
        ins = [a if d is None else BatchTracer(trace, a, d) for a, d in zip(args, in_dims, strict=True)]
        return trace.unpack(fun(*ins))


def vmap_ir(ir, dims, size, batch_all=False):
    """The batched program: ``(ir', out_dims)`` where ``ir'`` takes the inputs with a
    batch dimension of ``size`` at ``dims[i]`` (None: unbatched) and returns each
    output batched at dimension 0, or unbatched where ``out_dims`` says None (with
    ``batch_all``, every output is batched, as the user's batched rules give them).
    Cached on ``ir`` per ``(dims, size, batch_all)``."""
    from ..core.ir import derived_cache, eval_ir
    from ..core.staging import stage
    cache = derived_cache(ir)
    key = ("vmap", tuple(dims), size, batch_all)
    hit = cache.get(key)
    if hit is not None:
        return hit
    out_dims = []

    def program(*args):
        outs, odims = vmap_flat(lambda *xs: eval_ir(ir, *xs), list(args), list(dims), size)
        out_dims[:] = [None if d is None and not batch_all else 0 for d in odims]
        return [o if d is None and not batch_all else move_to_front(o, d, size)
                for o, d in zip(outs, odims, strict=True)]

    avals = [a if d is None else a.update(shape=a.shape[:d] + (size,) + a.shape[d:])
             for a, d in zip(ir.in_avals, dims, strict=True)]
    cache[key] = hit = (stage(program, avals), tuple(out_dims))
    return hit
