"""Lowering: an IR evaluated on jax values with each primitive's ``lower`` rule,
inside a ``jax.jit`` trace, becomes one XLA program.

This module is funcgrad's door to jax for programs: ``lower_ir`` (used by ``jit``
and by primitives that hold sub-programs), ``compiled`` (a cached executable for an
IR, so a sub-program called eagerly runs compiled) and ``x64`` (jax's 64-bit mode,
entered per call so float64 stays float64 without touching the user's jax config).
"""
import jax
import jax.numpy as jnp
import numpy as np

from ..core.avals import ShapedArray

from ..core.ir import Literal
from ..core.trace import Tracer

try:  # jax >= 0.6 has it at the top level; older releases only in jax.experimental
    x64 = jax.enable_x64
except AttributeError:  # pragma: no cover
    from jax.experimental import enable_x64 as x64


_NARROW_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float16)))


class LowerCtx:
    """What a lowering rule may know besides its operands: their avals and the results',
    and ``consts``, the lowering's cache of constants (see ``_lower.scalar``)."""

    __slots__ = ("avals_in", "avals_out", "consts")

    def __init__(self, avals_in, avals_out, consts=None):
        self.avals_in, self.avals_out = avals_in, avals_out
        self.consts = {} if consts is None else consts


class Inline(Exception):
    """The program closes over values of an enclosing funcgrad transform."""


def lower_ir(ir, args):
    """Evaluate ``ir`` on jax values with the primitives' lowering rules."""
    env = dict(zip(ir.in_vars, args, strict=True))
    for v, c in zip(ir.const_vars, ir.consts, strict=True):
        if isinstance(c, Tracer):
            raise Inline()
        env[v] = c

    # The loop below is the per-equation cost of lowering: one pass over the inputs
    # (a literal is its value), one context, the rule, and a dtype check of the result.
    consts = {}  # this lowering's shared constants: its jax values belong to this trace only
    for eqn in ir.eqns:
        inputs, outputs = eqn.inputs, eqn.outputs
        vals = [x.val if type(x) is Literal else env[x] for x in inputs]
        prim = eqn.prim
        if prim.multiple_results:
            out = prim.lower(LowerCtx([x.aval for x in inputs], [v.aval for v in outputs], consts),
                             *vals, **eqn.params)
            for v, o in zip(outputs, out, strict=True):
                if o.dtype != v.aval.dtype:
                    o = o.astype(v.aval.dtype)
                env[v] = o
        else:
            v = outputs[0]
            a = v.aval
            if a.weak_type and a.dtype in _NARROW_FLOATS:
                # Arithmetic on weak values alone (a loop index times a Python float) is exact
                # eagerly, where they are Python numbers: compute it in float64 here too; the
                # value takes its own dtype where it meets an array, or leaves the program.
                a = ShapedArray(a.shape, np.float64, True)
            out = prim.lower(LowerCtx([x.aval for x in inputs], [a], consts), *vals, **eqn.params)
            if out.dtype != a.dtype:
                out = out.astype(a.dtype)
            env[v] = out
    return [_out(x.val if type(x) is Literal else env[x], x.aval.dtype) for x in ir.outs]


def _out(x, dt):
    """An output as a jax value of the IR's dtype (``jnp.asarray`` only where it is not one)."""
    if isinstance(x, jax.Array) and x.dtype == dt and not x.weak_type:  # already one: as it is
        return x
    return jnp.asarray(x, dt)


def compiled(ir, name="subprogram"):
    """A compiled executable of ``ir`` (flat jax/NumPy arrays in, a list of
    ``jax.Array`` out), made once and kept on the IR."""
    run = getattr(ir, "_compiled", None)
    if run is None:
        def program(*args):
            return lower_ir(ir, args)
        program.__name__ = name
        jitted = jax.jit(program)

        def run(*args):
            with x64(True):
                return jitted(*args)
        ir._compiled = run
    return run


def _index_jax_arrays_with_tracers():
    """Let a jax array (a ``jit`` result) be indexed by a funcgrad tracer, as a
    funcgrad array can: ``table[i]`` inside ``jit``/``vmap`` becomes a gather of the
    constant ``table``.  Python gives the index no say in ``table[i]``, so jax's array
    type gets a ``__getitem__`` that hands traced indices to funcgrad and everything
    else to jax unchanged."""
    array_type = type(jnp.zeros(()))
    jax_getitem = array_type.__getitem__
    if getattr(jax_getitem, "_funcgrad", False):
        return

    def __getitem__(self, idx):
        if isinstance(idx, Tracer) or (type(idx) is tuple and any(isinstance(i, Tracer) for i in idx)):
            from ..numpy._indexing import getitem
            return getitem(self, idx)
        return jax_getitem(self, idx)

    __getitem__._funcgrad = True
    array_type.__getitem__ = __getitem__


_index_jax_arrays_with_tracers()
