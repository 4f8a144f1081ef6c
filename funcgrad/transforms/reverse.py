"""Reverse mode on a lean tape.

Under ``vjp``, each primitive is evaluated at once (one level down: NumPy when
eager, the next transform otherwise) and records one :class:`Node`: the primitive,
its parameters, its inputs and its output.  The backward pass walks the nodes in
reverse topological order and calls each primitive's VJP rules.  The rules are
written in funcgrad ops, so the backward pass is itself traceable: that gives
higher-order derivatives, ``make_ir(grad(f))`` and ``jit(grad(f))`` with no
further machinery.  Python control flow on concrete values works because the
forward pass runs on real values.

Only inputs that lead to a differentiated input get a cotangent: a VJP rule is
called only for node inputs that are themselves on the tape.  A node keeps only the
residuals its VJP rules read (``Primitive.residuals``): ``exp`` keeps its output,
``add`` and ``reshape`` keep no values at all, only shapes and dtypes.  A node links
to its parents by ``(node, index)``, never by their tracers (a tracer holds its primal,
which would keep every intermediate value alive).  When the backward pass runs only
once (``grad``, ``value_and_grad``, the VJP program of a sub-program), it frees each
node's residuals as soon as its VJP has run; a ``vjp`` closure, which may be called
again, keeps them.

A node whose forward ran on NumPy values (an eager ``grad``) is marked ``host``; when
its cotangent is a NumPy array too, the backward pass calls the primitive's
``vjp_numpy`` rule where it has one (the same numbers, without the eager binds of
the funcgrad-ops rule).
"""
import numpy as np

from ..config import config
from ..core.avals import ShapedArray, get_aval
from ..core.primitive import is_float_value
from ..core.staging import no_full_gc
from ..core.trace import Trace, Tracer, new_trace
from ..numpy._array import Array


class Node:
    """One recorded primitive application (or an input, with ``prim`` None).

    ``parents`` holds one ``(node, index)`` per input on the tape (None otherwise);
    ``inputs`` and ``out`` are the residuals (abstract values where not needed)."""

    __slots__ = ("prim", "params", "inputs", "parents", "out", "host")

    def __init__(self, prim, params, inputs, parents, out, host=False):
        self.prim, self.params, self.inputs, self.parents, self.out = prim, params, inputs, parents, out
        self.host = host  # computed on NumPy values: ``prim.vjp_numpy`` may run the backward step


class ReverseTracer(Tracer):
    __slots__ = ("primal", "node", "index", "link")

    def __init__(self, trace, primal, node, index):
        self._trace, self.primal, self.node, self.index = trace, primal, node, index
        self.link = (node, index)  # what a consumer's node keeps: never the tracer (it holds the primal)

    @property
    def aval(self):
        return get_aval(self.primal)

    shape = property(lambda self: self.primal.shape if hasattr(self.primal, "shape") else ())

    @property
    def dtype(self):
        p = self.primal
        return p.dtype if type(p) in _HOST else get_aval(p).dtype


class ReverseTrace(Trace):
    """Records a :class:`Node` per differentiable primitive application, in order: the
    tape.  Creation order is a topological order, so the backward pass walks the tape
    from its end."""

    __slots__ = ("tape",)

    def __init__(self):
        self.tape = []

    def process(self, prim, args, params):
        if prim.nondiff:  # comparisons, argmax: no node, no derivative
            return prim.bind(*[a.primal if type(a) is ReverseTracer and a._trace is self else a for a in args],
                             **params)
        inputs, parents, any_parent, host = [], [], False, True
        for a in args:
            if type(a) is ReverseTracer and a._trace is self:
                a, link = a.primal, a.link
                parents.append(link)
                any_parent = True
            else:
                parents.append(None)
            inputs.append(a)
            if type(a) not in _HOST_IN:
                host = False
        if prim.vjp_fwd is not None:
            if not any_parent:
                return prim.bind(*inputs, **params)
            out, residuals = prim.vjp_fwd(*inputs, **params)
            node = Node(prim, params, residuals, parents, out)
            self.tape.append(node)
            return [ReverseTracer(self, o, node, i) if is_float_value(o) else o for i, o in enumerate(out)]
        out = prim.bind(*inputs, **params)
        if not any_parent:
            return out
        keep = prim.residuals
        host = host and prim.vjp_numpy is not None and type(out) in _HOST
        if keep is None:
            node = Node(prim, params, inputs, parents, out, host)
        else:  # drop what the VJP rules never read; keep only its shape and dtype
            if "inputs" not in keep:
                kept = [_shape_only(x) for x in inputs]
                for i in keep:
                    if type(i) is int:  # a chosen input; a large mask is kept as bits
                        x = inputs[i]
                        if isinstance(x, np.ndarray) and x.dtype == np.bool_ and x.size >= _PACK_MIN:
                            x = _Bits(x)
                            kept = _Packed(kept)
                        kept[i] = x
                inputs = kept
            node = Node(prim, params, inputs, parents, out if "ans" in keep else _shape_only(out), host)
        if prim.multiple_results:
            self.tape.append(node)
            return [ReverseTracer(self, o, node, i) if is_float_value(o) else o for i, o in enumerate(out)]
        t = type(out)
        if t is np.ndarray or t is np.float32 or t is np.float64:
            if out.dtype.kind != "f":
                return out
        elif not is_float_value(out):
            return out
        self.tape.append(node)
        return ReverseTracer(self, out, node, 0)

    def concrete(self, tracer, what):
        p = tracer.primal
        return p._concrete(what) if isinstance(p, Tracer) else p


