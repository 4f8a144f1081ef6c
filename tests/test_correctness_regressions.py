"""Wrong answers found by real programs, each kept as a small case checked against an
oracle (NumPy, jax): products with 0 or 2 contracting dimensions, einsum's size-1
broadcasting, traced indices into constant tables, ``load(like=...)`` with other
shapes, vmap of keyword arguments, compiled programs with 64-bit inputs, jitted
methods, dataclasses with static fields."""
import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.errors import DTypeError, ShapeError

RNG = np.random.default_rng(8)
A = RNG.standard_normal((4, 3))
B = RNG.standard_normal((3, 4))
C = RNG.standard_normal((4, 3))


# ----------------------------------------------------------------------------- products

TENSORDOTS = [
    ("axes=([1,0],[0,1])", A, B, ([1, 0], [0, 1])),
    ("axes=0", A, B, 0),
    ("axes=1", A, B, 1),
    ("axes=2", A, C, 2),
    ("axes=(1,0)", A, B, (1, 0)),
    ("axes=([0],[1])", A, B, ([0], [1])),
]


@pytest.mark.parametrize("name,a,b,axes", TENSORDOTS, ids=[t[0] for t in TENSORDOTS])
def test_tensordot_of_two_matrices_matches_numpy(name, a, b, axes):
    got = fnp.tensordot(a, b, axes=axes)
    ref = np.tensordot(a, b, axes=axes)
    assert np.shape(got) == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    np.testing.assert_allclose(fg.jit(lambda x, y: fnp.tensordot(x, y, axes=axes))(a, b), ref, rtol=1e-12)


@pytest.mark.parametrize("name,a,b,axes", TENSORDOTS, ids=[t[0] for t in TENSORDOTS])
def test_tensordot_jacobians_match_jax(name, a, b, axes):
    def f(m):
        return lambda x, y: m.tensordot(m.sin(x), y, axes=axes)

    with jax.enable_x64(True):
        for jac, jjac in ((fg.jacfwd, jax.jacfwd), (fg.jacrev, jax.jacrev)):
            got = jac(f(fnp), argnums=(0, 1))(a, b)
            ref = jjac(f(jnp), argnums=(0, 1))(a, b)
            for g, r in zip(got, ref, strict=True):
                np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-14)


def test_einsum_full_contraction_and_its_hessian():
    np.testing.assert_allclose(fnp.einsum("ij,ij->", A, C), np.einsum("ij,ij->", A, C), rtol=1e-12)
    h = fg.hessian(lambda x: fnp.einsum("ij,ij->", x, x))(A)
    np.testing.assert_allclose(h.reshape(12, 12), 2 * np.eye(12), atol=1e-14)


def test_per_example_grads_of_a_full_contraction():
    xs = RNG.standard_normal((5, 4, 3))
    got = fg.vmap(fg.grad(lambda w, x: fnp.tensordot(fnp.tanh(w), x, axes=2)), in_axes=(None, 0))(A, xs)
    with jax.enable_x64(True):
        ref = jax.vmap(jax.grad(lambda w, x: jnp.tensordot(jnp.tanh(w), x, axes=2)), in_axes=(None, 0))(A, xs)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


@pytest.mark.parametrize("spec,sa,sb", [
    ("ij,ij->i", (1, 3), (2, 3)),
    ("ij,ij->ij", (2, 1), (2, 3)),
    ("mnd,mdo->mno", (1, 40, 1), (20, 1, 20)),
    ("bij,bjk->bik", (1, 2, 3), (4, 3, 5)),
])
def test_einsum_broadcasts_size_one_dimensions(spec, sa, sb):
    a, b = RNG.standard_normal(sa), RNG.standard_normal(sb)
    np.testing.assert_allclose(fnp.einsum(spec, a, b), np.einsum(spec, a, b), rtol=1e-12)
    got = fg.grad(lambda x, y: fnp.sum(fnp.einsum(spec, x, y) ** 2), argnums=(0, 1))(a, b)
    with jax.enable_x64(True):
        ref = jax.grad(lambda x, y: jnp.sum(jnp.einsum(spec, x, y) ** 2), argnums=(0, 1))(a, b)
    for g, r in zip(got, ref, strict=True):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=1e-11)


