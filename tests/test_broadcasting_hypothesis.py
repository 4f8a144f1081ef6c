"""Broadcasting of binary (and ternary) elementwise ops over random compatible shapes:
eager against NumPy (values, shapes, dtypes), the IR's output aval, and the shapes and
dtypes of gradients (the VJP sums broadcast dimensions away)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.errors import ShapeError

BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "arctan2", "hypot", "logaddexp", "power",
          "equal", "less", "logical_and"]
DTYPES = [np.float32, np.float64, np.int32, np.uint8, np.bool_]
# Deterministic in CI (a fixed set of examples); raise max_examples locally to explore more.
FAST = settings(max_examples=40, deadline=None, derandomize=True)

two_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def _array(draw_int, shape, dtype):
    rng = np.random.default_rng(draw_int)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) < 0.5
    return rng.uniform(1.0, 3.0, shape).astype(dtype)  # positive: every op is defined


@FAST
@given(shapes=two_shapes, name=st.sampled_from(BINARY),
       dtypes=st.tuples(st.sampled_from(DTYPES), st.sampled_from(DTYPES)), seed=st.integers(0, 2**16))
def test_binary_broadcasting_matches_numpy(shapes, name, dtypes, seed):
    (sx, sy), out_shape = shapes
    x, y = _array(seed, sx, dtypes[0]), _array(seed + 1, sy, dtypes[1])
    ref = getattr(np, name)
    try:
        with np.errstate(all="ignore"):
            want = np.asarray(ref(x, y))
    except TypeError:
        return  # NumPy refuses this dtype pair (e.g. arctan2 of bools)
    f = getattr(fnp, name)
    with np.errstate(all="ignore"):
        got = np.asarray(f(x, y))
    assert got.shape == want.shape == out_shape
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-5)
    aval = fg.make_ir(f)(x, y).out_avals[0]
    assert aval.shape == out_shape and aval.dtype == want.dtype


@FAST
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), seed=st.integers(0, 2**16))
def test_where_broadcasts_three_ways(shapes, seed):
    (sc, sx, sy), out_shape = shapes
    c, x, y = _array(seed, sc, np.bool_), _array(seed + 1, sx, np.float32), _array(seed + 2, sy, np.float64)
    got, want = fnp.where(c, x, y), np.where(c, x, y)
    assert got.shape == want.shape == out_shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert fg.make_ir(fnp.where)(c, x, y).out_avals[0].shape == out_shape


@FAST
@given(shapes=two_shapes, name=st.sampled_from(["add", "subtract", "multiply", "divide", "maximum", "power"]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_gradients_unbroadcast_to_input_shapes(shapes, name, dtype, seed):
    (sx, sy), _ = shapes
    x, y = _array(seed, sx, dtype), _array(seed + 1, sy, dtype)
    f = getattr(fnp, name)
    gx, gy = fg.grad(lambda a, b: fnp.sum(f(a, b)), argnums=(0, 1))(x, y)
    assert np.shape(gx) == sx and np.shape(gy) == sy
    assert np.asarray(gx).dtype == dtype and np.asarray(gy).dtype == dtype
    # d/dx sum(x + y) counts how often each element of x was broadcast
    if name == "add":
        count = int(np.prod(np.broadcast_shapes(sx, sy))) // max(int(np.prod(sx)), 1)
        np.testing.assert_allclose(gx, np.full(sx, count, dtype))


def _incompatible(shapes):
    try:
        np.broadcast_shapes(*shapes)
        return False
    except ValueError:
        return True


@FAST
@given(shapes=st.tuples(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                        hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)).filter(_incompatible))
def test_incompatible_shapes_raise_shape_error(shapes):
    x, y = np.ones(shapes[0], np.float32), np.ones(shapes[1], np.float32)
    with pytest.raises(ShapeError):
        fnp.add(x, y)
    with pytest.raises(ShapeError):
        fg.make_ir(fnp.add)(x, y)
