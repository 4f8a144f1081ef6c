"""funcgrad's IR: typed variables and equations ``outs = primitive[params] ins``.

An :class:`IR` has input variables, constant variables (with their values), a list
of equations and output atoms.  An atom is a :class:`Var` or a :class:`Literal`
(a scalar written inline).  ``str(ir)`` prints it::

    { a:f32[128,784] b:f32[784,512] ->
        c:f32[128,512] = dot_general[contract=((1,), (0,)) batch=((), ())] a b
        d:f32[128,512] = max c 0.0
      -> d }
"""
import itertools
import threading

import numpy as np

from .avals import ShapedArray, get_aval


class Var:
    """A typed variable of the IR; its name is given when the program is printed."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return f"Var<{self.aval.str_short()}>"


class Literal:
    """A scalar constant written inline in an equation."""

    __slots__ = ("val", "aval")

    def __init__(self, val, aval=None):
        self.val = val
        self.aval = aval if aval is not None else get_aval(val)

    def __repr__(self):
        return f"Literal({self.val!r})"


class Eqn:
    __slots__ = ("prim", "inputs", "outputs", "params")

    def __init__(self, prim, inputs, outputs, params):
        self.prim, self.inputs, self.outputs, self.params = prim, inputs, outputs, params


class IR:
    """A traced program.

    ``in_vars``: the inputs (flat); ``const_vars``/``consts``: captured arrays;
    ``eqns``: the equations in order; ``outs``: output atoms (flat).  ``in_tree`` and
    ``out_tree`` (optional) describe the pytrees the flat lists came from.
    """

    def __init__(self, in_vars, const_vars, consts, eqns, outs, in_tree=None, out_tree=None):
        self.in_vars, self.const_vars, self.consts = list(in_vars), list(const_vars), list(consts)
        self.eqns, self.outs = list(eqns), list(outs)
        self.in_tree, self.out_tree = in_tree, out_tree

    in_avals = property(lambda self: [v.aval for v in self.in_vars])
    out_avals = property(lambda self: [v.aval for v in self.outs])

    def __str__(self):
        return print_ir(self)

    __repr__ = __str__

    def check(self):
        """Type-check the program (see :func:`funcgrad.core.check.check_ir`); returns it."""
        from .check import check_ir
        return check_ir(self)

    def to_dot(self, name="ir", rankdir="TB"):
        """The program as Graphviz DOT source text (see :func:`funcgrad.core.dot.to_dot`)."""
        from .dot import to_dot
        return to_dot(self, name, rankdir)

    def primitives(self):
        """Names of the primitives used, in order of first use (sub-programs included)."""
        seen = []
        for eqn in self.eqns:
            if eqn.prim.name not in seen:
                seen.append(eqn.prim.name)
            for p in eqn.params.values():
                for sub in (p if isinstance(p, (tuple, list)) else [p]):
                    if isinstance(sub, IR):
                        seen += [n for n in sub.primitives() if n not in seen]
        return seen


def eval_ir(ir, *args):
    """Run ``ir`` on flat arguments and return its flat outputs (a list).

    Each equation is applied with ``bind``, so an IR can be transformed like any
    function: ``grad(lambda x: eval_ir(ir, x)[0])`` works.  A value is dropped after
    its last use, so the peak memory is what is live, not every intermediate (the
    backward program of ``checkpoint`` recomputes a whole block).
    """
    if len(args) != len(ir.in_vars):
        raise TypeError(f"eval_ir: the program takes {len(ir.in_vars)} flat arguments, got {len(args)}")
    env = {}
    for v, a in zip(ir.in_vars, args, strict=True):
        env[v] = a
    for v, c in zip(ir.const_vars, ir.consts, strict=True):
        env[v] = c

    def read(atom):
        return atom.val if type(atom) is Literal else env[atom]

    for eqn, dead in zip(ir.eqns, _last_uses(ir), strict=True):
        out = eqn.prim.bind(*[read(x) for x in eqn.inputs], **eqn.params)
        if eqn.prim.multiple_results:
            for v, o in zip(eqn.outputs, out, strict=True):
                env[v] = o
        else:
            env[eqn.outputs[0]] = out
        del out
        for v in dead:
            del env[v]
    return [read(x) for x in ir.outs]


def _last_uses(ir):
    """Per equation, the variables not read after it (its inputs' last use, or
    outputs never read), cached on ``ir``."""
    cache = derived_cache(ir)
    hit = cache.get("last_uses")
    if hit is None:
        seen = {x for x in ir.outs if type(x) is Var}
        hit = []
        for eqn in reversed(ir.eqns):
            dead = []
            for x in (*eqn.inputs, *eqn.outputs):
                if type(x) is Var and x not in seen:
                    seen.add(x)
                    dead.append(x)
            hit.append(tuple(dead))
        hit.reverse()
        cache["last_uses"] = hit
    return hit


def dce(ir):
    """Dead-code elimination: drop equations none of whose outputs is used (effects stay)."""
    live = {x for x in ir.outs if type(x) is Var}
    kept = []
    for eqn in reversed(ir.eqns):
        if eqn.prim.effectful or any(v in live for v in eqn.outputs):
            kept.append(eqn)
            live.update(x for x in eqn.inputs if type(x) is Var)
    kept.reverse()
    cv = [(v, c) for v, c in zip(ir.const_vars, ir.consts, strict=True) if v in live]
    return IR(ir.in_vars, [v for v, _ in cv], [c for _, c in cv], kept, ir.outs, ir.in_tree, ir.out_tree)


# ---------------------------------------------------------------------------- printing

def _names():
    for n in itertools.count(1):
        for t in itertools.product("abcdefghijklmnopqrstuvwxyz", repeat=n):
            yield "".join(t)


def _fmt_param(v, names, indent):
    if isinstance(v, IR):
        return "\n" + _print(v, names, indent + 6)
    if isinstance(v, np.dtype) or isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if isinstance(v, (tuple, list)) and any(isinstance(e, IR) for e in v):
        return "(" + ", ".join(_fmt_param(e, names, indent) for e in v) + ")"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    return str(v)


def _fmt_literal(lit):
    v = lit.val
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return repr(v)


def _print(ir, names, indent):
    env = {}

    def name(v):
        if type(v) is Literal:
            return _fmt_literal(v)
        if v not in env:
            env[v] = next(names)
        return env[v]

    def decl(v):
        return f"{name(v)}:{v.aval.str_short()}"

    pad = " " * indent
    head = " ".join(decl(v) for v in ir.in_vars)
    if ir.const_vars:
        head = " ".join(decl(v) for v in ir.const_vars) + " ; " + head
    lines = [f"{pad}{{ {head} ->".rstrip().replace("{  ->", "{ ->")]
    for eqn in ir.eqns:
        outs = " ".join(decl(v) for v in eqn.outputs) or "()"
        params = ""
        if eqn.params:
            params = "[" + " ".join(f"{k}={_fmt_param(v, names, indent)}" for k, v in eqn.params.items()) + "]"
        ins = " ".join(name(x) for x in eqn.inputs)
        lines.append(f"{pad}    {outs} = {eqn.prim.name}{params} {ins}".rstrip())
    lines.append(f"{pad}  -> {' '.join(name(x) for x in ir.outs)} }}")
    return "\n".join(lines)


def print_ir(ir):
    return _print(ir, _names(), 0)


def avals_of(values):
    return [get_aval(v) for v in values]


__all__ = ["Var", "Literal", "Eqn", "IR", "eval_ir", "dce", "print_ir", "ShapedArray"]


def derived_cache(ir):
    """The dict on ``ir`` where program-to-program transforms (``jvp_ir``, ``vjp_ir``,
    ``vmap_ir``) keep what they made of it, so it lives and dies with ``ir``."""
    cache = getattr(ir, "_derived", None)
    if cache is None:
        cache = ir._derived = {}
    return cache


# ---------------------------------------------------------------------------- canonical programs

_CANONICAL_SIZE = 128
_canonical = {}  # fingerprint -> program (insertion order: least recently used first)
_canonical_lock = threading.Lock()


def _value_key(v):
    """A hashable key of a literal or parameter that tells apart every value that
    computes differently (``-0.0`` from ``0.0``, float32 from float64)."""
    if isinstance(v, IR):
        return ("ir", fingerprint(v))
    if isinstance(v, (float, np.floating)):
        return (type(v), float(v).hex())
    if type(v) in (tuple, list):
        return (type(v), tuple(_value_key(e) for e in v))
    try:
        hash(v)
    except TypeError:
        return ("id", id(v))  # kept alive by the canonical program that holds it
    return (type(v), v)


def fingerprint(ir):
    """A hashable description of ``ir``: its equations, parameters, literals and types,
    and the identities of its constant arrays.  Two programs with one fingerprint
    compute the same thing."""
    ids = {}
    for v in ir.in_vars:
        ids[v] = len(ids)
    parts = [tuple(v.aval for v in ir.in_vars)]
    for v, c in zip(ir.const_vars, ir.consts, strict=True):
        ids[v] = len(ids)
        parts.append(("const", id(c), v.aval))

    def atom(a):
        return ("lit", _value_key(a.val), a.aval) if type(a) is Literal else ids[a]

    for eqn in ir.eqns:
        parts.append((eqn.prim, tuple(atom(x) for x in eqn.inputs),
                      tuple((k, _value_key(p)) for k, p in eqn.params.items()), tuple(v.aval for v in eqn.outputs)))
        for v in eqn.outputs:
            ids[v] = len(ids)
    parts.append(tuple(atom(x) for x in ir.outs))
    return tuple(parts)


def canonical(ir):
    """The first program seen with ``ir``'s :func:`fingerprint` (or ``ir`` itself), so
    that a function staged again on every call (a loop body under an eager ``grad``)
    reuses what the transforms derived from it (``derived_cache``: its VJP, its JVP,
    its generated Python).  Holds the 128 programs used last (and so their constants)."""
    key = fingerprint(ir)
    with _canonical_lock:
        hit = _canonical.pop(key, None)
        if hit is None:
            hit = ir
            while len(_canonical) >= _CANONICAL_SIZE:
                del _canonical[next(iter(_canonical))]
        _canonical[key] = hit
    return hit