def test_einsum_with_mismatched_sizes_names_the_letter():
    with pytest.raises(ShapeError, match="letter 'i'"):
        fnp.einsum("ij,ij->i", np.ones((3, 3)), np.ones((2, 3)))


# ----------------------------------------------------------------------------- traced indices

def test_a_funcgrad_array_indexed_by_a_traced_index():
    table = fnp.asarray(np.arange(10.0) * 1.5)
    assert float(fg.jit(lambda i: table[i])(np.int32(3))) == 4.5
    np.testing.assert_array_equal(fg.vmap(lambda i: table[i])(np.arange(3)), [0.0, 1.5, 3.0])
    np.testing.assert_array_equal(fg.vmap(lambda i: table[i, None])(np.arange(2)), [[0.0], [1.5]])
    assert type(table[1:3]) is type(table)  # concrete indexing stays NumPy's


def test_a_jit_result_indexed_by_a_traced_index():
    table = fg.jit(lambda x: x * 2)(np.arange(10.0))
    assert float(fg.jit(lambda i: table[i])(np.int32(3))) == 6.0
    np.testing.assert_array_equal(fg.vmap(lambda i: table[i])(np.arange(3)), [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(table[1:3], [2.0, 4.0])  # jax's own indexing is untouched


def test_embedding_lookup_gradient_through_a_traced_index():
    emb = RNG.standard_normal((6, 2))

    def loss(e, ids):
        return fnp.sum(fnp.asarray(e)[ids] ** 2)

    ids = np.array([1, 1, 4])
    got = fg.jit(fg.grad(loss))(emb, ids)
    with jax.enable_x64(True):
        ref = jax.grad(lambda e, i: jnp.sum(e[i] ** 2))(emb, ids)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_a_numpy_array_indexed_by_a_tracer_says_what_to_do():
    with pytest.raises(fg.errors.ConcretizationError, match="fnp.asarray"):
        fg.jit(lambda i: np.arange(10.0)[i])(3)


# ----------------------------------------------------------------------------- load(like=...)

def test_load_like_with_another_shape_or_dtype_raises(tmp_path):
    path = tmp_path / "p.npz"
    fg.serialization.save(path, {"w": np.ones((3, 2), np.float32), "b": np.zeros(2, np.float32)})
    with pytest.raises(ShapeError, match=r"\['w'\].*\(3, 2\).*\(2, 3\)"):
        fg.serialization.load(path, like={"w": np.ones((2, 3), np.float32), "b": np.zeros(2, np.float32)})
    with pytest.raises(DTypeError, match=r"\['b'\].*float32.*float64"):
        fg.serialization.load(path, like={"w": np.ones((3, 2), np.float32), "b": np.zeros(2)})
    out = fg.serialization.load(path, like={"w": np.zeros((3, 2), np.float32), "b": np.ones(2, np.float32)})
    np.testing.assert_array_equal(out["w"], np.ones((3, 2)))


# ----------------------------------------------------------------------------- vmap kwargs

def test_vmap_maps_keyword_arguments_over_their_leading_axis():
    got = fg.vmap(lambda a, *, s: a * s)(np.ones(3), s=np.arange(3.0))
    np.testing.assert_array_equal(got, [0.0, 1.0, 2.0])
    ref = jax.vmap(lambda a, *, s: a * s)(jnp.ones(3), s=jnp.arange(3.0))
    np.testing.assert_array_equal(got, ref)
    got = fg.vmap(lambda a, s: a + s, in_axes=None)(np.ones(2), s={"k": np.arange(3.0)}["k"])
    np.testing.assert_array_equal(got, [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])


# ----------------------------------------------------------------------------- jit

def test_compiled_program_accepts_64_bit_inputs():
    f = fg.jit(lambda x, y: x * 2 + y)
    compiled = f.lower(np.arange(8), np.ones(8)).compile()
    out = compiled(np.arange(8), np.ones(8))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.arange(8) * 2 + 1.0)
    assert "stablehlo" in f.lower(np.arange(8), np.ones(8)).as_text()


def test_jit_on_a_method_binds_self():
    class Model:
        def __init__(self, scale):
            self.scale = scale

        @functools.partial(fg.jit, static_argnums=0)
        def apply(self, x):
            return x * self.scale

    m2, m3 = Model(2.0), Model(3.0)
    np.testing.assert_array_equal(m2.apply(np.ones(2)), [2.0, 2.0])
    np.testing.assert_array_equal(m3.apply(np.ones(2)), [3.0, 3.0])
    np.testing.assert_array_equal(Model.apply(m2, np.ones(2)), [2.0, 2.0])
    assert m2.apply.__name__ == "apply"


# ----------------------------------------------------------------------------- static fields

@functools.partial(fg.tree.register_node, meta_fields=["activation"])
@dataclasses.dataclass
class Layer:
    w: object
    activation: str


@fg.tree.register_node
@dataclasses.dataclass
class Scaled:
    x: object
    name: str = dataclasses.field(default="s", metadata={"static": True})


def _apply(layer, x):
    y = x @ layer.w
    return fnp.tanh(y) if layer.activation == "tanh" else y


def test_dataclass_static_fields_are_metadata_under_every_transform():
    layer = Layer(RNG.standard_normal((3, 2)), "tanh")
    x = RNG.standard_normal((4, 3))
    g = fg.grad(lambda l: fnp.sum(_apply(l, x)))(layer)
    assert isinstance(g, Layer) and g.activation == "tanh"
    np.testing.assert_allclose(g.w, x.T @ (1 - np.tanh(x @ layer.w) ** 2), rtol=1e-12)
    np.testing.assert_allclose(fg.jit(_apply)(layer, x), np.tanh(x @ layer.w), rtol=1e-6)
    batched = Layer(np.stack([layer.w, 2 * layer.w]), "linear")
    np.testing.assert_allclose(fg.vmap(_apply, in_axes=(0, None))(batched, x),
                               np.stack([x @ layer.w, x @ (2 * layer.w)]), rtol=1e-12)
    assert len(fg.tree.leaves(Scaled(np.ones(2), "t"))) == 1
    assert fg.tree.structure(Scaled(np.ones(2), "t")) != fg.tree.structure(Scaled(np.ones(2), "u"))
    assert fg.jit(lambda s: s.x * (2.0 if s.name == "s" else 3.0))(Scaled(np.ones(2))).tolist() == [2.0, 2.0]


# ----------------------------------------------------------------------------- linalg of integers

@pytest.mark.parametrize("name", ["inv", "det", "cholesky", "solve", "slogdet"])
def test_linalg_of_integer_matrices_is_float64_eagerly_and_under_jit(name):
    a, b = np.array([[2, 1], [1, 3]]), np.array([1, 2])
    fn = {"solve": lambda m, a: m.linalg.solve(a, b), "slogdet": lambda m, a: m.linalg.slogdet(a)[1]}.get(
        name, lambda m, a: getattr(m.linalg, name)(a))
    ref = fn(np, a)
    for got in (fn(fnp, a), fg.jit(lambda a: fn(fnp, a))(a), fg.eval_ir(fg.make_ir(lambda a: fn(fnp, a))(a), a)[0]):
        assert np.asarray(got).dtype == ref.dtype == np.float64
        np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_grad_of_vmap_of_cond_gets_no_nan_from_the_branch_not_taken():
    # With a batched predicate every member runs both branches; sqrt's derivative at -1
    # must not reach the member that took the other branch (jax gives [1, 0.25]).
    from funcgrad import lax
    f = lambda x: lax.cond(x > 0, fnp.sqrt, lambda a: a * 1.0, x)
    x = np.array([-1.0, 4.0])
    want = np.array([1.0, 0.25])
    loss = lambda x: fnp.sum(fg.vmap(f)(x))
    np.testing.assert_allclose(fg.grad(loss)(x), want)
    np.testing.assert_allclose(np.asarray(fg.jit(fg.grad(loss))(x)), want)
    switch = lambda x: lax.switch((x > 0).astype(int), [lambda a: -a, fnp.log], x)
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(fg.vmap(switch)(x)))(x), [-1.0, 0.25])
    # an unbatched operand closed over by both branches
    h = lambda x, c: lax.cond(x > 0, lambda a, c: fnp.sqrt(c) * a, lambda a, c: a, x, c)
    got = fg.grad(lambda c: fnp.sum(fg.vmap(h, in_axes=(0, None))(x, c)))(np.float64(-4.0) * -1)
    np.testing.assert_allclose(got, 4.0 * 0.5 / 2.0)
