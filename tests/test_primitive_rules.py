"""Completeness of the primitive registry: every primitive has every rule, and the op
table exercises every primitive (a primitive no row reaches is a primitive no test checks)."""
import warnings

import numpy as np
import pytest

import funcgrad as fg
from funcgrad.core.primitive import REGISTRY
from op_table import GRAD_ROWS, ROWS

RULES = ("impl", "shape", "jvp", "reverse", "lower", "batch")

# Registry entries that are not ordinary primitives: no rules of their own.
NOT_PRIMITIVES = {}

# Primitives that funcgrad.numpy never binds; their own tests live elsewhere.
NOT_IN_FNP = {
    "debug_print": "funcgrad.debug_print (tests/test_jit.py)",
    "extremum_weights": "the derivative of reduce_max/reduce_min, reached by the grad, jvp and vmap(grad) "
                        "columns of the amax/amin/max rows (tests/test_fuzz_regressions.py for jit)",
    "scatter_extremal_weights": "the derivative of x.at[idx].max/min, reached by the grad, jvp and vmap(grad) "
                                "columns of the at[].max/min rows (tests/test_fuzz_regressions.py for jit)",
    "custom_jvp_call": "funcgrad.custom_jvp (tests/test_subprograms.py, tests/test_custom_rules.py)",
    "custom_vjp_call": "funcgrad.custom_vjp (tests/test_subprograms.py, tests/test_custom_rules.py)",
    "remat": "funcgrad.checkpoint (tests/test_subprograms.py, tests/test_custom_rules.py)",
    "jit_call": "funcgrad.jit called inside a transform (tests/test_subprograms.py, tests/test_jit.py)",
    "select_and_gather_add": "the forward-mode derivative of reduce_window_max, reached by the grad, jvp and "
                             "compose columns of the reduce_window(max) / nn.max_pool rows (tests/test_conv.py)",
    "select_and_scatter_add": "the reverse-mode derivative of reduce_window_max, reached by the grad and compose "
                              "columns of the reduce_window(max) / nn.max_pool rows (tests/test_conv.py)",
    "threefry2x32": "funcgrad.random.split / fold_in: bit equality with jax.random eagerly, under jit, vmap "
                    "(tests/test_random.py)",
    "random_bits": "every funcgrad.random sampler: bit equality with jax.random eagerly, under jit, vmap "
                   "(tests/test_random.py)",
    "fma": "funcgrad.random.uniform's scaling to [minval, maxval), exact vs jax, grad in minval/maxval "
           "(tests/test_random.py)",
    "nextafter": "funcgrad.random.truncated_normal's clipping to (lower, upper) (tests/test_random.py)",
}

# Primitives batched (in some cases) by the per-element loop fallback instead of a vectorised rule.
LOOP_BATCHED = {
    "gather": "only when batched index arrays do not lead the index (x[:, labels] under vmap of labels)",
    "scatter": "only when batched index arrays do not lead the index",
}


def _has(p, rule):
    if rule == "reverse":  # per-input VJP rules, or one forward/backward pair for all inputs
        return p.vjps is not None or (p.vjp_fwd is not None and p.vjp_bwd is not None)
    return getattr(p, rule, None) is not None


def test_every_primitive_has_every_rule():
    missing = {name: [r for r in RULES if not _has(p, r)]
               for name, p in sorted(REGISTRY.items()) if name not in NOT_PRIMITIVES}
    missing = {k: v for k, v in missing.items() if v and (v != ["batch"] or k not in LOOP_BATCHED)}
    assert not missing, f"primitives without rules: {missing}"


def test_registry_has_no_stale_exemptions():
    for table in (NOT_PRIMITIVES, NOT_IN_FNP, LOOP_BATCHED):
        stale = sorted(set(table) - set(REGISTRY))
        assert not stale, f"exempted primitives that no longer exist: {stale}"


@pytest.fixture(scope="module")
def exercised():
    """Every primitive in the IR of some op-table row."""
    names = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for row in ROWS:
            names.update(fg.make_ir(row.fn)(*row.args()).primitives())
    return names


def test_every_primitive_is_exercised_by_the_op_table(exercised):
    missing = sorted(set(REGISTRY) - exercised - set(NOT_IN_FNP))
    assert not missing, f"primitives that no op-table row reaches (add a row): {missing}"


def test_primitives_the_table_cannot_reach_are_really_unreached(exercised):
    assert not exercised & set(NOT_IN_FNP), "an exempted primitive is reached by the table: drop its exemption"


@pytest.mark.parametrize("case", ["x-y", "x-0", "0-y", "scalars", "broadcast", "mixed-dtypes", "int", "bool-float",
                                  "small"])
