"""Completeness of the primitive registry: every primitive has every rule, and the op
table exercises every primitive (a primitive no row reaches is a primitive no test checks)."""
import warnings

import pytest

import funcgrad as fg
from funcgrad.core.primitive import REGISTRY
from op_table import ROWS

RULES = ("impl", "shape", "jvp", "vjps", "lower")

# Registry entries that are not ordinary primitives: no rules of their own.
NOT_PRIMITIVES = {
    "custom_rule": "the tape node of custom_vjp / custom_jvp / checkpoint: its VJP is a closure in its params; "
                   "it is never bound, so it has no impl, shape, jvp or lowering",
}

# Primitives that funcgrad.numpy never binds; their own tests live elsewhere.
NOT_IN_FNP = {
    "custom_rule": "see NOT_PRIMITIVES (tests/test_autodiff*.py)",
    "debug_print": "funcgrad.debug_print (tests/test_jit.py)",
    "stop_gradient": "funcgrad.stop_gradient / lax.stop_gradient (tests/test_autodiff*.py)",
}


def test_every_primitive_has_every_rule():
    missing = {name: [r for r in RULES if getattr(p, r, None) is None]
               for name, p in sorted(REGISTRY.items()) if name not in NOT_PRIMITIVES}
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, f"primitives without rules: {missing}"


def test_registry_has_no_stale_exemptions():
    for table in (NOT_PRIMITIVES, NOT_IN_FNP):
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
