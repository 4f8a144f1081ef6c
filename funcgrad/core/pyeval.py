"""Concrete evaluation of a program as generated Python: the eager engine of loops.

:func:`~funcgrad.core.ir.eval_ir` interprets a program equation by equation through
``bind`` (so it can be transformed), at several microseconds of bookkeeping per
equation.  A loop body runs thousands of times on concrete values, so for it a
program becomes one straight-line Python function, generated once and kept on the
program (``derived_cache``)::

    def run(a0, a1, a2):
        v1 = f0(a1, a0)        # mul's NumPy rule
        v2 = f1(v1, a2)        # add
        v3 = f2(v2)            # tanh
        return [v3, a1]

Each equation calls its primitive's NumPy rule (``impl``) directly when one operand
is known to be a NumPy value (``bind``'s eager post-processing would change nothing),
and ``bind`` otherwise (with only Python scalars in, ``bind`` returns a Python scalar,
whatever type the program declares).  :class:`Emitter` also lets a loop primitive wrap the
statements of its body in the loop itself (``scan`` and ``while`` in
``transforms/control_flow.py``), so a step costs one pass over the body's NumPy
calls.  Callers fall back to ``eval_ir`` to explain an error and under
``config.debug_nans``.
"""
import functools

import numpy as np

from .ir import Literal, derived_cache

_PY = (int, float, bool)


class Emitter:
    """Python source for concrete evaluation of programs; ``ns`` holds the values the
    generated code refers to (primitive rules, literals, constants) by name."""

    def __init__(self):
        self.ns = {}
        self._n = 0

    def value(self, v, prefix):
        """A name in the generated code for the Python value ``v``."""
        name = f"{prefix}{len(self.ns)}"
        self.ns[name] = v
        return name

    def fresh(self):
        self._n += 1
        return f"v{self._n}"

    def emit(self, ir, in_names, indent, numpy_in):
        """Statements that compute ``ir``'s outputs from the variables ``in_names``
        (one per input; ``numpy_in`` flags those that hold NumPy values, never Python
        scalars).  Returns ``(lines, output_expressions, numpy_out)``."""
        env = dict(zip(ir.in_vars, in_names, strict=True))
        numpy = {v for v, n in zip(ir.in_vars, numpy_in, strict=True) if n}
        for v, c in zip(ir.const_vars, ir.consts, strict=True):
            env[v] = self.value(c, "k")
            numpy.add(v)  # an array (Python scalars are literals)

        def name(atom):
            return self.value(atom.val, "l") if type(atom) is Literal else env[atom]

        def is_numpy(atom):
            return type(atom.val) not in _PY if type(atom) is Literal else atom in numpy

        pad = " " * indent
        lines = []
        for eqn in ir.eqns:
            prim = eqn.prim
            direct = any(is_numpy(a) for a in eqn.inputs)  # bind would return impl's result as is
            fn = prim.impl if direct else prim.bind
            if eqn.params:
                fn = functools.partial(fn, **eqn.params)
            call = f"{self.value(fn, 'f')}({', '.join(name(x) for x in eqn.inputs)})"
            outs = [self.fresh() for _ in eqn.outputs]
            env.update(zip(eqn.outputs, outs, strict=True))
            if direct:
                numpy.update(eqn.outputs)
            if not prim.multiple_results:
                lines.append(f"{pad}{outs[0]} = {call}")
            elif outs:
                lines.append(f"{pad}{''.join(o + ', ' for o in outs)}= {call}")
            else:
                lines.append(f"{pad}{call}")
        return lines, [name(x) for x in ir.outs], [is_numpy(x) for x in ir.outs]

    def build(self, name, params, lines):
        """The function ``name(*params)`` whose body is ``lines`` (indented by 8)."""
        src = (f"def _make({', '.join(self.ns)}):\n"
               f"    def {name}({', '.join(params)}):\n" + "\n".join(lines or ["        pass"])
               + f"\n    return {name}\n")
        scope = {}
        exec(compile(src, f"<funcgrad {name}>", "exec"), scope)  # noqa: S102  (our own generated code)
        return scope["_make"](**self.ns)


def numpy_inputs(avals):
    """Which inputs hold NumPy values: the strongly typed ones (callers convert a Python
    scalar given for one, see ``concrete_args``); weak ones may be Python scalars."""
    return [not a.weak_type for a in avals]


def concrete_args(args, avals):
    """``args`` with a Python scalar given where ``avals`` say strongly typed made a
    NumPy value of that type (what the generated code assumes of its inputs)."""
    return [np.asarray(a, av.dtype) if type(a) in _PY and not av.weak_type else a
            for a, av in zip(args, avals, strict=True)]


def python_eval(ir):
    """``ir`` as a Python function of concrete flat arguments returning the list of its
    outputs (as ``eval_ir``), generated once per program.  Give it ``concrete_args``."""
    cache = derived_cache(ir)
    fn = cache.get("python_eval")
    if fn is None:
        em = Emitter()
        names = [f"a{k}" for k in range(len(ir.in_vars))]
        lines, outs, _ = em.emit(ir, names, 8, numpy_inputs(ir.in_avals))
        fn = cache["python_eval"] = em.build("run", names, lines + [f"        return [{', '.join(outs)}]"])
    return fn


__all__ = ["Emitter", "python_eval", "concrete_args", "numpy_inputs"]
