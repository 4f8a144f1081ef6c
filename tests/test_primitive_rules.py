"""Completeness of the primitive registry: every primitive has every rule, and the op
table exercises every primitive (a primitive no row reaches is a primitive no test checks)."""
import warnings

import numpy as np
import pytest

import funcgrad as fg
from funcgrad.core.primitive import REGISTRY
from op_table import ROWS

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
