"""Every transform takes and returns pytrees of every kind: dict, list, tuple,
namedtuple, None, nested containers, a class registered with ``fg.tree.register_node``,
a dataclass, and a class registered with ``jax.tree_util`` directly."""
import collections
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

Pair = collections.namedtuple("Pair", "w b")


class Linear:
    """A user class registered with funcgrad.tree.register_node."""

    def __init__(self, w, b, name="lin"):
        self.w, self.b, self.name = w, b, name


fg.tree.register_node(Linear, lambda m: ((m.w, m.b), m.name), lambda name, ch: Linear(*ch, name=name))


@dataclasses.dataclass
class Layer:
    """A dataclass registered with register_node (all fields become children)."""

    w: object
    b: object


fg.tree.register_node(Layer)


@jax.tree_util.register_pytree_node_class
class JaxBox:
    """A class registered with jax.tree_util only: funcgrad sees it too."""

    def __init__(self, v):
        self.v = v

    def tree_flatten(self):
        return (self.v,), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


def make_params(dtype=np.float64):
    r = np.random.default_rng(0)
    a = lambda *s: r.standard_normal(s).astype(dtype)
    return {
        "dict": {"x": a(3), "y": a(2, 2)},
        "list": [a(3), a(1)],
        "tuple": (a(2),),
        "named": Pair(a(3), a()),
        "none": None,
        "nested": {"deep": [(a(2), {"z": a(2)}), None]},
        "registered": Linear(a(3), a(3)),
        "dataclass": Layer(a(2), a(2)),
        "jaxbox": JaxBox(a(2)),
    }


def leaf_sum(p):
    """A scalar touching every leaf nonlinearly."""
    total = 0.0
    for i, leaf in enumerate(fg.tree.leaves(p)):
        total = total + fnp.sum(fnp.sin(leaf) * (i + 1.0))
    return total


def jax_leaf_sum(p):
    total = 0.0
    for i, leaf in enumerate(jax.tree_util.tree_leaves(p)):
        total = total + jnp.sum(jnp.sin(leaf) * (i + 1.0))
    return total


def assert_same_tree(got, want, rtol=1e-10):
    g_leaves, g_tree = jax.tree_util.tree_flatten(got)
    w_leaves, w_tree = jax.tree_util.tree_flatten(want)
    assert g_tree == w_tree, f"{g_tree} != {w_tree}"
    for g, w in zip(g_leaves, w_leaves, strict=True):
        assert np.shape(g) == np.shape(w)
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=1e-12)


def test_grad_of_every_pytree_kind_matches_jax():
    p = make_params()
    g = fg.grad(leaf_sum)(p)
    with jax.enable_x64(True):
        want = jax.jit(jax.grad(jax_leaf_sum))(p)
    assert_same_tree(g, want)
    # the containers come back as themselves
    assert isinstance(g["named"], Pair)
    assert isinstance(g["registered"], Linear) and g["registered"].name == "lin"
    assert isinstance(g["dataclass"], Layer)
    assert isinstance(g["jaxbox"], JaxBox)
    assert g["none"] is None and g["nested"]["deep"][1] is None
    assert isinstance(g["list"], list) and isinstance(g["tuple"], tuple)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grads_of_pytrees_keep_leaf_dtypes(dtype):
    p = make_params(dtype)
    for leaf in fg.tree.leaves(fg.grad(leaf_sum)(p)):
        assert np.asarray(leaf).dtype == dtype


@pytest.mark.parametrize("kind", ["dict", "list", "tuple", "named", "nested", "registered", "dataclass",
                                  "jaxbox"])
def test_each_kind_as_a_whole_argument(kind):
    p = make_params()[kind]
    g = fg.grad(leaf_sum)(p)
    want = fg.tree.map(np.cos, p)
    k = 1.0
    for leaf_g, leaf_w in zip(fg.tree.leaves(g), fg.tree.leaves(want), strict=True):
        np.testing.assert_allclose(leaf_g, k * leaf_w, rtol=1e-12)
        k += 1.0
    assert fg.tree.structure(g) == fg.tree.structure(p)


