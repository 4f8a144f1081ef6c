"""``funcgrad.debug_print``: prints at once eagerly, at run time under ``jit`` (through
``jax.debug.print``), and the primal values under ``grad`` / ``jvp``."""
import jax
import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def printed(capfd):
    jax.effects_barrier()           # jax.debug.print runs asynchronously
    return capfd.readouterr().out


def test_eager_prints_at_once(capsys):
    fg.debug_print("x = {}", np.arange(3))
    assert capsys.readouterr().out == "x = [0 1 2]\n"


def test_keyword_arguments_and_format_specs(capsys):
    fg.debug_print("{a} and {b:.2f} and {0}", np.float32(1.0), a=np.arange(2), b=np.float64(2.5))
    assert capsys.readouterr().out == "[0 1] and 2.50 and 1.0\n"


def test_no_arguments(capsys):
    fg.debug_print("just text")
    assert capsys.readouterr().out == "just text\n"


def test_inside_jit_prints_at_run_time_on_every_call(capfd):
    def f(x):
        fg.debug_print("x={x} sum={s}", x=x, s=fnp.sum(x))
        return x * 2.0

    jf = fg.jit(f)
    jf(np.array([1.0, 2.0]))
    out1 = printed(capfd)
    jf(np.array([3.0, 4.0]))
    out2 = printed(capfd)
    assert jf.trace_count == 1          # the second call did not trace, yet it printed
    assert out1 == "x=[1. 2.] sum=3.0\n"
    assert out2 == "x=[3. 4.] sum=7.0\n"


def test_is_kept_in_the_ir_although_it_has_no_outputs():
    def f(x):
        fg.debug_print("{}", x)
        return x + 1.0

    ir = fg.make_ir(f)(np.ones(2))
    assert "debug_print" in ir.primitives()
    assert "debug_print[fmt={}" in str(ir)


def test_inside_grad_prints_primal_values(capsys):
    def loss(x):
        y = fnp.sin(x)
        fg.debug_print("y={}", y)
        return fnp.sum(y * y)

    x = np.array([0.0, np.pi / 2])
    g = fg.grad(loss)(x)
    np.testing.assert_allclose(g, 2 * np.sin(x) * np.cos(x), atol=1e-12)
    assert capsys.readouterr().out == "y=[0. 1.]\n"


def test_inside_jvp_and_nested_grad_prints_primals(capsys):
    def f(x):
        fg.debug_print("x={}", x)
        return x ** 3

    fg.jvp(f, (2.0,), (1.0,))
    assert capsys.readouterr().out == "x=2.0\n"
    assert float(fg.grad(fg.grad(f))(2.0)) == 12.0
    assert capsys.readouterr().out == "x=2.0\n"


def test_inside_jit_of_grad(capfd):
    def loss(w):
        fg.debug_print("w={}", w)
        return fnp.sum(w ** 2)

    g = fg.jit(fg.grad(loss))(np.array([1.0, -1.0]))
    np.testing.assert_allclose(g, [2.0, -2.0])
    assert printed(capfd) == "w=[ 1. -1.]\n"
