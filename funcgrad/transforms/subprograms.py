"""Rules shared by primitives that hold a sub-program (``jit_call``, ``remat``,
``custom_jvp_call``, ``custom_vjp_call``; control flow next).

Such a primitive's ``ir`` parameter is a *closed* program (see
:func:`funcgrad.core.staging.stage_closed`): every value it reads is one of its
inputs or a concrete constant, so each transform sees all of its inputs.  A rule
recurses into the sub-program with the program-to-program transforms
(``jvp_ir``, ``vjp_ir``, ``vmap_ir``) and binds the same primitive on the result:
the transformed call stays one call (``vmap(jit(f))`` stays compiled).
"""
import numpy as np

from ..core.avals import get_aval
from ..core.ir import eval_ir
from ..errors import ShapeError, user_location
from .batching import move_to_front, vmap_ir
from .jvp import jvp_ir
from .lowering import lower_ir
from .reverse import vjp_ir


def zeros_like_aval(a):
    return np.zeros(a.shape, a.dtype)


def instantiate(cts, avals):
    """Cotangents (or tangents) with zeros of the right type in place of None."""
    return [zeros_like_aval(a) if c is None else c for c, a in zip(cts, avals, strict=True)]


def sub_shape(name):
    """Shape rule: the inputs must have the sub-program's input types; the outputs
    are its output types."""
    def rule(*avals, ir, **params):
        want = ir.in_avals
        if len(avals) != len(want):
            raise ShapeError(f"{name}: {len(avals)} operands for a sub-program of {len(want)} inputs "
                             f"(at {user_location()}).")
        for k, (a, w) in enumerate(zip(avals, want, strict=True)):
            if a.shape != w.shape or (a.dtype != w.dtype and not a.weak_type):
                raise ShapeError(f"{name}: operand {k} is {a.str_short()} where the sub-program takes "
                                 f"{w.str_short()} (at {user_location()}).")
        return list(ir.out_avals)
    return rule


def sub_impl(*args, ir, **params):
    """Eagerly: run the sub-program with NumPy, equation by equation."""
    return eval_ir(ir, *args)


def sub_lower(ctx, *args, ir, **params):
    """Under ``jit``: the sub-program's equations go into the enclosing XLA program."""
    return lower_ir(ir, args)


def call_jvp(prim):
    """JVP of a call: bind ``prim`` on the JVP of its sub-program."""
    def rule(primals, tangents, *, ir, **params):
        nonzero = [t is not None for t in tangents]
        jir, out_nonzero = jvp_ir(ir, nonzero)
        outs = prim.bind(*primals, *[t for t in tangents if t is not None], ir=jir, **params)
        n = len(ir.outs)
        rest = iter(outs[n:])
        return list(outs[:n]), [next(rest) if nz else None for nz in out_nonzero]
    return rule


def call_batch(prim):
    """vmap of a call: bind ``prim`` on the batched sub-program."""
    def rule(size, vals, dims, *, ir, **params):
        bir, out_dims = vmap_ir(ir, dims, size)
        return prim.bind(*vals, ir=bir, **params), list(out_dims)
    return rule


def call_vjp_bwd(prim):
    """Reverse mode of a call whose residuals are its inputs: bind ``prim`` on the VJP
    of its sub-program (which recomputes the forward pass)."""
    def bwd(needed, residuals, g, *, ir, **params):
        float_out = [a for a in ir.out_avals if a.dtype.kind == "f"]
        cts = instantiate([c for c, a in zip(g, ir.out_avals, strict=True) if a.dtype.kind == "f"], float_out)
        vir = vjp_ir(ir, needed)
        got = iter(prim.bind(*residuals, *cts, ir=vir, **params))
        return [next(got) if nd else None for nd in needed]
    return bwd


def call_vjp_fwd(prim):
    def fwd(*inputs, **params):
        return prim.bind(*inputs, **params), list(inputs)
    return fwd


def batched_function(fun, dims, size):
    """``fun`` (flat -> flat) vmapped over ``dims`` with every output batched at 0."""
    from .batching import vmap_flat

    def batched(*xs):
        outs, odims = vmap_flat(fun, list(xs), list(dims), size)
        return [move_to_front(o, d, size) for o, d in zip(outs, odims, strict=True)]
    return batched


def fronted(vals, dims, size):
    """Batched values with their batch dimension first (unbatched ones stay)."""
    return ([v if d is None else move_to_front(v, d, size) for v, d in zip(vals, dims, strict=True)],
            [None if d is None else 0 for d in dims])


def cast_like(x, ref):
    """``x`` in the dtype of ``ref`` (a value or an aval): tangents and cotangents
    have their primal's dtype."""
    from ..primitives.elementwise import convert_element_type
    want = ref.dtype if hasattr(ref, "weak_type") else get_aval(ref).dtype
    return x if x is None or get_aval(x).dtype == want else convert_element_type(x, want)
