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
    # a ShapeError that is also the TypeError JAX raises, eagerly and under jit, naming the user's line
    for run in (lambda f, x: f(x), lambda f, x: fg.jit(f)(x)):
        with pytest.raises(ShapeError, match=r"cond: pred must be a scalar, got bool\[3\].*test_lax.py"
                                             r"(.|\n)*fnp.all"):
            run(lambda x: lax.cond(x > 0, lambda a: a, lambda a: -a, x), X[0])
    with pytest.raises(ShapeError, match=r"switch: the index must be an integer \(or bool\) scalar, got i64\[2\]"
                                         r".*test_lax.py"):
        lax.switch(np.array([0, 1]), [lambda a: a, lambda a: -a], X[0])
    with pytest.raises(DTypeError, match=r"switch: the index must be an integer.*f32\[\].*test_lax.py"):
        fg.jit(lambda i: lax.switch(i, [lambda a: a, lambda a: -a], X[0]))(np.float32(1.0))
    with pytest.raises(ShapeError, match=r"while_loop: cond_fun must return a boolean scalar, got bool\[3\].*test_lax"):
        lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, X[0])
    with pytest.raises(DTypeError, match=r"while_loop: cond_fun must return a boolean scalar, got f64\[\]"):
        lax.while_loop(lambda c: c.sum(), lambda c: c * 2.0, X[0])


def test_switch_with_no_branches_says_to_pass_one():
    for run in (lambda f: f(1.0), lambda f: fg.jit(f)(1.0)):
        with pytest.raises(TreeStructureError, match=r"switch: the list of branches is empty.*test_lax.py"
                                                     r"(.|\n)*at least one branch"):
            run(lambda x: lax.switch(0, [], x))


def test_switch_branches_that_disagree_show_both():
    cases = [(TreeStructureError, [lambda a: a, lambda a: (a, a)], r"PyTreeDef\(\*\).*PyTreeDef\(\(\*, \*\)\)"),
             (ShapeError, [lambda a: a, lambda a: a[:2]], r"f64\[3\].*f64\[2\]"),
             (DTypeError, [lambda a: a, lambda a: a.astype(np.int32)], r"f64\[3\].*i32\[3\]")]
    for err, fns, types in cases:
        for run in (lambda f: f(X[0]), lambda f: fg.jit(f)(X[0]), lambda f: fg.grad(lambda x: f(x)[0].sum())(X[0])):
            with pytest.raises(err, match=r"^switch: .*" + types + r".*test_lax.py") as e:
                run(lambda x: lax.switch(1, fns, x))
            assert "branch 0 (<lambda>)" in str(e.value) and "branch 1 (<lambda>)" in str(e.value)


@pytest.mark.parametrize("how", ["eager", "jit", "grad", "traced bounds"])
def test_fori_loop_carry_errors_name_fori_loop(how):
    def run(body, x):
        if how == "eager":
            return lax.fori_loop(0, 3, body, x)
        if how == "jit":
            return fg.jit(lambda x: lax.fori_loop(0, 3, body, x))(x)
        if how == "grad":
            return fg.grad(lambda x: fnp.sum(lax.fori_loop(0, 3, body, x)))(x)
        return fg.jit(lambda x, n: lax.fori_loop(0, n, body, x))(x, 3)  # a while_loop inside

    cases = [(DTypeError, lambda i, c: c.astype(np.float32), r"at leaf <root>: input f64\[3\], output f32\[3\]"),
             (ShapeError, lambda i, c: c[None], r"at leaf <root>: input f64\[3\], output f64\[1,3\]"),
             (TreeStructureError, lambda i, c: (c, c), r"structure PyTreeDef\(\(\*, \*\)\) but the carry input has "
                                                      r"PyTreeDef\(\*\)")]
    for err, body, detail in cases:
        with pytest.raises(err, match=r"^fori_loop body_fun: .*" + detail + r".*test_lax.py") as e:
            run(body, X[0])
        assert "scan" not in str(e.value) and "while_loop" not in str(e.value)
    with pytest.raises(DTypeError, match=r"fori_loop body_fun: .*at leaf \['b'\]: input f64\[3\], output f32\[3\]"):
        run(lambda i, c: {"a": c["a"], "b": c["b"].astype(np.float32)}, {"a": X[0], "b": X[1]})