_PACK_MIN = 1 << 12  # masks of at least this many elements are kept as bits
_HOST = frozenset((np.ndarray, Array, np.float32, np.float64, np.float16))  # eager results (else a tracer)
_HOST_IN = _HOST | {int, float, bool, np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                    np.uint32, np.uint64}  # NumPy inputs (not jax arrays, which NumPy would hand to jax)


class _Bits:
    """A boolean array kept as ``np.packbits`` (an eighth of the bytes): ``where``'s and
    ``relu``'s predicate, the one residual of their VJP."""

    __slots__ = ("bits", "shape")

    def __init__(self, x):
        self.bits, self.shape = np.packbits(x, axis=None), x.shape

    def unpack(self):
        n = int(np.prod(self.shape, dtype=np.int64))
        return np.unpackbits(self.bits, count=n).view(np.bool_).reshape(self.shape)


class _Packed(list):
    """Node inputs of which some are :class:`_Bits`."""

    __slots__ = ()

    def unpack(self):
        return [x.unpack() if type(x) is _Bits else x for x in self]


_new_aval = object.__new__


def _shape_only(x):
    """An array's abstract value in place of its data (scalars are cheaper kept)."""
    if type(x) is np.ndarray and x.ndim:
        a = _new_aval(ShapedArray)  # the fields are already a tuple and a dtype
        a.shape, a.dtype, a.weak_type = x.shape, x.dtype, False
        return a
    if type(x) is list:  # the outputs of a multiple-results primitive
        return [_shape_only(o) for o in x]
    return x


def _accumulate(cts, link, ct):
    """Add ``ct`` to the cotangent of output ``index`` of ``node`` (``link = (node, index)``);
    the key is the node itself for its first output."""
    key = link[0] if link[1] == 0 else link
    prev = cts.get(key)
    cts[key] = ct if prev is None else _add(prev, ct)


_ADD_NUMPY = frozenset((np.ndarray, np.float32, np.float64))


def _add(x, y):
    t = type(x)
    if t is type(y) and t in _ADD_NUMPY and x.shape == y.shape and x.dtype == y.dtype and not config.debug_nans:
        return x + y  # cotangents of one value: same shape and dtype, nothing to promote
    from ..primitives.elementwise import add_p
    return add_p.bind(x, y)


