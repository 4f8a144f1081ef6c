"""``funcgrad.jit``: results equal eager ones (values and exact dtypes) as jax.Arrays,
one trace per signature, static and donated arguments, inspection (``.lower``,
``.ir``), compile logging, thread safety, the bounded IR cache, and nesting."""
import logging
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

# GPUs may run float32 matmuls in TF32 (jax's default precision): compare float32
# results of jax programs with NumPy's more loosely there.
F32_RTOL = 2e-6 if jax.default_backend() == "cpu" else 5e-3


@pytest.fixture(autouse=True)
def _jax_x64_untouched():
    before = jax.config.jax_enable_x64
    yield
    assert jax.config.jax_enable_x64 == before, "funcgrad changed jax's global x64 flag"


def mlp(params, x):
    (w1, b1), (w2, b2) = params
    h = fnp.tanh(x @ w1 + b1)
    return fnp.sum((h @ w2 + b2) ** 2)


def make_params(dtype):
    r = np.random.default_rng(0)
    return ((r.standard_normal((3, 4)).astype(dtype), np.zeros(4, dtype)),
            (r.standard_normal((4, 2)).astype(dtype), np.ones(2, dtype)))


# ----------------------------------------------------------------------------- semantics

CASES = {
    "f32 elementwise": (lambda x: fnp.exp(x) * 2.0 - 1, [np.linspace(0, 1, 5, dtype=np.float32)]),
    "f64 elementwise": (lambda x: fnp.sin(x) / 3, [np.linspace(0, 1, 5)]),
    "f16": (lambda x: x * 2.0 + 1, [np.ones(3, np.float16)]),
    "int32 * python int": (lambda x: x * 2 + 1, [np.arange(4, dtype=np.int32)]),
    "int64 * python float": (lambda x: x * 2.5, [np.arange(4)]),
    "int / int": (lambda x, y: x / y, [np.arange(1, 4, dtype=np.int32), np.arange(1, 4, dtype=np.int32)]),
    "mixed f32 f64": (lambda x, y: x * y, [np.ones(2, np.float32), np.ones(2)]),
    "bool output": (lambda x: x > 0.5, [np.linspace(0, 1, 4)]),
    "uint8 sum": (lambda x: fnp.sum(x), [np.arange(5, dtype=np.uint8)]),
    "int mean": (lambda x: fnp.mean(x), [np.arange(5, dtype=np.int32)]),
    "reductions and shapes": (lambda x: fnp.concatenate([fnp.max(x, axis=0), x.T.reshape(-1)[:2]]),
                              [np.arange(6.0, dtype=np.float32).reshape(2, 3)]),
    "creation default float32": (lambda x: fnp.zeros(3) + fnp.arange(3) * 0.5 + x, [np.float32(1.0)]),
    "matmul f64": (lambda a, b: a @ b, [np.ones((2, 3)), np.ones((3, 2))]),
    "mlp f32": (mlp, [make_params(np.float32), np.ones((5, 3), np.float32)]),
    "grad mlp f64": (fg.grad(mlp), [make_params(np.float64), np.ones((5, 3))]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_jit_equals_eager_in_values_and_dtypes(name):
    f, args = CASES[name]
    want = f(*args)
    got = fg.jit(f)(*args)
    w_leaves, w_tree = jax.tree_util.tree_flatten(want)
    g_leaves, g_tree = jax.tree_util.tree_flatten(got)
    assert g_tree == w_tree
    for g, w in zip(g_leaves, w_leaves, strict=True):
        assert isinstance(g, jax.Array)
        assert g.dtype == np.asarray(w).dtype, (g.dtype, np.asarray(w).dtype)
        assert g.shape == np.shape(w)
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64), rtol=F32_RTOL, atol=1e-6)