def test_select_blend_matches_np_where_bit_for_bit(case):
    """``where`` on large arrays is a branch-free blend of bit patterns: the same bits as
    np.where (NaN, inf and -0.0 included), the same dtype and shape."""
    from funcgrad.primitives.elementwise import select_impl
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 50, 10)).astype(np.float32)
    x[0, 0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    y = rng.standard_normal(x.shape).astype(np.float32)
    m = rng.random(x.shape) > 0.5
    args = {"x-y": (m, x, y), "x-0": (m, x, 0), "0-y": (m, 0.0, y), "scalars": (m, 2, 3.5),
            "broadcast": (m, x[:, :1], y[0]), "mixed-dtypes": (m, x.astype(np.float64), y),
            "int": (m, np.arange(500).reshape(50, 10).astype(np.int64), -7), "bool-float": (m, True, y),
            "small": (m[:2, :2], x[:2, :2], y[:2, :2])}[case]
    got, want = select_impl(*args), np.where(*args)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


# ----------------------------------------------------------------------------- residual declarations
#
# Reverse mode keeps only the residuals a primitive declares (``Primitive.residuals``) and
# replaces the others by their shape and dtype (``reverse._shape_only``).  A VJP rule that
# reads an undeclared value would silently compute garbage, so here every undeclared value
# becomes a poison object that records any read of its data, and every op-table row's
# gradient must be exactly the gradient computed with every residual kept.

class _Poison:
    """Stands for a dropped residual: shape and dtype, and a record of any read of its data."""

    __slots__ = ("aval", "prim")
    reads = []

    def __init__(self, aval, prim):
        self.aval, self.prim = aval, prim

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: len(self.aval.shape))
    size = property(lambda self: self.aval.size)

    def _read(self, *args, **kwargs):
        _Poison.reads.append(self.prim)
        raise RuntimeError(f"the VJP of {self.prim} read a residual it does not declare")

    __array__ = __array_ufunc__ = __array_function__ = __getitem__ = __iter__ = __len__ = _read
    __float__ = __int__ = __bool__ = __index__ = __complex__ = _read
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _read
    __neg__ = __pow__ = __rpow__ = __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = _read
    __hash__ = None


def _poisoning(prim_of_node):
    from funcgrad.core.avals import get_aval

    def shape_only(x):
        if type(x) is list:
            return [shape_only(o) for o in x]
        if isinstance(x, (np.ndarray, np.generic, int, float, bool)):  # scalars too, though reverse keeps them
            return _Poison(get_aval(x), prim_of_node[0])
        return x
    return shape_only


def _row_grad(row):
    import funcgrad.numpy as fnp
    from funcgrad.core.avals import get_aval
    from op_table import leaves
    args, nums = row.grad_args()

    def f(*diff):
        full = list(args)
        for i, d in zip(nums, diff, strict=True):
            full[i] = d
        outs = [o for o in leaves(row.fn(*full)) if get_aval(o).dtype.kind == "f"]
        rng = np.random.default_rng(0)
        return sum(fnp.sum(o * rng.standard_normal(np.shape(o))) for o in outs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fg.grad(f, argnums=tuple(range(len(nums))))(*[args[i] for i in nums])


def _grad_with(monkeypatch, row, residuals):
    """The row's gradient with every primitive's residuals set from ``residuals`` (prim ->
    declaration; the registry's own where absent) and the undeclared ones poisoned."""
    from funcgrad.transforms import reverse
    current = [None]
    process = reverse.ReverseTrace.process

    def tracking(self, prim, args, params):
        current[0] = prim.name
        return process(self, prim, args, params)

    with monkeypatch.context() as m:
        m.setattr(reverse.ReverseTrace, "process", tracking)
        m.setattr(reverse, "_shape_only", _poisoning(current))
        for p, r in residuals.items():
            m.setattr(p, "residuals", r)
        _Poison.reads.clear()
        try:
            return _row_grad(row), list(_Poison.reads)
        except Exception as e:  # noqa: BLE001
            return e, list(_Poison.reads)


_VJP_PRIMS = [p for p in REGISTRY.values() if p.vjps is not None and p.vjp_fwd is None]


def _assert_same(got, want):
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in GRAD_ROWS])
def test_vjp_rules_read_only_their_declared_residuals(monkeypatch, row):
    """Every op-table row's gradient with the undeclared residuals poisoned equals the
    gradient with every residual kept (bit for bit: the same operations run)."""
    want, _ = _grad_with(monkeypatch, row, {p: None for p in _VJP_PRIMS})
    if isinstance(want, Exception):
        pytest.skip(f"the row has no eager gradient: {want!r:.100}")
    got, reads = _grad_with(monkeypatch, row, {})
    assert not reads, f"VJP rules that read undeclared residuals: {sorted(set(reads))}"
    assert not isinstance(got, Exception), got
    _assert_same(got, want)


def test_poisoned_residuals_are_caught(monkeypatch):
    """The check above has teeth: declaring that mul's VJP reads nothing is caught."""
    from funcgrad.primitives.elementwise import mul_p
    row = next(r for r in GRAD_ROWS if r.id.startswith("multiply"))
    _, reads = _grad_with(monkeypatch, row, {mul_p: ()})
    assert "mul" in reads


