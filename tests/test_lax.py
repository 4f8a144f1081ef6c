"""funcgrad.lax control flow -- cond, switch, while_loop, fori_loop, scan, map --
eagerly and under every transform and their compositions, against jax.lax's results
for the same program written with jax (float64 oracles)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.errors import DTypeError, NonDifferentiableError, ShapeError, TreeStructureError

RNG = np.random.default_rng(3)
X = RNG.uniform(0.2, 1.2, (4, 3))
T = RNG.standard_normal((4, 3))
THRESH = float(np.median(X.sum(1)))  # half the rows take each branch


class FG:
    grad, vmap, jit, jvp, hessian, np, lax = fg.grad, fg.vmap, fg.jit, fg.jvp, fg.hessian, fnp, fg.lax


class JAX:
    grad, vmap, jit, jvp, hessian, np, lax = jax.grad, jax.vmap, jax.jit, jax.jvp, jax.hessian, jnp, jax.lax


def subject(kind, M):
    """``f: f64[3] -> array`` written with library ``M``'s control flow; the functions
    close over ``x`` (a tracer of the enclosing transform) and over a constant."""
    m, L = M.np, M.lax
    w = m.asarray(np.array([2.0, -1.0, 0.3]))

    def f(x):
        if kind == "cond":
            return L.cond(m.sum(x) > THRESH, lambda a: m.sin(a) * x, lambda a: a ** 2 + w, x)
        if kind == "cond_pytree":
            out = L.cond(m.sum(x) > THRESH, lambda d: {"u": d["p"] * w, "v": (m.cos(d["q"]),)},
                         lambda d: {"u": d["q"] * 3.0, "v": (d["p"] * x,)}, {"p": x, "q": x[::-1]})
            return out["u"] + out["v"][0]
        if kind == "switch":
            index = m.sum(x > 0.7)  # 0..3; 3 is clamped to the last branch
            return L.switch(index, [lambda a: a * w, lambda a: m.sin(a) * x, lambda a: m.exp(a)], x)
        if kind == "fori":
            return L.fori_loop(0, 5, lambda i, c: m.sin(c) * x + i * w, x)
        if kind == "while_count":
            return L.while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, m.sin(c[1]) * x + w), (0, x))[1]
        if kind == "while_data":
            return L.while_loop(lambda c: m.sum(c) < 6.0, lambda c: c * 1.5 + x, x)
        if kind in ("scan", "scan_reverse"):
            def body(c, xi):
                a, b = c["a"], c["b"]
                return {"a": m.sin(a) * xi + m.sum(b), "b": b * 0.9 + a * xi * w}, (a * xi, m.cos(b))
            out, ys = L.scan(body, {"a": x[0], "b": x}, x, reverse=kind == "scan_reverse")
            return ys[0] + m.sum(ys[1] * out["a"], axis=1) + out["b"]
        if kind == "map":
            return m.sum(L.map(lambda r: m.sin(r) * x, x), axis=0)
        raise ValueError(kind)
    return f


def _loss(M, f):
    return lambda x: M.np.sum(f(x) ** 2)


COMPOSITIONS = {
    "eager": lambda M, f: f(X[0]),
    "jit": lambda M, f: M.jit(f)(X[0]),
    "grad": lambda M, f: M.grad(_loss(M, f))(X[0]),
    "vmap": lambda M, f: M.vmap(f)(X),
    "jvp": lambda M, f: M.jvp(f, (X[0],), (T[0],)),
    "vmap(grad)": lambda M, f: M.vmap(M.grad(_loss(M, f)))(X),
    "grad(vmap)": lambda M, f: M.grad(lambda x: M.np.sum(M.vmap(f)(x) ** 2))(X),
    "jit(vmap)": lambda M, f: M.jit(M.vmap(f))(X),
    "vmap(jit)": lambda M, f: M.vmap(M.jit(f))(X),
    "jit(grad)": lambda M, f: M.jit(M.grad(_loss(M, f)))(X[0]),
    "grad(jit)": lambda M, f: M.grad(_loss(M, M.jit(f)))(X[0]),
    "jvp(vmap)": lambda M, f: M.jvp(M.vmap(f), (X,), (T,)),
    "vmap(jvp)": lambda M, f: M.vmap(lambda x, t: M.jvp(f, (x,), (t,)))(X, T),
    "jit(jvp)": lambda M, f: M.jit(lambda x, t: M.jvp(f, (x,), (t,)))(X[0], T[0]),
}
REVERSE = {"grad", "vmap(grad)", "grad(vmap)", "jit(grad)", "grad(jit)"}
KINDS = ["cond", "cond_pytree", "switch", "fori", "while_count", "while_data", "scan", "scan_reverse", "map"]
WHILE = {"while_count", "while_data"}


def _close(got, want, rtol=1e-10):
    gl, wl = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)
    assert len(gl) == len(wl)
    for g, w in zip(gl, wl, strict=True):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("comp", COMPOSITIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_composition_matches_jax(kind, comp):
    run = COMPOSITIONS[comp]
    if kind in WHILE and comp in REVERSE:
        with pytest.raises(NonDifferentiableError, match="while_loop.*\n.*fori_loop"):
            run(FG, subject(kind, FG))
        return
    with jax.enable_x64(True):
        want = run(JAX, subject(kind, JAX))
    _close(run(FG, subject(kind, FG)), want)


@pytest.mark.parametrize("kind", ["cond", "switch", "scan", "fori"])
def test_grad_of_grad_matches_jax(kind):
    def run(M):
        f = subject(kind, M)
        return M.grad(lambda x: M.np.sum(M.grad(_loss(M, f))(x) * M.np.sin(x)))(X[1])
    with jax.enable_x64(True):
        want = run(JAX)
    _close(run(FG), want)


@pytest.mark.parametrize("kind", ["scan", "scan_reverse", "fori", "cond"])
def test_hessian_matches_jax(kind):
    with jax.enable_x64(True):
        want = JAX.hessian(_loss(JAX, subject(kind, JAX)))(X[2])
    _close(FG.hessian(_loss(FG, subject(kind, FG)))(X[2]), want)


@pytest.mark.parametrize("kind", ["cond", "switch", "while_data", "scan", "fori"])
def test_make_ir_of_grad_or_jvp_is_well_typed_and_evaluates(kind):
    f = subject(kind, FG)
    g = (lambda x: fg.jvp(f, (x,), (T[0],))[1]) if kind in WHILE else fg.grad(_loss(FG, f))
    ir = fg.make_ir(g)(X[0])
    ir.check()
    _close(fg.eval_ir(ir, X[0]), jax.tree_util.tree_leaves(g(X[0])))


# ---------------------------------------------------------------------------- semantics

def test_eager_cond_runs_only_the_taken_branch():
    ran = []

    def yes(x):
        ran.append("yes")
        return x + 1

    out = lax.cond(True, yes, lambda x: x * 0, np.ones(2))
    assert isinstance(out, np.ndarray) and out.tolist() == [2.0, 2.0]
    # Python bools and ints as predicates, under jit too
    assert fg.jit(lambda x: lax.cond(0, lambda a: a + 1, lambda a: a - 1, x))(1.0) == 0.0
    assert fg.jit(lambda x: lax.cond(x > 0, lambda a: a + 1, lambda a: a - 1, x))(1.0) == 2.0


def test_switch_clamps_the_index_like_jax():
    branches = [lambda a: a, lambda a: a + 1, lambda a: a * 10]
    for i in (-3, 0, 1, 2, 7):
        with jax.enable_x64(True):
            want = float(jax.lax.switch(i, branches, 2.0))
        assert lax.switch(i, branches, 2.0) == want
        assert fg.jit(lambda j: lax.switch(j, branches, 2.0))(i) == want
    np.testing.assert_array_equal(fg.vmap(lambda j: lax.switch(j, branches, 2.0))(np.array([-1, 0, 1, 2, 5])),
                                  [2.0, 2.0, 3.0, 20.0, 20.0])


def test_while_loop_with_a_batched_predicate_freezes_finished_members():
    f = lambda x: lax.while_loop(lambda c: c[1] < 10.0, lambda c: (c[0] + 1, c[1] * 2.0), (0, x))  # noqa: E731
    n, v = fg.vmap(f)(np.array([1.0, 3.0, 20.0]))
    np.testing.assert_array_equal(n, [4, 2, 0])
    np.testing.assert_array_equal(v, [16.0, 12.0, 20.0])
    n2, v2 = fg.jit(fg.vmap(f))(np.array([1.0, 3.0, 20.0]))
    np.testing.assert_array_equal(n2, n)
    np.testing.assert_array_equal(v2, v)


def test_fori_loop_with_traced_bounds_is_a_while_loop():
    f = fg.jit(lambda x, n: lax.fori_loop(0, n, lambda i, c: c * 2.0 + i, x))
    assert f(1.0, 3) == ((1 * 2 + 0) * 2 + 1) * 2 + 2
    assert "while" in fg.make_ir(lambda x, n: lax.fori_loop(0, n, lambda i, c: c * 2.0, x))(1.0, 3).primitives()
    with pytest.raises(NonDifferentiableError, match="while_loop"):
        fg.jit(fg.grad(lambda x, n: lax.fori_loop(0, n, lambda i, c: c * x, x)))(1.0, 3)
    # concrete bounds: a scan, reverse-differentiable
    assert fg.grad(lambda x: lax.fori_loop(0, 3, lambda i, c: c * x, x))(2.0) == 4 * 2.0 ** 3


def test_while_loop_forward_mode_and_jacfwd():
    f = lambda x: lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * c[1]), (0, x))[1]  # noqa: E731
    assert fg.jacfwd(f)(1.5) == pytest.approx(8 * 1.5 ** 7)


def test_scan_pytrees_length_and_no_xs():
    carry, ys = lax.scan(lambda c, _: ((c[0] + 1, c[1] * 2), {"c": c[1]}), (0, 1.0), None, length=4)
    assert carry[0] == 4 and carry[1] == 16.0
    np.testing.assert_array_equal(ys["c"], [1.0, 2.0, 4.0, 8.0])
    with jax.enable_x64(True):
        want = jax.lax.scan(lambda c, x: (c + x["a"] * x["b"], c), np.zeros(3), {"a": X, "b": T}, reverse=True)
    _close(lax.scan(lambda c, x: (c + x["a"] * x["b"], c), np.zeros(3), {"a": X, "b": T}, reverse=True), want)
    _close(fg.jit(lambda a, b: lax.scan(lambda c, x: (c + x["a"] * x["b"], c), np.zeros(3), {"a": a, "b": b},
                                        reverse=True))(X, T), want)


def test_scan_keeps_dtypes():
    x32 = X.astype(np.float32)
    c, ys = lax.scan(lambda c, x: (c + x, x * 2.0), np.zeros(3, np.float32), x32)
    assert c.dtype == np.float32 and ys.dtype == np.float32
    c, ys = fg.jit(lambda x: lax.scan(lambda c, x: (c + x, x * 2.0), np.zeros(3, np.float32), x))(x32)
    assert c.dtype == np.float32 and ys.dtype == np.float32
    g = fg.grad(lambda x: lax.scan(lambda c, x: (c * x, None), np.ones(3, np.float32), x)[0].sum())(x32)
    assert g.dtype == np.float32


def test_a_long_scan_is_as_small_a_program_as_a_short_one():
    def f(n):
        return lambda x: lax.scan(lambda c, i: (fnp.sin(c) * x + c, c * 2.0), x, None, length=n)

    x = np.float64(0.5)
    short, long = fg.make_ir(f(10))(x), fg.make_ir(f(1000))(x)
    assert len(str(short).splitlines()) == len(str(long).splitlines())
    assert abs(len(str(short)) - len(str(long))) <= 4
    hs, hl = fg.jit(f(10)).lower(x).as_text(), fg.jit(f(1000)).lower(x).as_text()
    assert len(hs.splitlines()) == len(hl.splitlines())
    assert abs(len(hs) - len(hl)) <= 64  # the digits of 10 and 1000
    # and so are their gradients
    gs = fg.jit(fg.grad(lambda x: f(10)(x)[1].sum())).lower(x).as_text()
    gl = fg.jit(fg.grad(lambda x: f(1000)(x)[1].sum())).lower(x).as_text()
    assert len(gs.splitlines()) == len(gl.splitlines())
    assert "while" in gl  # XLA's loop, not unrolled


def test_the_ir_nests_the_body():
    ir = fg.make_ir(lambda x: lax.scan(lambda c, xi: (c + xi, c * xi), 0.0, x))(X[0])
    assert ir.primitives() == ["scan", "add", "mul"]
    assert len(ir.eqns) == 1


def test_select_and_stop_gradient():
    np.testing.assert_array_equal(lax.select(np.array([True, False]), np.ones(2), np.zeros(2)), [1.0, 0.0])
    assert fg.grad(lambda x: x * lax.stop_gradient(x))(3.0) == 3.0


# ---------------------------------------------------------------------------- errors

def test_branches_with_different_structures():
    with pytest.raises(TreeStructureError, match=r"test_lax.py.*") as e:
        lax.cond(True, lambda x: (x, x), lambda x: x, 1.0)
    assert "true_fun" in str(e.value) and "false_fun" in str(e.value)


def test_branches_with_different_dtypes_or_shapes():
    with pytest.raises(DTypeError, match=r"i32.*f32|f32.*i32"):
        lax.cond(True, lambda x: np.int32(1), lambda x: np.float32(1), 1.0)
    with pytest.raises(ShapeError, match=r"f64\[3\].*f64\[2\]|f64\[2\].*f64\[3\]"):
        fg.jit(lambda x: lax.cond(x[0] > 0, lambda a: a, lambda a: a[:2], x))(X[0])
    # a weak Python scalar meets a float32: it promotes, as in JAX
    assert lax.cond(False, lambda x: np.float32(1), lambda x: 2.0, 1.0).dtype == np.float32


def test_a_carry_that_changes_type_names_the_leaf():
    with pytest.raises(DTypeError, match=r"\[1\].*input i32\[3\], output f64\[3\].*test_lax.py"):
        lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 0.5 + X[0]), (0, np.zeros(3, np.int32)))
    with pytest.raises(ShapeError, match=r"input f64\[3\], output f64\[1,3\]"):
        lax.scan(lambda c, x: (c[None] + x, None), X[0], X)
    with pytest.raises(TreeStructureError):
        lax.fori_loop(0, 3, lambda i, c: (c, c), X[0])


def test_scan_xs_with_different_leading_sizes():
    with pytest.raises(ShapeError, match=r"different leading sizes.*4.*3.*test_lax.py"):
        lax.scan(lambda c, x: (c, None), 0.0, (X, X.T))
    with pytest.raises(ShapeError, match="length=5"):
        lax.scan(lambda c, x: (c, None), 0.0, X, length=5)


def test_cond_with_a_non_scalar_predicate():
    with pytest.raises(TypeError, match="scalar"):
        fg.jit(lambda x: lax.cond(x > 0, lambda a: a, lambda a: -a, x))(X[0])


def test_reverse_mode_of_while_loop_says_what_to_use():
    with pytest.raises(NonDifferentiableError, match=r"while_loop.*test_lax.py(.|\n)*fori_loop.*scan"):
        fg.grad(lambda x: lax.while_loop(lambda c: c < 10.0, lambda c: c * x, x))(2.0)
    # integer-only loops and loops whose output is not differentiated are fine
    assert fg.grad(lambda x: x * lax.while_loop(lambda i: i < 3, lambda i: i + 1, 0))(2.0) == 3.0


def _nested(M, x):
    m, L = M.np, M.lax

    def body(c, xi):
        c = L.cond(xi > 0.6, lambda a: m.sin(a) * xi, lambda a: a + xi ** 2, c)
        return c, L.fori_loop(0, 2, lambda i, z: z * c + xi, xi)

    c, ys = L.scan(body, x[0], x)
    return c + m.sum(ys)


NESTED = {
    "eager": lambda M: _nested(M, X[0]),
    "grad": lambda M: M.grad(lambda x: _nested(M, x))(X[0]),
    "vmap(grad)": lambda M: M.vmap(M.grad(lambda x: _nested(M, x)))(X),
    "jit(vmap(grad))": lambda M: M.jit(M.vmap(M.grad(lambda x: _nested(M, x))))(X),
    "vmap(in_axes=1)": lambda M: M.vmap(lambda x: _nested(M, x), in_axes=1)(X),
    "jvp(grad)": lambda M: M.jvp(M.grad(lambda x: _nested(M, x)), (X[0],), (T[0],)),
}


@pytest.mark.parametrize("comp", NESTED)
def test_nested_control_flow_matches_jax(comp):
    with jax.enable_x64(True):
        want = NESTED[comp](JAX)
    _close(NESTED[comp](FG), want)


def test_while_inside_scan_under_jvp_and_vmap():
    def g(M, x):
        L = M.lax
        return L.scan(lambda c, xi: (L.while_loop(lambda z: z < 5.0, lambda z: z * 1.7 + xi, c * 0 + xi), None),
                      x[0], x)[0]
    with jax.enable_x64(True):
        want_t = JAX.jvp(lambda x: g(JAX, x), (X[0],), (T[0],))
        want_v = JAX.vmap(lambda x: g(JAX, x))(X)
    _close(FG.jvp(lambda x: g(FG, x), (X[0],), (T[0],)), want_t)
    _close(FG.vmap(lambda x: g(FG, x))(X), want_v)