def test_float64_stays_float64_without_touching_jax_config():
    assert not jax.config.jax_enable_x64   # the test suite runs with jax's default
    x = np.linspace(0, 1, 7)
    out = fg.jit(lambda x: fnp.exp(x) * (1.0 / 3.0))(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(np.asarray(out), np.exp(x) * (1.0 / 3.0), rtol=1e-13)   # float64 precision
    assert not jax.config.jax_enable_x64
    assert jnp.ones(2).dtype == np.float32   # the user's jax still defaults to float32


def test_results_are_jax_arrays_on_the_default_device():
    out = fg.jit(lambda x: {"y": x + 1.0, "z": [x * 2]})(np.ones(3, np.float32))
    for leaf in jax.tree_util.tree_leaves(out):
        assert isinstance(leaf, jax.Array)
        assert leaf.devices() == {jax.devices()[0]}


def test_inputs_may_be_numpy_jax_or_python_scalars():
    f = fg.jit(lambda x, y: x * y + 1.0)
    ref = np.array([3.0, 5.0], np.float32)
    for x in (np.array([1.0, 2.0], np.float32), jnp.array([1.0, 2.0], jnp.float32), fnp.asarray([1.0, 2.0])):
        out = f(x, 2.0)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, ref)
    out = f(2.0, 3)
    assert out.dtype == np.float32 and float(out) == 7.0
    out = f(2, 3)
    assert float(out) == 7.0
    out = f(np.float64(2.0), 3.0)
    assert out.dtype == np.float64


def test_jit_results_feed_back_into_jit_and_eager():
    step = fg.jit(lambda w: w - 0.1 * fg.grad(lambda w: fnp.sum(w ** 2))(w))
    w = np.ones(3, np.float32)
    for _ in range(3):
        w = step(w)
    assert isinstance(w, jax.Array) and w.dtype == np.float32
    np.testing.assert_allclose(w, 0.8 ** 3 * np.ones(3), rtol=1e-6)
    np.testing.assert_allclose(fnp.sum(w), 3 * 0.8 ** 3, rtol=1e-6)   # eager ops accept jax arrays
    assert step.trace_count == 1


def test_keyword_arguments_and_pytrees():
    f = fg.jit(lambda x, *, scale, extra: x * scale + extra["b"])
    out = f(np.ones(2), scale=3.0, extra={"b": np.ones(2)})
    np.testing.assert_array_equal(out, [4.0, 4.0])
    f(np.ones(2), scale=5.0, extra={"b": np.ones(2)})
    assert f.trace_count == 1      # a new value of a dynamic keyword argument is no new signature


def test_functions_of_no_arguments_and_constant_outputs():
    assert fg.jit(lambda: fnp.ones(2) * 3.0)().dtype == np.float32
    out = fg.jit(lambda x: (x, None, 1.0))(np.ones(2))
    assert out[1] is None and float(out[2]) == 1.0


# ----------------------------------------------------------------------------- tracing and caching

def test_trace_counts_follow_the_signature():
    f = fg.jit(lambda x: x * 2.0)
    f(np.ones(3, np.float32))
    f(np.zeros(3, np.float32))
    f(jnp.ones(3, jnp.float32))          # jax arrays of one signature share the trace
    assert f.trace_count == 1
    f(np.ones(4, np.float32))            # new shape
    assert f.trace_count == 2
    f(np.ones(4))                        # new dtype
    assert f.trace_count == 3
    f(1.0)                               # weak (Python) float scalar
    f(2.5)
    assert f.trace_count == 4
    f(np.float32(1.0))                   # strong float32 scalar: weak type differs
    assert f.trace_count == 5
    for x in (np.ones(3, np.float32), np.ones(4, np.float32), np.ones(4), 3.0, np.float32(2.0)):
        f(x)                             # every earlier signature is cached
    assert f.trace_count == 5


def test_pytree_structure_is_part_of_the_signature():
    f = fg.jit(lambda t: sum(fg.tree.leaves(t)))
    f({"a": 1.0, "b": 2.0})
    f({"a": 3.0, "b": 4.0})
    assert f.trace_count == 1
    f({"a": 1.0, "c": 2.0})
    f([1.0, 2.0])
    assert f.trace_count == 3


def test_static_argnums_retrace_once_per_value():
    def f(x, n, flag):
        for _ in range(n):               # Python control flow on static values
            x = x * 2.0
        return -x if flag else x

    jf = fg.jit(f, static_argnums=(1, 2))
    assert float(jf(1.0, 3, False)) == 8.0
    assert float(jf(2.0, 3, False)) == 16.0
    assert jf.trace_count == 1
    assert float(jf(1.0, 2, True)) == -4.0
    assert jf.trace_count == 2
    jf(1.0, 3, False)
    assert jf.trace_count == 2
    assert float(fg.jit(f, static_argnums=(-2, -1))(1.0, 1, True)) == -2.0