def backward(tape, out_tracers, out_cts, in_tracers, free=False):
    """Cotangents of ``in_tracers`` (None where zero) given cotangents of ``out_tracers``.

    The tape is walked from its end; a node whose outputs got no cotangent is skipped.
    ``free=True`` (the tape is walked only once) drops each node's residuals as soon
    as its VJP has run (or is skipped), so that the peak memory of the backward pass is
    what is still to be differentiated, not the whole tape.  Cotangents are dropped as
    they are consumed either way."""
    cts = {}
    for t, ct in zip(out_tracers, out_cts, strict=True):
        if t is not None and ct is not None:
            _accumulate(cts, t.link, ct)
    numpy_rules = not config.debug_nans  # debug_nans checks every eager bind: keep the binds
    for k in range(len(tape) - 1, -1, -1):
        if not cts:
            break
        node = tape[k]
        prim = node.prim
        if prim.multiple_results:
            g = tuple(cts.pop(node if i == 0 else (node, i), None) for i in range(len(node.out)))
            if all(x is None for x in g):
                if free:
                    node.inputs = node.out = None
                continue
        else:
            g = cts.pop(node, None)
            if g is None:
                if free:
                    node.inputs = node.out = None
                continue
        parents, inputs, out = node.parents, node.inputs, node.out
        if free:
            node.inputs = node.out = None
        if type(inputs) is _Packed:
            inputs = inputs.unpack()
        if prim.vjp_bwd is not None:  # one rule for all inputs, on the residuals it chose
            needed = [p is not None for p in parents]
            all_cts = prim.vjp_bwd(needed, inputs, g, **node.params)
            del inputs, out, g
            for parent, ct in zip(parents, all_cts, strict=True):
                if parent is not None and ct is not None:
                    _accumulate(cts, parent, ct)
            del all_cts
            continue
        fast = prim.vjp_numpy if node.host and numpy_rules and type(g) in _HOST else None
        for i, parent in enumerate(parents):
            if parent is None:
                continue
            if fast is not None:
                ct = fast(i, g, out, *inputs, **node.params)
            else:
                ct = prim.vjp_rule(i, g, out, inputs, node.params)
            if ct is not None:
                _accumulate(cts, parent, ct)
            del ct
        del inputs, out, g
    return [cts.get(t.node) for t in in_tracers]


def vjp_flat(fun, primals, origin=None):
    """Run ``fun`` (flat -> flat) on the tape.

    Returns ``(outs, backward_fn)`` where ``backward_fn(out_cts, free=False)`` gives
    the input cotangents (None where zero).  ``free=True`` promises that this is the
    only call: the tape's residuals are freed as the backward pass consumes them, and
    a second call raises.
    """
    # The tape is many small objects that live until the backward pass: without a guard
    # they would set off full garbage collections, each walking the user's whole heap.
    with no_full_gc(), new_trace(ReverseTrace, origin=origin) as trace:
        ins = [ReverseTracer(trace, p, Node(None, None, None, None, p), 0) for p in primals]
        outs = fun(*ins)
        tape = trace.tape
        out_tracers, out_vals = [], []
        for o in outs:
            if isinstance(o, ReverseTracer) and o._trace is trace:
                out_tracers.append(o)
                out_vals.append(o.primal)
            else:
                out_tracers.append(None)
                out_vals.append(o)

    state = [False]  # freed

    def backward_fn(out_cts, free=False):
        if state[0]:
            raise RuntimeError("funcgrad internal error: a backward pass that freed its tape ran again")
        state[0] = free
        with no_full_gc():
            return backward(tape, out_tracers, out_cts, ins, free)

    return out_vals, backward_fn


def vjp_ir(ir, needed):
    """The VJP of a program: ``ir'`` takes the primals and one cotangent per
    floating-point output, and returns the cotangents of the inputs flagged in
    ``needed`` (zeros where none flows).  The forward pass is recomputed inside
    ``ir'``.  Cached on ``ir`` per ``needed``."""
    from ..core.ir import derived_cache, eval_ir
    from ..core.staging import stage
    from ..primitives.elementwise import convert_element_type
    cache = derived_cache(ir)
    key = ("vjp", tuple(needed))
    hit = cache.get(key)
    if hit is not None:
        return hit
    n = len(ir.in_vars)
    float_out = [a.dtype.kind == "f" for a in ir.out_avals]

    def program(*args):
        primals, rest = list(args[:n]), iter(args[n:])
        cts = [next(rest) if f else None for f in float_out]

        def f(*diff):
            it = iter(diff)
            return eval_ir(ir, *[next(it) if nd else p for p, nd in zip(primals, needed, strict=True)])

        _, back = vjp_flat(f, [p for p, nd in zip(primals, needed, strict=True) if nd])
        out = []
        kept = [a for a, nd in zip(ir.in_avals, needed, strict=True) if nd]
        for c, a in zip(back(cts, free=True), kept, strict=True):
            if c is None:
                c = np.zeros(a.shape, a.dtype)
            elif get_aval(c).dtype != a.dtype:
                c = convert_element_type(c, a.dtype)
            if np.shape(c) != a.shape:
                from ..primitives.shape import broadcast_to
                c = broadcast_to(c, a.shape)
            out.append(c)
        return out

    avals = ir.in_avals + [a.update(weak_type=False) for a, f in zip(ir.out_avals, float_out, strict=True) if f]
    cache[key] = hit = stage(program, avals)
    return hit