# Declarations the rules need in full: the rule reads the inputs and the output (or, for
# div, y and the output: declared as (1, "ans")).
_NEEDS_BOTH = {
    "pow": "dx reads x and y, dy reads x and the output",
    "div": "declared (1, 'ans'): dx reads y, dy reads y and the output",
    "reduce_prod": "prod / x_i: the output and x",
    "cumprod": "the output and x",
    "solve": "the solution (output) and the matrix",
    "scatter": "x, the updates and the indices for min/max/mul; the output for mul with repeats",
}

_TIGHTER = ((), ("ans",), ("inputs",))


def test_residual_declarations_are_tight(monkeypatch):
    """No primitive keeps more than its VJP reads: for each primitive declaring all
    residuals (None), a tighter declaration fails on some op-table row that reaches it."""
    reached = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for row in GRAD_ROWS:
            try:
                names = fg.make_ir(row.fn)(*row.args()).primitives()
            except Exception:  # noqa: BLE001
                continue
            for n in names:
                reached.setdefault(n, []).append(row)
    loose = {}
    for p in _VJP_PRIMS:
        if p.residuals is not None or p.nondiff or p.name in _NEEDS_BOTH or p.name not in reached:
            continue
        rows = reached[p.name][:6]
        wants = [_grad_with(monkeypatch, r, {q: None for q in _VJP_PRIMS})[0] for r in rows]
        for cand in _TIGHTER:
            ok = True
            for r, want in zip(rows, wants, strict=True):
                if isinstance(want, Exception):
                    continue
                got, reads = _grad_with(monkeypatch, r, {p: cand})
                try:
                    assert not reads and not isinstance(got, Exception)
                    _assert_same(got, want)
                except AssertionError:
                    ok = False
                    break
            if ok:
                loose[p.name] = cand
                break
    assert not loose, f"primitives that keep more residuals than their VJP reads (declare these): {loose}"


_NUMPY_VJP_PRIMS = [p for p in REGISTRY.values() if p.vjp_numpy is not None]


def _reaches_numpy_rule(row):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            names = set(fg.make_ir(row.fn)(*row.args()).primitives())
    except Exception:  # noqa: BLE001
        return False
    return any(p.name in names for p in _NUMPY_VJP_PRIMS)


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in GRAD_ROWS if _reaches_numpy_rule(r)])
def test_numpy_vjp_rules_match_the_funcgrad_rules(monkeypatch, row):
    """An eager gradient through the NumPy VJP rules equals the one through the
    funcgrad-ops rules (the definition) on every op-table row that reaches them."""
    got = _row_grad(row)
    with monkeypatch.context() as m:
        for p in _NUMPY_VJP_PRIMS:
            m.setattr(p, "vjp_numpy", None)
        want = _row_grad(row)
    for g, w in zip(got, want, strict=True):
        assert type(np.asarray(g).dtype) is type(np.asarray(w).dtype) and np.shape(g) == np.shape(w)
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6, atol=1e-12)


def test_numpy_vjp_rules_run_in_eager_grad(monkeypatch):
    """The comparison above compares something: an eager MLP gradient calls the NumPy rules."""
    from funcgrad.primitives.linalg import dot_general_p
    calls = []
    rule = dot_general_p.vjp_numpy
    monkeypatch.setattr(dot_general_p, "vjp_numpy", lambda *a, **k: calls.append(1) or rule(*a, **k))
    w = np.ones((3, 2), np.float32)
    g = fg.grad(lambda w: fg.numpy.sum(fg.nn.relu(np.ones((4, 3), np.float32) @ w)))(w)
    assert calls and np.allclose(g, 4.0)


@pytest.mark.parametrize("rows", [1, 8, 63, 64, 200])
def test_dense_layer_products_at_sizes_that_take_the_blas_layout_paths(rows):
    """A few rows times a large matrix (forward as (w.T @ x.T).T, cotangent of x as
    (w @ g.T).T) and many rows (plain products): values as NumPy's, and the gradients
    of a two-layer loss equal the hand-derived ones."""
    rng = np.random.default_rng(rows)
    x = rng.standard_normal((rows, 300)).astype(np.float32)
    w1 = rng.standard_normal((300, 256)).astype(np.float32) / 17
    w2 = rng.standard_normal((256, 5)).astype(np.float32)
    h = x @ w1
    np.testing.assert_allclose(fg.numpy.matmul(x, w1), h, rtol=1e-5, atol=1e-5)

    def loss(w1, w2, x):
        return fg.numpy.sum(fg.numpy.tanh(x @ w1) @ w2)

    g1, g2, gx = fg.grad(loss, argnums=(0, 1, 2))(w1, w2, x)
    t = np.tanh(h)
    dh = (1 - t ** 2) * w2.sum(axis=1)            # d loss / d (x @ w1)
    np.testing.assert_allclose(g2, np.broadcast_to(t.sum(axis=0)[:, None], w2.shape), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(g1, x.T @ dh, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(gx, dh @ w1.T, rtol=1e-4, atol=1e-4)