def test_static_argnames():
    def f(x, *, mode, n=1):
        return x * n if mode == "mul" else x + n

    jf = fg.jit(f, static_argnames=("mode", "n"))
    assert float(jf(2.0, mode="mul", n=3)) == 6.0
    assert float(jf(5.0, mode="mul", n=3)) == 15.0
    assert jf.trace_count == 1
    assert float(jf(2.0, mode="add", n=3)) == 5.0
    assert jf.trace_count == 2
    # a positional parameter named static is static when passed by position too
    g = fg.jit(lambda x, k: x * k if k > 1 else x, static_argnames="k")
    assert float(g(2.0, 3)) == 6.0 and float(g(2.0, k=1)) == 2.0


def test_unhashable_static_argument_is_a_clear_type_error():
    f = fg.jit(lambda x, shape: fnp.reshape(x, shape), static_argnums=1)
    with pytest.raises(TypeError) as e:
        f(np.ones(4), [2, 2])
    msg = str(e.value)
    assert "static argument 1" in msg and "unhashable" in msg and "list" in msg and "tuple" in msg
    assert "test_jit.py" in msg
    np.testing.assert_array_equal(f(np.ones(4), (2, 2)), np.ones((2, 2)))


def test_donate_argnums_is_accepted():
    step = fg.jit(lambda w, g: w - 0.5 * g, donate_argnums=0)
    w = jnp.ones(3)
    new = step(w, jnp.ones(3))
    np.testing.assert_array_equal(new, 0.5 * np.ones(3))
    new2 = step(new, jnp.ones(3))
    np.testing.assert_array_equal(new2, np.zeros(3))


def test_lower_shows_stablehlo_and_ir_shows_the_funcgrad_program():
    f = fg.jit(lambda x, y: fnp.tanh(x @ y))
    x, y = np.ones((2, 3)), np.ones((3, 4))
    text = f.lower(x, y).as_text()
    assert "stablehlo" in text and "tensor<2x3xf64>" in text and "tanh" in text
    ir = f.ir(x, y)
    assert isinstance(ir, fg.IR)
    assert ir.primitives() == ["dot_general", "tanh"]
    assert [str(a) for a in ir.in_avals] == ["f64[2,3]", "f64[3,4]"]
    assert [str(a) for a in ir.out_avals] == ["f64[2,4]"]
    np.testing.assert_allclose(fg.eval_ir(ir, x, y)[0], f(x, y))


def test_ir_and_lower_respect_static_arguments():
    f = fg.jit(lambda x, n, *, k: x * n + k, static_argnums=1, static_argnames="k")
    ir = f.ir(np.ones(2, np.float32), 3, k=2)
    assert len(ir.in_vars) == 1
    assert "3" in str(ir) and "2" in str(ir)
    assert "stablehlo" in f.lower(np.ones(2, np.float32), 3, k=2).as_text()
    # a static positional parameter passed by keyword
    g = fg.jit(lambda x, n: fnp.sum(x ** n), static_argnames="n")
    ir = g.ir(np.ones(2), n=3)
    assert [str(a) for a in ir.in_avals] == ["f64[2]"] and "pow a 3" in str(ir)
    ir = g.ir(np.ones(2), 3)
    assert [str(a) for a in ir.in_avals] == ["f64[2]"] and "pow a 3" in str(ir)


# ----------------------------------------------------------------------------- log_compiles

@pytest.fixture
def compile_log(monkeypatch, caplog):
    monkeypatch.setattr(fg.config, "log_compiles", True)
    caplog.set_level(logging.DEBUG, logger="funcgrad.jit")

    def lines():
        return [r.getMessage() for r in caplog.records if r.name == "funcgrad.jit"]
    return lines


