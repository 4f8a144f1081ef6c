"""The IR type checker: a program is well typed when every variable is defined
before it is used, once, and every equation's output types are what its primitive's
shape rule says for its input types.  Sub-programs held in parameters are checked
the same way, recursively.

A transform that builds an IR by hand (or a rule with a slip in it) produces a
program that may still run; the checker says where it is wrong instead."""
from .ir import IR, Literal, Var


class IRTypeError(TypeError):
    """An IR is not well typed; the message names the equation and the mismatch."""


def _sub_irs(params):
    for v in params.values():
        for sub in (v if isinstance(v, (tuple, list)) else (v,)):
            if isinstance(sub, IR):
                yield sub
            elif hasattr(sub, "ir") and isinstance(sub.ir, IR):  # a closed program
                yield sub.ir


def _same(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and a.weak_type == b.weak_type


def check_ir(ir, where="program"):
    """Raise :class:`IRTypeError` unless ``ir`` (and every sub-program) is well typed."""
    defined = set()

    def define(v, what):
        if type(v) is not Var:
            raise IRTypeError(f"{where}: {what} is a {type(v).__name__}, not a variable")
        if v in defined:
            raise IRTypeError(f"{where}: {what} {v!r} is defined twice")
        defined.add(v)

    def use(x, what):
        if type(x) is Literal:
            return x.aval
        if type(x) is not Var:
            raise IRTypeError(f"{where}: {what} is a {type(x).__name__}, not a variable or literal")
        if x not in defined:
            raise IRTypeError(f"{where}: {what} {x!r} is used before it is defined")
        return x.aval

    for v in ir.const_vars:
        define(v, "constant")
    for v in ir.in_vars:
        define(v, "input")
    if len(ir.consts) != len(ir.const_vars):
        raise IRTypeError(f"{where}: {len(ir.const_vars)} constant variables for {len(ir.consts)} values")
    for k, eqn in enumerate(ir.eqns):
        name = f"{where}, equation {k} ({eqn.prim.name})"
        avals = [use(x, f"{name}: input {i}") for i, x in enumerate(eqn.inputs)]
        for j, sub in enumerate(_sub_irs(eqn.params)):
            check_ir(sub, f"{name}, sub-program {j}")
        try:
            want = eqn.prim.shape(*avals, **eqn.params)
        except Exception as e:  # noqa: BLE001 -- any failure of the rule is a typing error here
            raise IRTypeError(f"{name}: the shape rule rejects the input types "
                              f"({', '.join(a.str_short() for a in avals)}): {e}") from None
        want = list(want) if eqn.prim.multiple_results else [want]
        if len(want) != len(eqn.outputs):
            raise IRTypeError(f"{name}: {len(eqn.outputs)} outputs, the shape rule gives {len(want)}")
        for i, (v, w) in enumerate(zip(eqn.outputs, want, strict=True)):
            if not _same(v.aval, w):
                raise IRTypeError(f"{name}: output {i} is typed {v.aval.str_short()}, the shape rule "
                                  f"gives {w.str_short()} for inputs ({', '.join(a.str_short() for a in avals)})")
            define(v, f"{name}: output {i}")
    for i, x in enumerate(ir.outs):
        use(x, f"{where}: program output {i}")
    return ir
