"""``Primitive``: one operation of the IR and the rules every transform needs of it.

A primitive is defined once, in its family module under ``funcgrad.primitives``,
with all of its rules side by side:

========== ==========================================================
``impl``   evaluate eagerly with NumPy
``shape``  abstract evaluation: input avals -> output aval(s)
``jvp``    forward mode: ``(primals, tangents, **params) -> (out, tangent_out)``
``vjp``    reverse mode, one rule per input: ``(g, ans, *inputs, **params) -> ct``
``lower``  XLA lowering: jax values in, jax values out
``batch``  vmap rule: ``(axis_size, values, batch_dims, **params) -> (out, out_dims)``
========== ==========================================================

Reverse mode has a second, whole-primitive form for primitives that choose their
own residuals or compute all cotangents at once (sub-programs, custom rules):
``vjp_fwd(*inputs, **params) -> (out, residuals)`` runs the forward pass, and
``vjp_bwd(needed, residuals, g, **params) -> cotangents`` returns one cotangent (or
None) per input, computing only those flagged in ``needed``.

``vjp_numpy(i, g, ans, *inputs, **params)``, where a primitive has it, is the VJP rule
for input ``i`` written in NumPy alone: the backward pass of an eager ``grad`` (every
value a NumPy array) calls it in place of the funcgrad-ops rule, which would compute
the same numbers through a dozen eager binds.  The funcgrad-ops rule stays the
definition (it is what traces, nests and lowers); tests compare the two.
"""
import numpy as np

from ..config import config
from .avals import canonical_array
from .trace import _NUMPY_ERRORS, Tracer, check_nans, eager_error, eager_fixup, leak_error

_SEQ = (list, tuple)
_SLOW = (Tracer, list, tuple)  # arguments that leave the eager fast path
_PY = (int, float, bool)
_NP_SCALARS = (np.float64, np.int64, np.bool_, np.float32)
_COMPLEX = (np.complex128, np.complex64)

REGISTRY = {}


class Primitive:
    __slots__ = ("name", "multiple_results", "effectful", "impl", "shape", "jvp", "vjps",
                 "lower", "batch", "nondiff", "residuals", "vjp_fwd", "vjp_bwd", "vjp_numpy", "__weakref__")

    def __init__(self, name, multiple_results=False, effectful=False, nondiff=False):
        self.name = name
        self.multiple_results = multiple_results
        self.effectful = effectful      # kept by dead-code elimination (debug_print)
        self.nondiff = nondiff          # outputs carry no derivative (comparisons, argmax)
        self.impl = self.shape = self.jvp = self.vjps = self.lower = self.batch = None
        self.vjp_fwd = self.vjp_bwd = self.vjp_numpy = None
        # What the VJP rules read: None (inputs and output), or a collection of "inputs"
        # (all of them), input positions (ints: only those inputs) and "ans" (the output);
        # reverse mode keeps only abstract values (shape, dtype) of the rest.  A rule that
        # reads an undeclared value computes garbage or fails: tests/test_primitive_rules.py
        # runs every op-table row's gradient with the undeclared values poisoned.
        self.residuals = None
        REGISTRY[name] = self

    def __repr__(self):
        return self.name

    def bind(self, *args, **params):
        """Apply the primitive: eagerly with NumPy, or through the innermost active trace.

        The eager path is the hot path of every op outside a transform, so it is
        written inline: no tracer among the arguments means call the NumPy rule."""
        for a in args:
            if isinstance(a, _SLOW):
                return self._bind_traced(args, params)
        try:
            out = self.impl(*args, **params)
        except _NUMPY_ERRORS as e:
            raise eager_error(self, args, params, e) from None
        t = type(out)
        if t is np.ndarray:
            kind = out.dtype.kind
            if kind == "c" or kind == "f" and type(args[0]) in _PY:
                out = eager_fixup(self, args, out)
        elif t in _NP_SCALARS and type(args[0]) in _PY:
            for a in args:  # Python scalars in, a weak Python scalar out (exact, no rounding)
                if type(a) not in _PY:
                    break
            else:
                out = out.item()
        elif t in _COMPLEX:
            out = eager_fixup(self, args, out)
        if config.debug_nans:
            check_nans(self, out)
        return out

    def _bind_traced(self, args, params):
        top = None
        for a in args:
            t = type(a)
            if t is list or t is tuple:
                return self.bind(*[canonical_array(x) if type(x) in _SEQ else x for x in args], **params)
            if isinstance(a, Tracer):
                trace = a._trace
                if top is None or trace.level > top.level:
                    top = trace
        if top.dead:
            raise leak_error(self, top)
        return top.process(self, args, params)

    def vjp_rule(self, i, g, ans, inputs, params):
        """Cotangent of input ``i`` given the output cotangent ``g`` (None means zero)."""
        vjps = self.vjps
        if type(vjps) is IndexedRule:
            return vjps.fn(i, g, ans, *inputs, **params)
        return vjps[i](g, ans, *inputs, **params)


class IndexedRule:
    """One VJP rule for every input of a primitive, called as ``fn(i, g, ans, *inputs)``."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


def defvjp(prim, *rules):
    """Attach reverse-mode rules, one per input: ``rule(g, ans, *inputs, **params) -> ct``."""
    prim.vjps = rules


def defvjp_indexed(prim, rule):
    """Attach one reverse-mode rule for all inputs: ``rule(i, g, ans, *inputs, **params)``."""
    prim.vjps = IndexedRule(rule)


def all_primitives():
    return dict(REGISTRY)


def is_float_value(x):
    """True for floating-point values (the ones that carry derivatives)."""
    if type(x) is float:
        return True
    dt = getattr(x, "dtype", None)
    return dt is not None and dt.kind == "f"