def test_log_compiles_says_which_argument_changed_and_how(compile_log):
    def train_step(w, x, lr):
        return w - lr * x

    f = fg.jit(train_step, static_argnames="lr")
    w32 = np.ones(3, np.float32)
    f(w32, w32, lr=0.1)
    f(w32, w32, lr=0.1)                                   # cached: no line
    f(np.ones(4, np.float32), np.ones(4, np.float32), lr=0.1)
    f(np.ones(4), np.ones(4, np.float32), lr=0.1)
    f(np.ones(4), np.float32(2.0), lr=0.1)
    f(np.ones(4), 2.0, lr=0.1)
    f(np.ones(4), 2.0, lr=0.2)
    lines = compile_log()
    assert len(lines) == 6, lines
    assert all("train_step" in line for line in lines)
    assert "first call" in lines[0]
    assert "shape" in lines[1] and "f32[3] -> f32[4]" in lines[1]
    assert "dtype" in lines[2] and "f32[4] -> f64[4]" in lines[2]
    assert "argument [1]" in lines[3] and "shape" in lines[3]
    assert "weak type" in lines[4] and "f32[] -> f32[]~" in lines[4]
    assert "static argument lr" in lines[5] and "0.1" in lines[5] and "0.2" in lines[5]


def test_no_log_lines_when_log_compiles_is_off(caplog):
    caplog.set_level(logging.DEBUG, logger="funcgrad.jit")
    fg.jit(lambda x: x + 1)(np.ones(2))
    assert not [r for r in caplog.records if r.name == "funcgrad.jit"]


# ----------------------------------------------------------------------------- threads, cache bound

def test_eight_threads_calling_one_jitted_step_trace_once():
    params = make_params(np.float32)
    step = fg.jit(lambda p, x: fg.tree.map(lambda w, g: w - 0.01 * g, p, fg.grad(mlp)(p, x)))
    xs = [np.full((5, 3), i / 8, np.float32) for i in range(8)]
    want = [step.fun(params, x) for x in xs]
    results = [None] * 8
    errors = []
    barrier = threading.Barrier(8)

    def run(i):
        try:
            barrier.wait()
            for _ in range(3):
                results[i] = step(params, xs[i])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert step.trace_count == 1
    for got, w in zip(results, want, strict=True):
        for a, b in zip(fg.tree.leaves(got), fg.tree.leaves(w), strict=True):
            np.testing.assert_allclose(a, b, rtol=F32_RTOL, atol=1e-6)


def test_the_ir_cache_is_bounded_by_config(monkeypatch):
    monkeypatch.setattr(fg.config, "jit_cache_size", 3)
    f = fg.jit(lambda x: x + 1)
    for n in range(1, 8):
        np.testing.assert_array_equal(f(np.zeros(n)), np.ones(n))
    assert f.trace_count == 7
    assert len(f._irs) <= 3            # funcgrad's own cache of traced programs
    np.testing.assert_array_equal(f(np.zeros(7)), np.ones(7))


# ----------------------------------------------------------------------------- nesting

def test_jit_nested_in_jit_is_inlined_into_one_program():
    inner = fg.jit(lambda y: fnp.sin(y) * 2.0)
    outer = fg.jit(lambda x: inner(x) + inner(x * 3.0))
    x = np.linspace(0, 1, 4)
    np.testing.assert_allclose(outer(x), 2 * np.sin(x) + 2 * np.sin(3 * x), rtol=1e-12)
    assert outer.trace_count == 1
    assert str(outer.ir(x)).count("= sin") == 2


def test_jitted_function_closing_over_an_outer_tracer_is_inlined():
    def loss(w):
        f = fg.jit(lambda x: fnp.sum(x * w ** 2))      # w is a tracer of the enclosing grad
        return f(np.arange(3.0))

    assert float(fg.grad(loss)(2.0)) == pytest.approx(12.0)      # d/dw 3 w^2
    assert float(fg.jvp(loss, (2.0,), (1.0,))[1]) == pytest.approx(12.0)
    assert float(fg.jit(fg.grad(loss))(2.0)) == pytest.approx(12.0)


def test_one_jitted_function_used_eagerly_and_inside_grad():
    f = fg.jit(lambda x: fnp.sum(fnp.sin(x)))
    x = np.array([0.1, 0.2])
    f(x)
    np.testing.assert_allclose(fg.grad(f)(x), np.cos(x))
    np.testing.assert_allclose(fg.grad(f)(x * 2), np.cos(2 * x))
    np.testing.assert_allclose(f(x), np.sum(np.sin(x)))
    assert f.trace_count == 1


# ----------------------------------------------------------------------------- jit inside other transforms

