"""Convolution and pooling against jax.lax: ``funcgrad.lax.conv_general_dilated`` over a
grid of strides, paddings, dilations, groups, layouts and 1-/2-/3-d (values eagerly and
under ``jit``, VJPs in both arguments, ``vmap`` over kernels, inputs or both); its shape
and dtype errors; ``reduce_window`` (max, sum, min) and ``funcgrad.nn``'s ``conv``,
``max_pool`` and ``avg_pool`` against flax's formulas written with jax.lax, their
gradients, and the tie rule of the max (the first maximum of a window takes the
cotangent: eagerly, under jit, and in jax)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.lax as flax
import funcgrad.nn as fnn
import funcgrad.numpy as fnp
from funcgrad.errors import DTypeError, ShapeError
from funcgrad.test_util import check_grads

jlax = jax.lax
NCHW = None
NHWC = ("NHWC", "HWIO", "NHWC")

# (lhs shape, rhs shape, keyword arguments) in the layout the keywords name.
CASES = {
    "nchw-same": ((2, 3, 7, 6), (4, 3, 3, 2), dict(window_strides=(1, 1), padding="SAME")),
    "nchw-valid-stride2": ((2, 3, 7, 6), (4, 3, 3, 2), dict(window_strides=(2, 2), padding="VALID")),
    "nchw-same-stride2": ((2, 3, 7, 8), (4, 3, 3, 3), dict(window_strides=(2, 2), padding="SAME")),
    "same-lower-stride2": ((2, 3, 8, 7), (4, 3, 2, 3), dict(window_strides=(2, 2), padding="SAME_LOWER")),
    "explicit-asymmetric": ((2, 3, 7, 6), (4, 3, 3, 2), dict(window_strides=(2, 1), padding=((1, 0), (0, 2)))),
    "negative-padding": ((2, 3, 7, 6), (4, 3, 3, 2), dict(window_strides=(1, 1), padding=((-1, 2), (3, -1)))),
    "rhs-dilation": ((2, 3, 9, 8), (4, 3, 3, 2), dict(window_strides=(1, 2), padding="SAME", rhs_dilation=(2, 3))),
    "lhs-dilation": ((2, 3, 5, 4), (4, 3, 3, 3), dict(window_strides=(1, 1), padding=((2, 2), (1, 2)),
                                                      lhs_dilation=(2, 3))),
    "both-dilations-stride": ((2, 2, 6, 5), (3, 2, 2, 3), dict(window_strides=(2, 1), padding=((1, 1), (0, 1)),
                                                               lhs_dilation=(2, 1), rhs_dilation=(1, 2))),
    "groups2": ((2, 4, 6, 5), (6, 2, 3, 3), dict(window_strides=(1, 1), padding="SAME", feature_group_count=2)),
    "depthwise": ((2, 4, 6, 5), (8, 1, 3, 3), dict(window_strides=(2, 2), padding="SAME", feature_group_count=4)),
    "batch-groups2": ((4, 3, 6, 5), (6, 3, 3, 2), dict(window_strides=(1, 1), padding="VALID", batch_group_count=2)),
    "nhwc-hwio": ((2, 7, 6, 3), (3, 2, 3, 4), dict(window_strides=(2, 1), padding="SAME", dimension_numbers=NHWC)),
    "nhwc-groups": ((2, 6, 5, 4), (3, 3, 2, 6), dict(window_strides=(1, 1), padding="VALID", dimension_numbers=NHWC,
                                                     feature_group_count=2)),
    "mixed-layouts": ((2, 3, 7, 6), (3, 2, 3, 4), dict(window_strides=(1, 2), padding="SAME",
                                                       dimension_numbers=("NCHW", "HWIO", "NHWC"))),
    "1d": ((2, 3, 9), (4, 3, 3), dict(window_strides=(2,), padding="SAME")),
    "1d-nwc-depthwise": ((2, 9, 4), (3, 1, 4), dict(window_strides=(1,), padding=((2, 0),), feature_group_count=4,
                                                    dimension_numbers=("NWC", "WIO", "NWC"))),
    "3d": ((2, 2, 5, 4, 3), (3, 2, 2, 3, 2), dict(window_strides=(1, 2, 1), padding="SAME")),
    "3d-ndhwc": ((1, 5, 4, 6, 2), (2, 2, 3, 2, 3), dict(window_strides=(2, 1, 2), padding="VALID",
                                                        dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))),
}


def _args(case, dtype=np.float64, seed=0):
    ls, rs, kw = CASES[case]
    rng = np.random.default_rng(seed)
    return rng.standard_normal(ls).astype(dtype), rng.standard_normal(rs).astype(dtype), kw


def _jconv(x, w, kw):
    with jax.enable_x64(True):
        return np.asarray(jlax.conv_general_dilated(x, w, **kw))


@pytest.mark.parametrize("case", CASES)
def test_conv_values_match_jax_eagerly_and_under_jit(case):
    x, w, kw = _args(case)
    want = _jconv(x, w, kw)
    got = flax.conv_general_dilated(x, w, **kw)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    jitted = fg.jit(lambda a, b: flax.conv_general_dilated(a, b, **kw))(x, w)
    assert isinstance(jitted, jax.Array) and jitted.dtype == np.float64
    np.testing.assert_allclose(np.asarray(jitted), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_conv_vjp_in_both_arguments_matches_jax(case):
    x, w, kw = _args(case)
    out, pullback = fg.vjp(lambda a, b: flax.conv_general_dilated(a, b, **kw), x, w)
    g = np.random.default_rng(1).standard_normal(np.shape(out))
    gx, gw = pullback(g)
    with jax.enable_x64(True):
        _, jpull = jax.vjp(lambda a, b: jlax.conv_general_dilated(a, b, **kw), x, w)
        wx, ww = jpull(g)
    np.testing.assert_allclose(gx, np.asarray(wx), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(gw, np.asarray(ww), rtol=1e-11, atol=1e-11)
    jx, jw = fg.jit(lambda a, b, c: fg.vjp(lambda p, q: flax.conv_general_dilated(p, q, **kw), a, b)[1](c))(x, w, g)
    np.testing.assert_allclose(np.asarray(jx), np.asarray(wx), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(np.asarray(jw), np.asarray(ww), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("case", ["nchw-same", "lhs-dilation", "groups2", "batch-groups2", "nhwc-groups", "1d", "3d"])
def test_conv_second_derivatives_by_finite_differences(case):
    x, w, kw = _args(case)
    check_grads(lambda a, b: flax.conv_general_dilated(a, b, **kw), (x, w), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mapped", ["kernels", "inputs", "both", "both-inner-axes"])
def test_conv_vmap_matches_a_loop(case, mapped):
    """Per-example kernels (a batch of kernels against one input), a batch of inputs,
    and both at once (on axes other than the first too)."""
    x, w, kw = _args(case)
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((3,) + x.shape)
    ws = rng.standard_normal((3,) + w.shape)
    f = lambda a, b: flax.conv_general_dilated(a, b, **kw)
    if mapped == "kernels":
        got, want = fg.vmap(f, in_axes=(None, 0))(x, ws), [f(x, k) for k in ws]
    elif mapped == "inputs":
        got, want = fg.vmap(f, in_axes=(0, None))(xs, w), [f(a, w) for a in xs]
    elif mapped == "both":
        got, want = fg.vmap(f)(xs, ws), [f(a, k) for a, k in zip(xs, ws)]
    else:
        got = fg.vmap(f, in_axes=(2, 1), out_axes=1)(np.moveaxis(xs, 0, 2), np.moveaxis(ws, 0, 1))
        got, want = np.moveaxis(np.asarray(got), 1, 0), [f(a, k) for a, k in zip(xs, ws)]
    np.testing.assert_allclose(np.asarray(got), np.stack(want), rtol=1e-12, atol=1e-12)


def test_per_example_gradients_of_a_conv_layer():
    x, w, kw = _args("nhwc-hwio")
    loss = lambda w, x: fnp.sum(fnp.tanh(flax.conv_general_dilated(x[None], w, **kw)))
    got = fg.vmap(fg.grad(loss), in_axes=(None, 0))(w, x)
    want = np.stack([fg.grad(loss)(w, xi) for xi in x])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)
    jitted = fg.jit(fg.vmap(fg.grad(loss), in_axes=(None, 0)))(w, x)
    np.testing.assert_allclose(np.asarray(jitted), want, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- arguments, dtypes, errors

def test_dimension_numbers_as_jax_conv_dimension_numbers_and_strings():
    x, w, kw = _args("nhwc-hwio")
    dn = jlax.conv_dimension_numbers(x.shape, w.shape, NHWC)
    want = _jconv(x, w, kw)
    got = flax.conv_general_dilated(x, w, kw["window_strides"], "SAME", dimension_numbers=dn)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_dtypes():
    x, w, kw = _args("nchw-same", np.float32)
    assert flax.conv_general_dilated(x, w, **kw).dtype == np.float32
    assert fg.jit(lambda a, b: flax.conv_general_dilated(a, b, **kw))(x, w).dtype == np.float32
    assert flax.conv_general_dilated(x, w.astype(np.float64), **kw).dtype == np.float64
    g = fg.grad(lambda a, b: fnp.sum(flax.conv_general_dilated(a, b, **kw)), (0, 1))(x, w)
    assert g[0].dtype == np.float32 and g[1].dtype == np.float32
    assert flax.conv_general_dilated(x, w, **kw, preferred_element_type=np.float64).dtype == np.float64


def test_integer_convolution_matches_jax_exactly():
    rng = np.random.default_rng(0)
    x = rng.integers(-5, 5, (2, 3, 6, 5)).astype(np.int32)
    w = rng.integers(-3, 3, (4, 3, 3, 3)).astype(np.int32)
    kw = dict(window_strides=(1, 2), padding="SAME")
    want = _jconv(x, w, kw)
    got = flax.conv_general_dilated(x, w, **kw)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.asarray(fg.jit(lambda a, b: flax.conv_general_dilated(a, b, **kw))(x, w)), want)
    x8, w8 = x.astype(np.int8), w.astype(np.int8)
    wide = flax.conv_general_dilated(x8, w8, **kw, preferred_element_type=np.int32)
    assert wide.dtype == np.int32
    np.testing.assert_array_equal(wide, want)


@pytest.mark.parametrize("lhs, rhs, problem", [
    (np.ones((2, 3, 5, 5), bool), np.ones((4, 3, 3, 3), bool), "floating-point or two integer"),
    (np.ones((2, 3, 5, 5), np.int32), np.ones((4, 3, 3, 3), np.float32), "floating-point or two integer"),
])
def test_dtype_errors(lhs, rhs, problem):
    with pytest.raises(DTypeError, match=problem):
        flax.conv_general_dilated(lhs, rhs, (1, 1), "SAME")


def test_preferred_element_type_narrower_than_the_inputs_is_an_error():
    with pytest.raises(DTypeError, match="preferred_element_type float32"):
        flax.conv_general_dilated(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), (1, 1), "SAME",
                                  preferred_element_type=np.float32)


@pytest.mark.parametrize("lhs, rhs, kw, problem", [
    ((2, 3, 6, 6), (4, 2, 3, 3), {}, r"input has 3 features .* kernel's input feature dimension is 2"),
    ((2, 3, 6, 6), (4, 1, 3, 3), dict(feature_group_count=2), "feature_group_count 2 does not divide the 3 input"),
    ((2, 4, 6, 6), (5, 2, 3, 3), dict(feature_group_count=2), "does not divide the kernel's 5 output features"),
    ((3, 3, 6, 6), (4, 3, 3, 3), dict(batch_group_count=2), "batch_group_count 2 does not divide the batch of 3"),
    ((2, 4, 6, 6), (4, 2, 3, 3), dict(feature_group_count=2, batch_group_count=2), "both above 1"),
    ((2, 3, 6, 6), (4, 3, 3), {}, "same rank"),
    ((2, 3, 2, 6), (4, 3, 3, 3), dict(padding="VALID"), r"window \(3 with dilation\) is larger than the padded"),
    ((2, 3, 4, 6), (4, 3, 3, 3), dict(padding="VALID", rhs_dilation=(2, 1)), "larger than the padded input"),
    ((2, 3, 6, 6), (4, 3, 3, 3), dict(window_strides=(1,), padding=((1, 1), (1, 1))),
     "window_strides has 1 entries for 2 spatial"),
    ((2, 3, 6, 6), (4, 3, 3, 3), dict(window_strides=(1,)), r"window_strides \(1,\) .* need 2 entries"),
    ((2, 3, 6, 6), (4, 3, 3, 3), dict(padding=((1, 1),)), "padding has 1 pairs for 2"),
    ((2, 3, 6, 6), (4, 3, 3, 3), dict(padding="FULL"), "padding 'FULL'"),
    ((2, 3, 6, 6), (4, 3, 3, 3), dict(padding="SAME", lhs_dilation=(2, 2)), "string padding 'SAME' with lhs_dil"),
    ((2, 6, 6, 3), (3, 3, 3, 4), dict(dimension_numbers=("NHWC", "HWOO", "NHWC")), "needs 'O' and 'I' exactly"),
    ((2, 6, 6, 3), (3, 3, 3, 4), dict(dimension_numbers=("NHWC", "HWIO", "NHW")), "has 3 letters"),
    ((2, 6, 6, 3), (3, 3, 3, 4), dict(dimension_numbers=("NHWC", "HXIO", "NHWC")), "same spatial dimensions"),
])
def test_shape_errors_name_the_op_the_shapes_the_line_and_the_fix(lhs, rhs, kw, problem):
    kw = {"window_strides": (1, 1), "padding": "SAME", **kw}
    for run in (lambda a, b: flax.conv_general_dilated(a, b, **kw),
                fg.jit(lambda a, b: flax.conv_general_dilated(a, b, **kw))):
        with pytest.raises(ShapeError, match=problem) as e:
            run(np.ones(lhs), np.ones(rhs))
        msg = str(e.value)
        assert msg.startswith("conv_general_dilated: ") and "Fix: " in msg
        assert "test_conv.py" in msg


def test_the_jit_program_is_one_xla_convolution():
    x, w, kw = _args("nhwc-hwio", np.float32)
    text = fg.jit(lambda a, b: flax.conv_general_dilated(a, b, **kw)).lower(x, w).as_text()
    assert text.count("stablehlo.convolution") == 1
    ir = fg.make_ir(lambda a, b: flax.conv_general_dilated(a, b, **kw))(x, w)
    assert list(ir.primitives()) == ["conv_general_dilated"]


# ----------------------------------------------------------------------------- reduce_window

WINDOWS = {
    "pool2x2": ((2, 6, 7, 3), dict(window_dimensions=(1, 2, 2, 1), window_strides=(1, 2, 2, 1), padding="VALID")),
    "pool3x3-same": ((2, 6, 7, 3), dict(window_dimensions=(1, 3, 3, 1), window_strides=(1, 2, 2, 1), padding="SAME")),
    "overlapping": ((5, 8), dict(window_dimensions=(3, 2), window_strides=(1, 1), padding=((1, 1), (0, 1)))),
    "base-dilation": ((2, 6, 7, 3), dict(window_dimensions=(1, 2, 3, 1), window_strides=(1, 1, 2, 1),
                                         padding=((0, 0), (1, 1), (2, 0), (0, 0)), base_dilation=(1, 2, 1, 1))),
    "window-dilation": ((5, 8), dict(window_dimensions=(2, 3), window_strides=(1, 2), padding=((1, 1), (0, 1)),
                                     window_dilation=(2, 2))),
    "negative-padding": ((5, 8), dict(window_dimensions=(2, 3), window_strides=(1, 2), padding=((-1, 1), (2, -1)))),
    "1d-same-lower": ((9,), dict(window_dimensions=(3,), window_strides=(2,), padding="SAME_LOWER")),
}
REDUCTIONS = {"max": (flax.max, jlax.max, -np.inf), "add": (flax.add, jlax.add, 0.0),
              "min": (flax.min, jlax.min, np.inf)}


def _distinct(shape, seed=0):
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) * 0.37 - n / 5).reshape(shape)


def _jrw(x, which, kw):
    _, jop, init = REDUCTIONS[which]
    with jax.enable_x64(True):
        return jlax.reduce_window(x, np.asarray(init, x.dtype), jop, **kw)


@pytest.mark.parametrize("which", REDUCTIONS)
@pytest.mark.parametrize("case", WINDOWS)
def test_reduce_window_values_and_derivatives_match_jax(case, which):
    shape, kw = WINDOWS[case]
    x = _distinct(shape)
    fop, jop, init = REDUCTIONS[which]
    f = lambda a: flax.reduce_window(a, init, fop, **kw)
    want = np.asarray(_jrw(x, which, kw))
    np.testing.assert_allclose(f(x), want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(fg.jit(f)(x)), want, rtol=1e-12)
    t = np.random.default_rng(1).standard_normal(x.shape)
    g = np.random.default_rng(2).standard_normal(want.shape)
    with jax.enable_x64(True):
        jf = lambda a: jlax.reduce_window(a, init, jop, **kw)
        want_t = np.asarray(jax.jvp(jf, (x,), (t,))[1])
        try:
            want_g = np.asarray(jax.vjp(jf, x)[1](g)[0])
        except (NotImplementedError, TypeError):  # jax: no max VJP with window dilation or negative padding
            want_g = None
    np.testing.assert_allclose(fg.jvp(f, (x,), (t,))[1], want_t, rtol=1e-12)
    got_g = fg.vjp(f, x)[1](g)[0]
    if want_g is not None:
        np.testing.assert_allclose(got_g, want_g, rtol=1e-12, atol=1e-12)
    jit_g = fg.jit(lambda a, c: fg.vjp(f, a)[1](c)[0])(x, g)
    np.testing.assert_allclose(np.asarray(jit_g), got_g, rtol=1e-12, atol=1e-12)
    check_grads(f, (x,), order=2, modes=("fwd", "rev"))
    xs = np.stack([x, -x, 2 * x])
    np.testing.assert_allclose(fg.vmap(f)(xs), np.stack([f(a) for a in xs]), rtol=1e-12)


def test_max_ties_send_the_cotangent_to_the_first_maximum_as_jax():
    x = np.ones((3, 4))
    for kw in (dict(window_dimensions=(2, 2), window_strides=(2, 2), padding="VALID"),
               dict(window_dimensions=(3, 3), window_strides=(1, 1), padding="SAME"),
               dict(window_dimensions=(2, 3), window_strides=(1, 2), padding=((1, 0), (2, 1)))):
        f = lambda a: flax.reduce_window(a, -np.inf, flax.max, **kw)
        out = f(x)
        g = np.arange(1.0, out.size + 1).reshape(out.shape)
        t = np.arange(float(x.size)).reshape(x.shape)
        eager = fg.vjp(f, x)[1](g)[0]
        jitted = np.asarray(fg.jit(lambda a, c: fg.vjp(f, a)[1](c)[0])(x, g))
        with jax.enable_x64(True):
            jf = lambda a: jlax.reduce_window(a, -jnp.inf, jlax.max, **kw)
            want = np.asarray(jax.vjp(jf, x)[1](g)[0])
            want_t = np.asarray(jax.jvp(jf, (x,), (t,))[1])
        np.testing.assert_array_equal(eager, want)
        np.testing.assert_array_equal(jitted, want)
        np.testing.assert_array_equal(fg.jvp(f, (x,), (t,))[1], want_t)
    # 2x2 windows of equal values: all of each window's cotangent goes to its top-left element
    np.testing.assert_array_equal(fg.grad(lambda a: fnp.sum(fnn.max_pool(a, (2, 2), (2, 2))))(np.ones((1, 2, 4, 1))),
                                  np.array([1.0, 0, 1, 0, 0, 0, 0, 0]).reshape(1, 2, 4, 1))


@pytest.mark.parametrize("computation", [flax.max, fnp.maximum, np.maximum, jlax.max, jnp.maximum])
def test_reduce_window_accepts_the_max_of_every_namespace(computation):
    x = _distinct((4, 6))
    got = flax.reduce_window(x, -np.inf, computation, (2, 2), (2, 2), "VALID")
    np.testing.assert_array_equal(got, x.reshape(2, 2, 3, 2).max(axis=(1, 3)))


def test_reduce_window_integers_and_init_values():
    rng = np.random.default_rng(0)
    x = rng.integers(-50, 50, (4, 6)).astype(np.int32)
    with jax.enable_x64(True):
        jmax = np.asarray(jlax.reduce_window(x, np.int32(np.iinfo(np.int32).min), jlax.max, (2, 2), (1, 2), "SAME"))
        jsum = np.asarray(jlax.reduce_window(x, np.int32(0), jlax.add, (2, 3), (1, 2), "SAME"))
        jmin = np.asarray(jlax.reduce_window(x.astype(np.uint8), np.uint8(255), jlax.min, (2, 2), (1, 2), "SAME"))
        jinit = np.asarray(jlax.reduce_window(x.astype(float), 10.0, jlax.max, (2, 2), (1, 2), "SAME"))
    for which, got, want in [("max", flax.reduce_window(x, -np.inf, flax.max, (2, 2), (1, 2), "SAME"), jmax),
                             ("add", flax.reduce_window(x, 0, flax.add, (2, 3), (1, 2), "SAME"), jsum),
                             ("min", flax.reduce_window(x.astype(np.uint8), 255, flax.min, (2, 2), (1, 2), "SAME"),
                              jmin),
                             ("init", flax.reduce_window(x.astype(float), 10.0, flax.max, (2, 2), (1, 2), "SAME"),
                              jinit)]:
        assert got.dtype == want.dtype, which
        np.testing.assert_array_equal(got, want, err_msg=which)


def test_reduce_window_errors():
    x = np.ones((4, 6))
    with pytest.raises(NotImplementedError, match=r"computation mul is not supported.*\nFix: pass funcgrad.lax.add"):
        flax.reduce_window(x, 1.0, jlax.mul, (2, 2), (1, 1), "VALID")
    with pytest.raises(ValueError, match="add needs init_value 0"):
        flax.reduce_window(x, 1.0, flax.add, (2, 2), (1, 1), "VALID")
    with pytest.raises(ShapeError, match=r"reduce_window_max: window_dimensions \(2,\) has 1 entries for an "
                                         r"operand of rank 2.*test_conv.py"):
        flax.reduce_window(x, -np.inf, flax.max, (2,), (1,), ((0, 0), (0, 0)))
    with pytest.raises(ShapeError, match="larger than the padded input"):
        flax.reduce_window(x, 0.0, flax.add, (5, 2), (1, 1), "VALID")
    with pytest.raises(DTypeError, match="numeric operand"):
        flax.reduce_window(x > 0, 0, flax.add, (2, 2), (1, 1), "VALID")


def test_the_jit_program_is_one_xla_reduce_window():
    x = np.ones((2, 6, 6, 3), np.float32)
    text = fg.jit(lambda a: fnn.max_pool(a, (2, 2), (2, 2))).lower(x).as_text()
    assert text.count("stablehlo.reduce_window") == 1


# ----------------------------------------------------------------------------- funcgrad.nn

def _jpool(x, init, op, window, strides, padding):   # flax.linen.pooling.pool
    strides = strides or (1,) * len(window)
    pads = padding if isinstance(padding, str) else ((0, 0),) + tuple(padding) + ((0, 0),)
    with jax.enable_x64(True):
        return jlax.reduce_window(x, init, op, (1,) + window + (1,), (1,) + strides + (1,), pads)


POOLS = [((2, 2), None, "VALID"), ((2, 2), (2, 2), "VALID"), ((3, 3), (2, 2), "SAME"),
         ((3, 2), (1, 2), ((1, 1), (0, 1)))]


@pytest.mark.parametrize("window, strides, padding", POOLS)
def test_max_pool_and_avg_pool_match_flax_formulas(window, strides, padding):
    x = _distinct((2, 7, 6, 3))
    with jax.enable_x64(True):
        jmax = lambda a: _jpool(a, -jnp.inf, jlax.max, window, strides, padding)
        javg = lambda a: _jpool(a, 0.0, jlax.add, window, strides, padding) / np.prod(window)
        jcnt = lambda a: _jpool(a, 0.0, jlax.add, window, strides, padding) / _jpool(
            jnp.ones(a.shape[:-1] + (1,)), 0.0, jlax.add, window, strides, padding)
        g = np.random.default_rng(0).standard_normal(np.shape(jmax(x)))
        want = [(jf(x), jax.grad(lambda a: jnp.sum(jf(a) * g))(x)) for jf in (jmax, javg, jcnt)]
    funcs = [lambda a: fnn.max_pool(a, window, strides, padding), lambda a: fnn.avg_pool(a, window, strides, padding),
             lambda a: fnn.avg_pool(a, window, strides, padding, count_include_pad=False)]
    for f, (wv, wg) in zip(funcs, want):
        np.testing.assert_allclose(f(x), np.asarray(wv), rtol=1e-12)
        np.testing.assert_allclose(fg.grad(lambda a: fnp.sum(f(a) * g))(x), np.asarray(wg), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(fg.jit(f)(x)), np.asarray(wv), rtol=1e-12)


def test_pooling_keeps_float32_and_takes_unbatched_inputs():
    x = _distinct((6, 6, 2)).astype(np.float32)
    assert fnn.max_pool(x, (2, 2)).shape == (5, 5, 2) and fnn.max_pool(x, (2, 2)).dtype == np.float32
    assert fnn.avg_pool(x, (2, 2), (2, 2)).dtype == np.float32
    np.testing.assert_array_equal(fnn.max_pool(x, (2, 2)), fnn.max_pool(x[None], (2, 2))[0])


@pytest.mark.parametrize("stride, padding", [(1, "SAME"), (2, "VALID"), ((1, 2), 1), (2, ((1, 0), (2, 1)))])
def test_nn_conv_is_nhwc_hwio_as_flax(stride, padding):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 7, 6, 3)), rng.standard_normal((3, 2, 3, 4))
    strides = (stride,) * 2 if isinstance(stride, int) else stride
    pads = ((padding, padding),) * 2 if isinstance(padding, int) else padding
    want = _jconv(x, w, dict(window_strides=strides, padding=pads, dimension_numbers=NHWC))
    np.testing.assert_allclose(fnn.conv(x, w, stride, padding), want, rtol=1e-12)
    np.testing.assert_allclose(fnn.conv(x[0], w, stride, padding), want[0], rtol=1e-12)   # unbatched


def test_a_small_convnet_trains_the_same_eagerly_and_under_jit():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 8, 8, 1)).astype(np.float32)
    params = {"w1": rng.standard_normal((3, 3, 1, 4)).astype(np.float32) * 0.3,
              "w2": rng.standard_normal((16 * 4, 1)).astype(np.float32) * 0.3}

    def loss(p, x):
        h = fnp.tanh(fnn.conv(x, p["w1"]))
        h = fnn.max_pool(h, (2, 2), (2, 2))
        return fnp.mean((fnp.reshape(h, (h.shape[0], -1)) @ p["w2"]) ** 2)

    g = fg.grad(loss)(params, x)
    gj = fg.jit(fg.grad(loss))(params, x)
    for k in params:
        assert g[k].dtype == np.float32
        np.testing.assert_allclose(np.asarray(gj[k]), g[k], rtol=1e-4, atol=1e-6)


def test_max_derivative_on_large_windows_with_ties_and_nans_sends_each_cotangent_once():
    """Large enough for the whole-array passes (and the branch-free select) to run: each
    window's cotangent lands on exactly one element -- its first maximum, as jax's."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (8, 30, 30, 4)).astype(np.float32)       # many ties
    kw = dict(window_dimensions=(1, 3, 3, 1), window_strides=(1, 2, 2, 1), padding="SAME")
    f = lambda a: flax.reduce_window(a, -np.inf, flax.max, **kw)
    g = rng.standard_normal(np.shape(f(x))).astype(np.float32)
    jf = lambda a: jlax.reduce_window(a, -jnp.inf, jlax.max, **kw)
    # overlapping windows: summation order may differ from XLA's in the last bit
    np.testing.assert_allclose(fg.vjp(f, x)[1](g)[0], np.asarray(jax.vjp(jf, x)[1](g)[0]), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(fg.jvp(f, (x,), (x + 1,))[1], np.asarray(jax.jvp(jf, (x,), (x + 1,))[1]))
    # windows holding NaN: every window's cotangent still goes somewhere, and only once
    x[0, :4, :4, 0] = np.nan
    pooled = fnn.max_pool(x, (2, 2), (2, 2))
    ones = np.ones(np.shape(pooled), np.float32)
    back = fg.vjp(lambda a: fnn.max_pool(a, (2, 2), (2, 2)), x)[1](ones)[0]
    assert np.isnan(np.asarray(pooled)[0, :2, :2, 0]).all()
    np.testing.assert_array_equal(np.asarray(back).reshape(8, 15, 2, 15, 2, 4).sum(axis=(2, 4)), ones)
