"""The IR: ``make_ir`` records a function as typed equations; ``str(ir)`` prints it;
``eval_ir`` runs it; ``eval_shape`` computes only shapes; dead code is dropped."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

# GPUs may run float32 matmuls in TF32 (jax's default precision): compare float32
# results of jax programs with NumPy's more loosely there.
F32_RTOL = 1e-5 if jax.default_backend() == "cpu" else 5e-3

F32 = np.float32


def mlp_loss(params, x, y):
    (w1, b1), (w2, b2) = params
    h = fnp.maximum(x @ w1 + b1, 0.0)
    logits = h @ w2 + b2
    return fnp.mean((logits - y) ** 2)


def mlp_args(seed=None):
    if seed is None:
        z = np.zeros
        return ((z((4, 8), F32), z(8, F32)), (z((8, 3), F32), z(3, F32))), z((5, 4), F32), z((5, 3), F32)
    r = np.random.default_rng(seed)
    a = lambda *s: r.standard_normal(s).astype(F32)
    return ((a(4, 8), a(8)), (a(8, 3), a(3))), a(5, 4), a(5, 3)


# Checked by hand: the inputs are the flattened pytree (w1 b1 w2 b2 x y -> a..f);
# x @ w1 contracts x's axis 1 with w1's axis 0; b1 broadcasts over the batch; relu is
# max with the weak literal 0.0 (so it stays f32); the mean is a sum over both axes
# divided by 5 * 3 = 15; every value is f32.
MLP_LOSS_IR = """\
{ a:f32[4,8] b:f32[8] c:f32[8,3] d:f32[3] e:f32[5,4] f:f32[5,3] ->
    g:f32[5,8] = dot_general[contract=((1,), (0,)) batch=((), ())] e a
    h:f32[5,8] = add g b
    i:f32[5,8] = max h 0.0
    j:f32[5,3] = dot_general[contract=((1,), (0,)) batch=((), ())] i c
    k:f32[5,3] = add j d
    l:f32[5,3] = sub k f
    m:f32[5,3] = pow l 2
    n:f32[] = reduce_sum[axes=(0, 1)] m
    o:f32[] = div n 15
  -> o }"""


def test_golden_printed_ir_of_a_two_layer_mlp_loss():
    ir = fg.make_ir(mlp_loss)(*mlp_args())
    assert str(ir) == MLP_LOSS_IR


def test_the_golden_program_computes_the_loss():
    args = mlp_args(seed=0)
    ir = fg.make_ir(mlp_loss)(*args)
    (out,) = fg.eval_ir(ir, *fg.tree.leaves(args))
    want = jax.jit(lambda p, x, y: jnp.mean((jnp.maximum(x @ p[0][0] + p[0][1], 0) @ p[1][0] + p[1][1] - y) ** 2))(
        *args)
    assert np.asarray(out).dtype == F32
    np.testing.assert_allclose(out, want, rtol=F32_RTOL)
    np.testing.assert_allclose(out, mlp_loss(*args), rtol=1e-6)


def test_gradient_program_of_the_mlp_loss():
    args = mlp_args(seed=1)
    ir = fg.make_ir(fg.grad(mlp_loss))(*args)
    # one output per parameter, shaped and typed like it
    assert [str(a) for a in ir.out_avals] == ["f32[4,8]", "f32[8]", "f32[8,3]", "f32[3]"]
    prims = ir.primitives()
    assert prims.count("dot_general") == 1 and str(ir).count("= dot_general") == 5  # 2 forward, 3 backward
    assert "reduce_sum" in prims   # bias gradients sum over the batch
    assert fg.tree.structure(fg.tree.unflatten(ir.out_tree, ir.outs)) == fg.tree.structure(args[0])
    grads = fg.tree.unflatten(ir.out_tree, fg.eval_ir(ir, *fg.tree.leaves(args)))
    want = fg.grad(mlp_loss)(*args)
    for g, w in zip(fg.tree.leaves(grads), fg.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


def test_float32_gradient_program_has_no_float64_values():
    ir = fg.make_ir(fg.grad(mlp_loss))(*mlp_args())
    assert "f64" not in str(ir), str(ir)


def test_float32_gradient_programs_without_pow_stay_float32():
    def loss(params, x, y):
        (w1, b1), (w2, b2) = params
        d = fnp.tanh(x @ w1 + b1) @ w2 + b2 - y
        return fnp.sum(d * d) / 15.0

    text = str(fg.make_ir(fg.grad(loss))(*mlp_args()))
    assert "f64" not in text


# ----------------------------------------------------------------------------- printing

def test_weak_types_are_marked_and_literals_are_inline():
    ir = fg.make_ir(lambda x: x * 2 + 1.5)(3.0)
    assert str(ir) == "{ a:f32[]~ ->\n    b:f32[]~ = mul a 2\n    c:f32[]~ = add b 1.5\n  -> c }"
    ir = fg.make_ir(lambda x: x * 2.0)(F32(3.0))
    assert str(ir) == "{ a:f32[] ->\n    b:f32[] = mul a 2.0\n  -> b }"


def test_captured_arrays_become_constants_listed_before_the_inputs():
    table = np.arange(6.0).reshape(2, 3)
    ir = fg.make_ir(lambda x: x @ table)(np.ones((4, 2)))
    text = str(ir)
    assert text.startswith("{ b:f64[2,3] ; a:f64[4,2] ->")
    assert len(ir.consts) == 1 and ir.consts[0] is table
    np.testing.assert_allclose(fg.eval_ir(ir, np.ones((4, 2)))[0], np.ones((4, 2)) @ table)


def test_outputs_can_be_inputs_literals_or_constants():
    ir = fg.make_ir(lambda x, y: (y, 3.0, x))(np.ones(2), np.zeros(1))
    assert str(ir) == "{ a:f64[2] b:f64[1] ->\n  -> b 3.0 a }"
    assert ir.eqns == []


def test_dead_code_is_eliminated_but_effects_are_kept():
    def f(x):
        unused = fnp.exp(x) * 3.0  # noqa: F841
        fg.debug_print("x={}", x)
        return x + 1.0

    ir = fg.make_ir(f)(np.ones(2))
    assert ir.primitives() == ["debug_print", "add"]


def test_many_variables_get_multi_letter_names():
    def f(x):
        for _ in range(30):
            x = x + 1.0
        return x

    text = str(fg.make_ir(f)(1.0))
    assert "aa:f32[]~ = add z 1.0" in text and text.endswith("-> ae }")


def test_params_print_dtypes_by_name():
    text = str(fg.make_ir(lambda x: x.astype(fnp.float32))(np.ones(2)))
    assert "convert_element_type[dtype=float32]" in text


# ----------------------------------------------------------------------------- make_ir options

def test_make_ir_with_pytrees_kwargs_and_static_argnums():
    def f(p, n, *, scale):
        return {"out": p["w"] * n * scale}

    ir = fg.make_ir(f, static_argnums=1)({"w": np.ones(3, F32)}, 4, scale=F32(2.0))
    assert len(ir.in_vars) == 2              # p["w"] and scale; n is static
    assert "mul a 4" in str(ir)
    out = fg.tree.unflatten(ir.out_tree, fg.eval_ir(ir, np.ones(3, F32), F32(2.0)))
    np.testing.assert_array_equal(out["out"], 8.0 * np.ones(3))


def test_make_ir_ignores_static_argnums_beyond_the_positional_arguments():
    ir = fg.make_ir(lambda x, n=2: x * n, static_argnums=1)(np.ones(2, F32))
    assert [str(a) for a in ir.in_avals] == ["f32[2]"]
    ir = fg.make_ir(lambda x, n: x * n, static_argnums=-1)(np.ones(2, F32), 3)
    assert [str(a) for a in ir.in_avals] == ["f32[2]"] and "mul a 3" in str(ir)
    assert fg.make_ir(lambda: fnp.ones(2), static_argnums=0)().out_avals[0].shape == (2,)


def test_make_ir_shows_a_jitted_function_as_a_nested_program():
    f = fg.jit(lambda x: fnp.sin(x) * 2.0)
    ir = fg.make_ir(f)(np.ones(2))
    assert [e.prim.name for e in ir.eqns] == ["jit_call"]
    assert ir.primitives() == ["jit_call", "sin", "mul"]


def test_make_ir_of_a_python_branch_on_static_values():
    def f(x, flag):
        return fnp.exp(x) if flag else fnp.log(x)

    assert fg.make_ir(f, static_argnums=1)(1.0, True).primitives() == ["exp"]
    assert fg.make_ir(f, static_argnums=1)(1.0, False).primitives() == ["log"]


# ----------------------------------------------------------------------------- eval_ir, eval_shape

def test_eval_ir_checks_the_number_of_arguments():
    ir = fg.make_ir(lambda x, y: x + y)(1.0, 2.0)
    assert float(fg.eval_ir(ir, 1.0, 2.0)[0]) == 3.0
    with pytest.raises(TypeError, match="2 flat arguments"):
        fg.eval_ir(ir, 1.0)


def test_eval_ir_runs_at_other_values_of_the_same_type():
    ir = fg.make_ir(lambda x: fnp.sum(fnp.sin(x)))(np.zeros(3))
    x = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(fg.eval_ir(ir, x)[0], np.sum(np.sin(x)))


def test_eval_ir_under_jit():
    ir = fg.make_ir(lambda x: fnp.tanh(x) * 3.0)(np.zeros(2, F32))
    out = fg.jit(lambda x: fg.eval_ir(ir, x)[0])(np.ones(2, F32))
    assert isinstance(out, jax.Array) and out.dtype == F32
    np.testing.assert_allclose(out, 3 * np.tanh(1.0) * np.ones(2), rtol=1e-6)


def test_eval_shape_computes_nothing():
    big = fg.ShapedArray((100_000, 100_000), F32)      # 40 GB if it were real
    out = fg.eval_shape(lambda x: {"g": fnp.sum(x @ x.T, axis=0), "n": x.shape[0]}, big)
    assert isinstance(out["g"], fg.ShapedArray)
    assert out["g"].shape == (100_000,) and out["g"].dtype == F32
    s = fg.eval_shape(lambda x: x.astype(fnp.float64) * 2, jax.ShapeDtypeStruct((3, 2), jnp.float32))
    assert s.shape == (3, 2) and s.dtype == np.float64


def test_eval_shape_of_a_gradient():
    shapes = fg.eval_shape(fg.grad(mlp_loss), *mlp_args())
    assert [a.shape for a in fg.tree.leaves(shapes)] == [(4, 8), (8,), (8, 3), (3,)]


def test_staged_gradients_hold_no_full_size_zero_constants():
    w, idx = np.ones((1000, 64), np.float32), np.array([3, 5])
    ir = fg.make_ir(fg.grad(lambda w: fnp.sum(w[idx] ** 2)))(w)
    assert all(np.size(c) <= 2 for c in ir.consts), [np.shape(c) for c in ir.consts]
    assert "broadcast_in_dim" in ir.primitives()
    np.testing.assert_array_equal(fg.eval_ir(ir, w)[0], fg.grad(lambda w: fnp.sum(w[idx] ** 2))(w))
    zeros = np.zeros((3, 4))
    ir = fg.make_ir(lambda x: x + zeros)(np.ones((3, 4)))
    assert not ir.consts and ir.primitives() == ["broadcast_in_dim", "add"]


def test_canonical_programs_are_shared_only_when_they_compute_the_same():
    from funcgrad.core.ir import canonical, fingerprint
    from funcgrad.core.pyeval import python_eval
    w = np.arange(3.0)
    f = lambda x: fnp.tanh(x * w + 1.0)  # noqa: E731
    a, b = fg.make_ir(f)(np.ones(3)), fg.make_ir(f)(np.ones(3))
    assert a is not b and fingerprint(a) == fingerprint(b) and canonical(b) is canonical(a)
    for g in (lambda x: fnp.tanh(x * w + -0.0), lambda x: fnp.tanh(x * np.arange(3.0) + 1.0),
              lambda x: fnp.tanh(x * w + np.float32(1.0)), lambda x: fnp.sin(x * w + 1.0)):
        assert fingerprint(fg.make_ir(g)(np.ones(3))) != fingerprint(a)
    assert fingerprint(fg.make_ir(f)(np.ones(3, np.float32))) != fingerprint(a)
    # and the generated Python evaluates a program as eval_ir does, dtypes included
    for x in (np.ones(3), np.ones(3, np.float32), 2.0):
        ir = fg.make_ir(lambda x: (x * 2 + w.astype(np.float32), x * 0.5, fnp.sum(x > 1)))(x)
        for got, want in zip(python_eval(ir)(x), fg.eval_ir(ir, x), strict=True):
            assert type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype
            np.testing.assert_array_equal(got, want)
