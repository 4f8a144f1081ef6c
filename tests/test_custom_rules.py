"""User-defined derivatives: custom_jvp, custom_vjp, checkpoint, and check_grads
catching a wrong rule."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.test_util import check_grads

# ----------------------------------------------------------------------------- custom_jvp


def make_log1pexp():
    """The classic: log(1 + e^x) whose naive derivative overflows to nan at large x."""
    calls = {"rule": 0}

    @fg.custom_jvp
    def log1pexp(x):
        return fnp.log1p(fnp.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        calls["rule"] += 1
        (x,), (t,) = primals, tangents
        return log1pexp(x), t * (1.0 - 1.0 / (1.0 + fnp.exp(x)))

    return log1pexp, calls


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_custom_jvp_rule_is_used_by_jvp():
    f, calls = make_log1pexp()
    with np.errstate(over="ignore"):
        out, t = fg.jvp(f, (np.float64(100.0),), (np.float64(1.0),))
    assert calls["rule"] == 1
    assert float(t) == 1.0                   # the naive derivative e^x / (1 + e^x) is nan here
    x = np.array([-1.0, 0.5, 3.0])
    np.testing.assert_allclose(fg.jvp(f, (x,), (np.ones(3),))[1], sigmoid(x))


def test_custom_jvp_rule_is_used_by_grad_through_its_transpose():
    f, calls = make_log1pexp()
    with np.errstate(over="ignore"):
        g = fg.grad(f)(np.float64(100.0))
    assert calls["rule"] >= 1
    assert float(g) == 1.0
    x = np.array([-1.0, 0.5, 3.0])
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(f(x)))(x), sigmoid(x), rtol=1e-12)
    with jax.enable_x64(True):
        want = jax.grad(lambda x: jnp.sum(jax.nn.softplus(x)))(x)
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(f(x)))(x), want, rtol=1e-12)


def test_custom_jvp_the_rule_wins_over_the_function():
    # a deliberately different rule shows which one is used, in every mode
    @fg.custom_jvp
    def f(x):
        return fnp.sin(x)

    f.defjvp(lambda p, t: (f(p[0]), 10.0 * t[0]))
    x = np.float64(0.3)
    assert float(fg.jvp(f, (x,), (np.float64(1.0),))[1]) == 10.0
    assert float(fg.grad(f)(x)) == 10.0
    assert float(fg.jit(fg.grad(f))(x)) == 10.0
    assert float(fg.grad(fg.jit(f))(x)) == 10.0
    np.testing.assert_allclose(fg.jacrev(f)(np.ones(2)), 10.0 * np.eye(2))
    np.testing.assert_allclose(fg.jacfwd(f)(np.ones(2)), 10.0 * np.eye(2))
    # the primal is the function's
    assert float(f(x)) == pytest.approx(np.sin(0.3))
    assert float(fg.jit(f)(x)) == pytest.approx(np.sin(0.3))


def test_custom_jvp_with_several_arguments_and_argnums():
    @fg.custom_jvp
    def f(x, y):
        return fnp.sin(x) * y

    @f.defjvp
    def f_jvp(primals, tangents):
        x, y = primals
        tx, ty = tangents
        return f(x, y), fnp.cos(x) * tx * y + fnp.sin(x) * ty

    x, y = np.float64(0.7), np.float64(1.3)
    gx, gy = fg.grad(f, argnums=(0, 1))(x, y)
    assert float(gx) == pytest.approx(np.cos(0.7) * 1.3)
    assert float(gy) == pytest.approx(np.sin(0.7))
    assert float(fg.jvp(f, (x, y), (0.0, 1.0))[1]) == pytest.approx(np.sin(0.7))


def test_custom_jvp_nested_grad_differentiates_the_rule():
    @fg.custom_jvp
    def f(x):
        return x ** 3

    f.defjvp(lambda p, t: (f(p[0]), 3.0 * p[0] ** 2 * t[0]))
    assert float(fg.grad(fg.grad(f))(2.0)) == pytest.approx(12.0)
    assert float(fg.grad(fg.grad(fg.grad(f)))(2.0)) == pytest.approx(6.0)
    assert float(fg.jvp(fg.grad(f), (2.0,), (1.0,))[1]) == pytest.approx(12.0)
    np.testing.assert_allclose(fg.hessian(lambda x: fnp.sum(f(x)))(np.array([1.0, 2.0])),
                               np.diag([6.0, 12.0]))


def test_custom_jvp_nondiff_argnums_passes_them_first_to_the_rule():
    @functools.partial(fg.custom_jvp, nondiff_argnums=(0,))
    def apply(fn, x):
        return fn(x)

    @apply.defjvp
    def apply_jvp(fn, primals, tangents):
        (x,), (t,) = primals, tangents
        assert fn is fnp.sin
        return apply(fn, x), fnp.cos(x) * t * 2.0    # twice the true derivative, to tell them apart

    x = np.float64(0.4)
    assert float(fg.grad(lambda x: apply(fnp.sin, x))(x)) == pytest.approx(2 * np.cos(0.4))
    assert float(fg.jvp(lambda x: apply(fnp.sin, x), (x,), (np.float64(1.0),))[1]) == pytest.approx(2 * np.cos(0.4))


def test_custom_jvp_with_pytree_arguments_and_outputs():
    @fg.custom_jvp
    def f(p):
        return {"prod": p["a"] * p["b"], "a": p["a"]}

    @f.defjvp
    def f_jvp(primals, tangents):
        (p,), (t,) = primals, tangents
        return f(p), {"prod": t["a"] * p["b"] + p["a"] * t["b"], "a": t["a"]}

    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    g = fg.grad(lambda p: fnp.sum(f(p)["prod"]) + fnp.sum(f(p)["a"]))(p)
    np.testing.assert_allclose(g["a"], p["b"] + 1.0)
    np.testing.assert_allclose(g["b"], p["a"])


def test_custom_jvp_defjvps():
    @fg.custom_jvp
    def f(x, y):
        return x * y

    f.defjvps(lambda tx, ans, x, y: tx * y, lambda ty, ans, x, y: x * ty)
    assert float(fg.grad(f, argnums=1)(2.0, 3.0)) == 2.0
    assert float(fg.jvp(f, (2.0, 3.0), (1.0, 1.0))[1]) == 5.0


def test_custom_jvp_under_make_ir_records_the_rule_in_the_gradient_program():
    @fg.custom_jvp
    def f(x):
        return fnp.sin(x)

    f.defjvp(lambda p, t: (f(p[0]), fnp.exp(p[0]) * t[0]))
    text = str(fg.make_ir(fg.grad(f))(1.0))
    assert "exp" in text and "cos" not in text
    assert "sin" in str(fg.make_ir(f)(1.0))


def test_custom_jvp_without_a_rule_is_a_clear_error():
    f = fg.custom_jvp(lambda x: x)
    with pytest.raises(TypeError, match="defjvp"):
        f(1.0)


# ----------------------------------------------------------------------------- custom_vjp

def make_scaled_mul():
    log = {"fwd": 0, "bwd": 0, "res": None}

    @fg.custom_vjp
    def f(x, y):
        return x * y

    def f_fwd(x, y):
        log["fwd"] += 1
        return f(x, y), (x, y)

    def f_bwd(res, g):
        log["bwd"] += 1
        log["res"] = res
        x, y = res
        return (g * y * 10.0, g * x)     # d/dx deliberately scaled by 10

    f.defvjp(f_fwd, f_bwd)
    return f, log


def test_custom_vjp_uses_fwd_and_bwd_with_residuals():
    f, log = make_scaled_mul()
    gx, gy = fg.grad(f, argnums=(0, 1))(2.0, 3.0)
    assert (float(gx), float(gy)) == (30.0, 2.0)
    assert log["fwd"] == 1 and log["bwd"] == 1
    assert [float(r) for r in log["res"]] == [2.0, 3.0]
    assert float(f(2.0, 3.0)) == 6.0
    assert log["fwd"] == 1  # a plain call does not run fwd


def test_custom_vjp_under_jit_and_vjp():
    f, _ = make_scaled_mul()
    assert float(fg.jit(fg.grad(f))(2.0, 3.0)) == 30.0
    assert float(fg.grad(fg.jit(f))(2.0, 3.0)) == 30.0
    assert float(fg.jit(f)(2.0, 3.0)) == 6.0
    out, vjp_fn = fg.vjp(f, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    cx, cy = vjp_fn(np.ones(2))
    np.testing.assert_allclose(cx, [30.0, 40.0])
    np.testing.assert_allclose(cy, [1.0, 2.0])


def test_custom_vjp_nested_grad_differentiates_bwd():
    f, _ = make_scaled_mul()
    # grad of f(x, x) by the rule: 10x + x = 11x; its derivative is 11
    assert float(fg.grad(fg.grad(lambda x: f(x, x)))(2.0)) == 11.0


def test_custom_vjp_nondiff_argnums_and_none_cotangents():
    @functools.partial(fg.custom_vjp, nondiff_argnums=(1,))
    def clip_gradient(x, bound):
        return x

    clip_gradient.defvjp(lambda x, bound: (x, None),
                         lambda bound, res, g: (fnp.clip(g, -bound, bound),))
    assert float(fg.grad(lambda x: clip_gradient(x, 0.5) * 3.0)(1.0)) == 0.5
    assert float(fg.grad(lambda x: clip_gradient(x, 5.0) * 3.0)(1.0)) == 3.0

    @fg.custom_vjp
    def first(x, y):
        return x + y

    first.defvjp(lambda x, y: (x + y, None), lambda res, g: (g, None))  # None: a zero cotangent
    gx, gy = fg.grad(first, argnums=(0, 1))(np.float64(1.0), np.float64(2.0))
    assert (float(gx), float(gy)) == (1.0, 0.0)
    assert np.asarray(gy).dtype == np.float64


def test_custom_vjp_with_pytree_arguments():
    @fg.custom_vjp
    def f(p):
        return p["a"] * p["b"]

    f.defvjp(lambda p: (f(p), p), lambda p, g: ({"a": g * p["b"], "b": g * p["a"]},))
    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    g = fg.grad(lambda p: fnp.sum(f(p)))(p)
    np.testing.assert_allclose(g["a"], p["b"])
    np.testing.assert_allclose(g["b"], p["a"])


def test_custom_vjp_under_forward_mode_is_a_clear_error():
    f, _ = make_scaled_mul()
    with pytest.raises(TypeError, match="custom_vjp") as e:
        fg.jvp(f, (2.0, 3.0), (1.0, 1.0))
    assert "grad" in str(e.value) and "custom_jvp" in str(e.value)   # names the fixes
    with pytest.raises(TypeError, match="custom_vjp"):
        fg.jacfwd(lambda x: f(x, x))(np.ones(2))


def test_custom_vjp_bwd_returning_the_wrong_arity_is_a_clear_error():
    @fg.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, None), lambda res, g: g)
    with pytest.raises(TypeError, match="tuple of 2"):
        fg.grad(f)(1.0, 2.0)


# ----------------------------------------------------------------------------- checkpoint

def test_checkpoint_gives_the_same_gradients_and_recomputes_the_forward_pass(monkeypatch):
    from funcgrad.primitives.elementwise import sin_p
    calls = {"n": 0}
    numpy_sin = sin_p.impl

    def counting_sin(x):
        calls["n"] += 1
        return numpy_sin(x)

    monkeypatch.setattr(sin_p, "impl", counting_sin)

    def block(x, w):
        return fnp.tanh(fnp.sin(x) * w)

    x, w = np.array([0.1, 0.5, 1.0]), np.array([2.0, -1.0, 0.3])
    loss = lambda x, w: fnp.sum(block(x, w) ** 2)
    loss_ckpt = lambda x, w: fnp.sum(fg.checkpoint(block)(x, w) ** 2)

    want = fg.grad(loss, argnums=(0, 1))(x, w)
    assert calls["n"] == 1                  # without checkpoint: sin runs in the forward pass only
    calls["n"] = 0
    got = fg.grad(loss_ckpt, argnums=(0, 1))(x, w)
    assert calls["n"] == 2                  # with checkpoint: forward, then again in the backward pass
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize("kind", ["custom_jvp", "custom_vjp", "checkpoint"])
def test_custom_rules_serve_several_backward_passes_over_one_tape(kind):
    if kind == "custom_jvp":
        f = fg.custom_jvp(lambda x: x * 2.0)
        f.defjvp(lambda p, t: (f(p[0]), 2.0 * t[0]))
    elif kind == "custom_vjp":
        f = fg.custom_vjp(lambda x: x * 2.0)
        f.defvjp(lambda x: (x * 2.0, None), lambda res, g: (2.0 * g,))
    else:
        f = fg.checkpoint(lambda x: x * 2.0)
    _, vjp_fn = fg.vjp(f, np.ones(2))
    np.testing.assert_allclose(vjp_fn(np.ones(2))[0], [2.0, 2.0])
    np.testing.assert_allclose(vjp_fn(np.array([5.0, 7.0]))[0], [10.0, 14.0])
    np.testing.assert_allclose(fg.jacrev(f)(np.ones(2)), 2.0 * np.eye(2))


def test_checkpoint_elsewhere_is_the_function_itself():
    calls = {"n": 0}

    @fg.checkpoint
    def block(x):
        calls["n"] += 1
        return fnp.sin(x) * 2.0

    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(block(x), 2 * np.sin(x))
    np.testing.assert_allclose(fg.jvp(block, (x,), (np.ones(2),))[1], 2 * np.cos(x))
    assert calls["n"] == 2
    assert fg.remat is fg.checkpoint


def test_checkpoint_under_jit_higher_order_and_pytrees():
    @fg.checkpoint
    def block(p):
        return {"y": fnp.sin(p["x"]) * p["s"]}

    p = {"x": np.array([0.3, 0.7]), "s": np.float64(2.0)}
    f = lambda p: fnp.sum(block(p)["y"])
    g = fg.grad(f)(p)
    np.testing.assert_allclose(g["x"], 2 * np.cos(p["x"]))
    np.testing.assert_allclose(g["s"], np.sum(np.sin(p["x"])))
    gj = fg.jit(fg.grad(f))(p)
    np.testing.assert_allclose(gj["x"], g["x"], rtol=1e-12)
    second = fg.grad(lambda x: fnp.sum(fg.grad(f)({"x": x, "s": np.float64(2.0)})["x"]))(p["x"])
    np.testing.assert_allclose(second, -2 * np.sin(p["x"]), rtol=1e-12)


# ----------------------------------------------------------------------------- check_grads

def test_check_grads_passes_for_correct_derivatives():
    x = np.array([0.3, -0.4, 1.1])
    check_grads(lambda x: fnp.sin(x) * fnp.exp(x), (x,), order=2)
    check_grads(lambda x, y: fnp.tanh(x * y), (x, x[::-1].copy()), order=2, modes=("rev",))
    f, _ = make_log1pexp()
    check_grads(f, (x,), order=2)


def test_check_grads_catches_a_wrong_custom_jvp_rule_in_both_modes():
    @fg.custom_jvp
    def f(x):
        return fnp.sin(x)

    f.defjvp(lambda p, t: (f(p[0]), 2.0 * fnp.cos(p[0]) * t[0]))   # wrong by a factor of 2
    x = np.array([0.3, 0.5])
    with pytest.raises(AssertionError, match="jvp"):
        check_grads(f, (x,), order=1, modes=("fwd",))
    with pytest.raises(AssertionError, match="vjp"):
        check_grads(f, (x,), order=1, modes=("rev",))


def test_check_grads_catches_a_wrong_custom_vjp_rule():
    @fg.custom_vjp
    def f(x):
        return x * x

    f.defvjp(lambda x: (x * x, x), lambda x, g: (g * x,))   # should be 2 * g * x
    with pytest.raises(AssertionError):
        check_grads(f, (np.array([0.5, 1.5]),), order=1, modes=("rev",))


def test_check_grads_catches_a_wrong_second_derivative():
    # right first derivative, wrong second: only order=2 sees it
    @fg.custom_jvp
    def f(x):
        return x ** 3

    f.defjvp(lambda p, t: (f(p[0]), 3.0 * fg.stop_gradient(p[0]) ** 2 * t[0]))
    x = (np.array([0.5, 1.5]),)
    check_grads(f, x, order=1)
    with pytest.raises(AssertionError):
        check_grads(f, x, order=2, modes=("rev",))