def test_scan_and_map_over_xs_of_different_lengths_under_jit():
    with pytest.raises(ShapeError, match=r"scan: the leaves of xs have different leading sizes.*4.*3.*test_lax.py"):
        fg.jit(lambda a, b: lax.scan(lambda c, x: (c, None), 0.0, (a, b)))(X, X.T)
    with pytest.raises(ShapeError, match=r"different leading sizes.*test_lax.py"):
        lax.map(lambda x: x[0] * x[1], (X, X[:2]))


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


# ---------------------------------------------------------------------------- eager fast paths

SCALE = 2.0


def test_eager_loops_stage_their_functions_once():
    calls = []

    def body(c, x):
        calls.append("body")
        return c * 0.5 + x, c

    def counted():
        calls.clear()
        out = lax.scan(body, 0.0, X[:, 0])
        return len(calls), out

    n_first, first = counted()
    assert n_first > 4  # staged (then settled: a weak 0.0 carry meets float64), then run
    n_again, again = counted()
    assert n_again == 4  # only the four steps run: nothing is staged again
    _close(again, first)
    # a fresh closure of the same code over values of the same types: no staging either
    for _ in range(2):
        calls.clear()
        lax.fori_loop(0, 3, lambda i, c: body(c, i * 0.5)[0], 1.0)
    assert len(calls) == 3
    ran = []

    def yes(x):
        ran.append("yes")
        return x + 1

    def no(x):
        ran.append("no")
        return x - 1

    lax.cond(True, yes, no, 1.0)
    ran.clear()
    assert lax.cond(True, yes, no, 1.0) == 2.0 and ran == ["yes"]


def test_eager_loops_see_changed_globals_and_closure_types():
    global SCALE
    f = lambda c, x: (c * SCALE + x, None)  # noqa: E731
    try:
        assert lax.scan(f, 0.0, np.ones(3))[0] == 7.0
        SCALE = 3.0
        assert lax.scan(f, 0.0, np.ones(3))[0] == 13.0
    finally:
        SCALE = 2.0

    def run(w):  # the weak 0.0 carry takes w's dtype, eagerly as under jit
        return lax.scan(lambda c, x: (c * w + x, c), 0.0, np.ones(3, np.float32))

    for w in (np.float32(0.5), np.float64(0.5), np.float32(0.5)):
        got, want = run(w), fg.jit(run)(w)
        assert got[0].dtype == want[0].dtype and got[1].dtype == want[1].dtype
        _close(got, want)


def test_eager_loop_carries_keep_the_staged_types():
    # a Python int counter stays a Python int; a float32 carry updated with a Python float stays float32
    (n, c), ys = lax.scan(lambda c, x: ((c[0] + 1, c[1] + 1.0), c[0]), (0, np.float32(0.0)), None, length=3)
    assert type(n) is int and n == 3 and c.dtype == np.float32 and ys.dtype == np.int64
    c = lax.fori_loop(0, 3, lambda i, c: 1.5, np.float32(0.0))  # the body returns a weak Python float
    assert c.dtype == np.float32 and c == 1.5
    assert lax.while_loop(lambda c: c < 3.0, lambda c: 3.0, np.float32(0.0)).dtype == np.float32


def test_eager_loops_under_debug_nans_name_the_primitive():
    fg.config.debug_nans = True
    try:
        with pytest.raises(FloatingPointError, match="'log' produced NaN"), np.errstate(invalid="ignore"):
            fg.grad(lambda x: lax.scan(lambda c, xi: (fnp.log(c - xi), None), x, X[:, 0])[0])(0.5)
    finally:
        fg.config.debug_nans = False
