"""Forward mode: a :class:`JVPTracer` carries a primal and its tangent.

Each primitive's ``jvp`` rule maps ``(primals, tangents)`` to ``(out, tangent_out)``;
a tangent of ``None`` is a symbolic zero, so untouched inputs cost nothing.
Results whose tangent is zero are returned as plain values.
"""
from ..core.avals import get_aval
from ..core.trace import Trace, Tracer, new_trace


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace, self.primal, self.tangent = trace, primal, tangent

    @property
    def aval(self):
        return get_aval(self.primal)

    shape = property(lambda self: self.primal.shape if hasattr(self.primal, "shape") else ())

    def parts(self):
        return self.primal, self.tangent
    dtype = property(lambda self: get_aval(self.primal).dtype)


class JVPTrace(Trace):
    __slots__ = ()

    def process(self, prim, args, params):
        primals, tangents = self.unpack(args)
        if prim.nondiff or all(t is None for t in tangents):
            return prim.bind(*primals, **params)
        out, tout = prim.jvp(primals, tangents, **params)
        if prim.multiple_results:
            return [o if t is None else JVPTracer(self, o, t) for o, t in zip(out, tout, strict=True)]
        return out if tout is None else JVPTracer(self, out, tout)

    def concrete(self, tracer, what):
        p = tracer.primal
        return p._concrete(what) if isinstance(p, Tracer) else p


def jvp_flat(fun, primals, tangents, origin=None):
    """Run ``fun`` (flat -> flat) on primals with tangents; return (outs, out_tangents).

    Output tangents that are symbolically zero come back as ``None``.
    """
    with new_trace(JVPTrace, origin=origin) as trace:
        ins = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents, strict=True)]
        return trace.unpack(fun(*ins))


def jvp_ir(ir, nonzero):
    """The JVP of a program: ``(ir', out_nonzero)`` where ``ir'`` takes the primals and
    the tangents of the inputs flagged in ``nonzero`` and returns the outputs followed
    by the tangents of the outputs flagged in ``out_nonzero`` (the others are zero).
    Cached on ``ir`` per ``nonzero``."""
    from ..core.ir import derived_cache, eval_ir
    from ..core.staging import stage
    cache = derived_cache(ir)
    key = ("jvp", tuple(nonzero))
    hit = cache.get(key)
    if hit is not None:
        return hit
    n = len(ir.in_vars)
    out_nonzero = []

    def program(*args):
        rest = iter(args[n:])
        tangents = [next(rest) if nz else None for nz in nonzero]
        outs, touts = jvp_flat(lambda *xs: eval_ir(ir, *xs), list(args[:n]), tangents)
        out_nonzero[:] = [t is not None for t in touts]
        return list(outs) + [t for t in touts if t is not None]

    avals = ir.in_avals + [a.update(weak_type=False) for a, nz in zip(ir.in_avals, nonzero, strict=True) if nz]
    cache[key] = hit = (stage(program, avals), tuple(out_nonzero))
    return hit