def test_none_argument_and_empty_containers():
    def f(x, nothing, empty):
        assert nothing is None and empty == {}
        return fnp.sum(x * x)

    x = np.arange(3.0)
    g = fg.grad(f, argnums=(0, 1, 2))(x, None, {})
    np.testing.assert_allclose(g[0], 2 * x)
    assert g[1] is None and g[2] == {}


def test_value_and_grad_multiple_pytree_args():
    p = make_params()
    v, (g1, g2) = fg.value_and_grad(lambda a, b: leaf_sum(a) + leaf_sum(b) * 2.0, argnums=(0, 1))(
        p["dict"], p["named"])
    np.testing.assert_allclose(v, leaf_sum(p["dict"]) + 2 * leaf_sum(p["named"]))
    assert isinstance(g2, Pair)
    np.testing.assert_allclose(g2.w, 2 * np.cos(p["named"].w))


def pytree_out(p):
    return {"a": [fnp.sin(p["dict"]["x"]), None], "b": Pair(p["named"].w * 2.0, p["named"].b),
            "c": Linear(p["registered"].w, fnp.exp(p["registered"].b), name="out")}


def test_jvp_and_vjp_with_pytree_inputs_and_outputs():
    p = make_params()
    t = fg.tree.map(np.ones_like, p)
    out, tout = fg.jvp(pytree_out, (p,), (t,))
    assert isinstance(out["b"], Pair) and isinstance(tout["b"], Pair)
    assert isinstance(tout["c"], Linear) and tout["c"].name == "out"
    assert tout["a"][1] is None
    np.testing.assert_allclose(tout["a"][0], np.cos(p["dict"]["x"]))
    np.testing.assert_allclose(tout["c"].b, np.exp(p["registered"].b))

    out2, vjp_fn = fg.vjp(pytree_out, p)
    ct = fg.tree.map(np.ones_like, out2)
    (g,) = vjp_fn(ct)
    assert fg.tree.structure(g) == fg.tree.structure(p)
    np.testing.assert_allclose(g["named"].w, 2.0 * np.ones(3))
    np.testing.assert_allclose(g["registered"].b, np.exp(p["registered"].b))
    np.testing.assert_array_equal(g["list"][0], np.zeros(3))  # unused leaves get zeros


def test_jacobians_with_pytree_inputs_and_outputs_match_jax():
    p = {"u": np.array([0.1, 0.2]), "v": Pair(np.array(0.3), np.array([1.0, 2.0, 3.0]))}

    def f(p, m=fnp):
        return [m.sin(p["u"]) * p["v"].w, {"s": m.sum(p["v"].b * p["u"][0])}]

    for ours, theirs in [(fg.jacfwd, jax.jacfwd), (fg.jacrev, jax.jacrev)]:
        got = ours(f)(p)
        with jax.enable_x64(True):
            want = jax.jit(theirs(lambda p: f(p, jnp)))(p)
        assert_same_tree(got, want)


def test_jit_and_make_ir_with_pytrees():
    p = make_params()
    jitted = fg.jit(pytree_out)
    out = jitted(p)
    want = pytree_out(p)
    assert isinstance(out["b"], Pair) and isinstance(out["c"], Linear) and out["c"].name == "out"
    assert out["a"][1] is None
    for a, b in zip(fg.tree.leaves(out), fg.tree.leaves(want), strict=True):
        assert isinstance(a, jax.Array)
        assert a.dtype == np.asarray(b).dtype
        np.testing.assert_allclose(a, b, rtol=1e-12)
    ir = fg.make_ir(pytree_out)(p)
    assert len(ir.in_vars) == len(fg.tree.leaves(p))
    assert fg.tree.structure(fg.tree.unflatten(ir.out_tree, ir.outs)) == fg.tree.structure(want)


def test_eval_shape_returns_the_output_pytree_of_shaped_arrays():
    p = make_params(np.float32)
    shapes = fg.eval_shape(pytree_out, p)
    assert isinstance(shapes["b"], Pair)
    assert shapes["b"].w.shape == (3,) and shapes["b"].w.dtype == np.float32
    assert isinstance(shapes["c"], Linear)


def test_grad_with_respect_to_a_pytree_of_python_floats():
    g = fg.grad(lambda p: p["a"] * p["b"] ** 2)({"a": 3.0, "b": 2.0})
    assert float(g["a"]) == 4.0 and float(g["b"]) == 12.0