def test_grad_of_jit_runs_compiled_forward_and_backward():
    traces = []

    def f(x, w):
        traces.append(1)  # runs only while f is traced
        return fnp.sum(fnp.tanh(x @ w) ** 2)

    jf = fg.jit(f)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    g = fg.grad(jf, argnums=1)(x, w)
    assert isinstance(g, jax.Array) and g.dtype == np.float64
    assert len(traces) == 1                          # traced once, into one program
    np.testing.assert_allclose(g, fg.grad(f, argnums=1)(x, w), rtol=1e-12)
    fg.grad(jf, argnums=1)(x, w + 1.0)
    assert len(traces) == 2                          # f ran once more eagerly, above; jf was not traced again
    # higher order and forward mode through the compiled programs
    np.testing.assert_allclose(fg.hessian(lambda v: jf(x, v))(w), fg.hessian(lambda v: f(x, v))(w), rtol=1e-10)
    t = np.ones_like(w)
    np.testing.assert_allclose(fg.jvp(lambda v: jf(x, v), (w,), (t,))[1],
                               fg.jvp(lambda v: f(x, v), (w,), (t,))[1], rtol=1e-12)


def test_eager_ops_on_float64_jit_results_stay_float64():
    out = fg.jit(lambda v: v * 2)(np.linspace(0.0, 1.0, 5))
    assert out.dtype == np.float64
    for r in (fnp.sum(out), fnp.reshape(out, (5, 1)), fnp.cumsum(out), fnp.sort(out),
              fnp.asarray(out).astype(np.float64), fnp.max(out), fnp.transpose(out)):
        assert np.asarray(r).dtype == np.float64


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_debug_nans_under_jit_names_the_primitive_and_the_line():
    def f(x):
        y = fnp.log(x)  # NAN-LINE
        return y * 2

    jf = fg.jit(f)
    assert np.isnan(np.asarray(jf(np.array([-1.0, 1.0])))).any()  # off: no error
    fg.config.debug_nans = True
    try:
        with pytest.raises(FloatingPointError, match="log") as e:
            jf(np.array([-1.0, 1.0]))
        assert "test_jit.py" in str(e.value)
        np.testing.assert_allclose(jf(np.array([1.0, 2.0])), 2 * np.log([1.0, 2.0]))  # finite: no error
    finally:
        fg.config.debug_nans = False


def test_jit_of_a_function_closing_over_arrays_from_an_earlier_jit_computes_with_them():
    """Params returned by one jitted step are jax arrays; a later jitted function that closes
    over them and combines them in Python (``w + w``) sees their values as constants."""
    import funcgrad.numpy as fnp
    w = fg.jit(lambda x: x * 2)(np.ones(3, np.float32))
    np.testing.assert_allclose(fg.jit(lambda: fnp.sin(w + w))(), np.sin(np.full(3, 4.0, np.float32)), rtol=1e-6)
    np.testing.assert_allclose(fg.jit(lambda x: fnp.sin(w @ w + x))(1.0), np.sin(13.0), rtol=1e-6)
    np.testing.assert_allclose(fg.grad(fg.jit(lambda x: fnp.sum(fnp.sin(w * x))))(1.0), 6 * np.cos(2.0), rtol=1e-6)
    np.testing.assert_allclose(fg.vmap(fg.jit(lambda x: fnp.sum(w * w * x)))(np.arange(3.0)), 12 * np.arange(3.0))


def test_a_warm_jit_called_under_transforms_traces_only_what_they_need():
    """Called under grad or vmap with a new shape, a jitted function runs its Python once
    (staged as a sub-program of the transform), not once more for jax to refuse."""
    runs = []

    @fg.jit
    def f(x):
        runs.append(x.shape)
        return fnp.sum(fnp.sin(x))

    f(np.ones(3, np.float32))
    assert len(runs) == 1
    g = fg.grad(f)(np.ones(4, np.float32))
    np.testing.assert_allclose(g, np.cos(np.ones(4)), rtol=1e-6)
    assert len(runs) == 2
    fg.grad(f)(np.ones(4, np.float32))  # the same signature again: its program is kept
    assert len(runs) == 2
    np.testing.assert_allclose(fg.vmap(f)(np.ones((2, 5), np.float32)), [5 * np.sin(1.0)] * 2, rtol=1e-6)
    assert len(runs) == 3
    np.testing.assert_allclose(f(np.ones(3, np.float32)), 3 * np.sin(1.0), rtol=1e-6)  # warm path again
    assert len(runs) == 3 and f.trace_count == 1
