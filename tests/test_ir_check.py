"""The IR type checker accepts what tracing makes and names the first slip in a
program that was put together wrongly."""
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import IRTypeError, check_ir
from funcgrad.core.ir import IR, Eqn, Literal, Var
from funcgrad.core.avals import ShapedArray
from funcgrad.primitives.elementwise import add_p, exp_p


def _loss(w, x):
    return fnp.mean(fnp.tanh(x @ w) ** 2)


W, X = np.ones((3, 2)), np.ones((4, 3))


XS = np.ones((5, 4, 3))
TRANSFORMS = {
    "f": (lambda f: f, (W, X)),
    "grad": (lambda f: fg.grad(f), (W, X)),
    "vmap": (lambda f: fg.vmap(f, in_axes=(None, 0)), (W, XS)),
    "vmap-grad": (lambda f: fg.vmap(fg.grad(f), in_axes=(None, 0)), (W, XS)),
    "jvp": (lambda f: lambda w, x: fg.jvp(lambda w: f(w, x), (w,), (w,)), (W, X)),
    "hessian": (lambda f: fg.hessian(f), (W, X)),
}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_traced_programs_are_well_typed(name):
    transform, args = TRANSFORMS[name]
    ir = fg.make_ir(transform(_loss))(*args)
    assert ir.check() is ir


def _prog(out_aval, inputs=None, prim=exp_p):
    a = Var(ShapedArray((3,), np.float32))
    b = Var(out_aval)
    return IR([a], [], [], [Eqn(prim, inputs or [a], [b], {})], [b])


def test_wrong_output_type_is_named():
    with pytest.raises(IRTypeError, match=r"equation 0 \(exp\): output 0 is typed f64\[3\].*gives f32\[3\]"):
        check_ir(_prog(ShapedArray((3,), np.float64)))


def test_use_before_definition_is_named():
    stray = Var(ShapedArray((3,), np.float32))
    with pytest.raises(IRTypeError, match="used before it is defined"):
        check_ir(_prog(ShapedArray((3,), np.float32), inputs=[stray]))


def test_shape_rule_rejection_is_named():
    a = Var(ShapedArray((3,), np.float32))
    c = Var(ShapedArray((4,), np.float32))
    out = Var(ShapedArray((3,), np.float32))
    ir = IR([a, c], [], [], [Eqn(add_p, [a, c], [out], {})], [out])
    with pytest.raises(IRTypeError, match="shape rule rejects"):
        check_ir(ir)


def test_literals_and_constants_are_typed():
    ir = fg.make_ir(lambda x: x * 2.0 + np.arange(3.0))(np.ones(3, np.float32))
    check_ir(ir)
    assert any(type(x) is Literal for e in ir.eqns for x in e.inputs)
