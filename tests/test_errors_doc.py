"""Every entry of docs/errors.md: its example still raises the documented class, and the
message still names the problem and says the fix the page shows.

One row per entry: the code the page runs (shortened to the failing call), the class,
and the phrases the message must keep.  Each phrase is also checked to appear on the
page, so the page and the messages cannot drift apart silently.  tests/test_docs.py
checks the page's full printed outputs; this file says which parts of them matter.
"""
import collections
import os
from dataclasses import dataclass

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.errors as E
import funcgrad.numpy as fnp
import funcgrad.optim as fo
import funcgrad.random as fr
from funcgrad import lax, nn, serialization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(ROOT, "docs", "errors.md"), encoding="utf-8") as _f:
    PAGE = _f.read()

Entry = collections.namedtuple("Entry", "raise_it cls phrases")


def predict(w, x):
    return x @ w


def relu(x):
    if x > 0:
        return x
    return 0.0 * x


_seen = []


def _leak():
    def f(x):
        _seen.append(x)
        return x * 2.0
    fg.jit(f)(1.0)
    fnp.sin(_seen[-1])


def scaled(x, mode):
    return x * (2.0 if mode == "double" else 1.0)


@dataclass
class Linear:
    w: np.ndarray


def apply(model, x):
    return fnp.sum(model.w * x)


def _set_first(x):
    x[0] = 1.0
    return x


def _with_debug_nans(fun):
    def run():
        fg.config.debug_nans = True
        try:
            with np.errstate(divide="ignore", invalid="ignore"):
                fun()
        finally:
            fg.config.debug_nans = False
    return run


_SCALE = np.array([0.0, 2.0])


def weighted(w):
    inv = 1.0 / _SCALE
    return fnp.sum(w * inv)


def _numpy_nan():
    fg.config.debug_nans = True
    try:
        weighted(np.ones(2))
    finally:
        fg.config.debug_nans = False


def _foreign_checkpoint(tmp):
    np.savez(tmp / "weights.npz", w=np.ones(3))
    serialization.load(tmp / "weights.npz")


A, B = np.ones((2, 3), np.float32), np.ones((4, 5), np.float32)
X3 = fnp.asarray([1.0, 2.0, 3.0])
W = np.ones(3)
PARAMS = {"w": np.ones(2), "b": np.ones(1)}
GRADS = {"w": np.ones(2), "b": np.ones(1)}
ADAM = fo.adam(0.1)

ENTRIES = {
    # Shapes
    "matmul": Entry(lambda: fnp.matmul(A, B), E.ShapeError,
                    ["dot_general: contracting dimensions", "f32[2,3], f32[4,5]", "a.shape[-1] == b.shape[-2]"]),
    "matmul_traced": Entry(lambda: fg.jit(fg.grad(lambda w, x: fnp.sum(predict(w, x))))(B, A), E.ShapeError,
                           ["(in predict)", "Fix: make the summed-over dimensions equal"]),
    "broadcast": Entry(lambda: fnp.add(np.ones(3), np.ones(4)), E.ShapeError,
                       ["could not be broadcast", "f64[3], f64[4]", "x[:, None]"]),
    "loss_shapes": Entry(lambda: nn.mse_loss(np.ones((8, 1), np.float32), np.zeros(8, np.float32)), E.ShapeError,
                         ["pred has shape (8, 1) but target has shape (8,)", "pred.reshape(target.shape)"]),
    "reshape": Entry(lambda: fnp.reshape(np.ones(6), (4, 2)), E.ShapeError,
                     ["cannot reshape 6 elements into shape (4, 2)", "one dimension may be -1"]),
    "axis": Entry(lambda: fnp.sum(np.ones(3), axis=2), E.ShapeError,
                  ["axis 2 is out of bounds for an array of 1 dimensions", "use an axis in [-1, 1)"]),
    # Indices
    "index_eager": Entry(lambda: X3[10], E.IndexingError,
                         ["index 10 is out of bounds for axis 0 with size 3", "-n <= i < n"]),
    "index_take": Entry(lambda: fnp.take(X3, 10), E.IndexingError,
                        ["gather: index 10 is out of bounds", "-n <= i < n"]),
    "index_traced": Entry(lambda: fg.jit(lambda v: v[np.array([0, 3])])(X3), E.IndexingError,
                          ["index 3 is out of bounds for axis 0 with size 3", "-n <= i < n"]),
    "index_float_eager": Entry(lambda: X3[np.array([0.0, 2.0])], E.IndexingError,
                               ["arrays used as indices must be of integer",
                                "convert a float index with .astype(int)"]),
    "index_float_traced": Entry(lambda: fg.jit(lambda v, i: v[i])(X3, np.array([0.0, 2.0])), E.IndexingError,
                                ["must be of integer or boolean type, got f64[2]",
                                 "convert the index with .astype(int)"]),
    # dtypes
    "complex": Entry(lambda: fnp.exp(np.array([1 + 2j])), E.DTypeError,
                     ["complex numbers are outside this version", "use real floating-point arrays"]),
    "bitwise_float": Entry(lambda: fnp.bitwise_and(np.ones(2), np.ones(2)), E.DTypeError,
                           ["bitwise_and: not defined for these dtypes", "convert the operands with .astype"]),
    "seed_as_key": Entry(lambda: fr.normal(0, (3,)), E.DTypeError,
                         ["expected a key (a uint32[2] array) but got the Python int 0", "funcgrad.random.key(seed)"]),
    "float_as_key": Entry(lambda: fr.normal(np.array([0.0, 1.0]), (3,)), E.DTypeError,
                          ["expected a key (a uint32[2] array) but got f64[2]", "funcgrad.random.split or fold_in"]),
    # Traced values
    "python_if": Entry(lambda: fg.jit(relu)(2.0), E.ConcretizationError,
                       ["bool() needs a concrete value", "funcgrad.lax.cond", "static_argnums"]),
    "int_of_tracer": Entry(lambda: fg.jit(lambda x: int(x))(np.ones(2)), E.ConcretizationError,
                           ["int() needs a concrete value", "funcgrad.numpy.where"]),
    "np_asarray_of_tracer": Entry(lambda: fg.jit(lambda x: np.asarray(x))(np.ones(2)), E.ConcretizationError,
                                  ["a NumPy function was given a traced value", "use funcgrad.numpy"]),
    "np_ufunc_of_tracer": Entry(lambda: fg.jit(lambda x: np.tanh(x))(np.ones(2)), E.ConcretizationError,
                                ["np.tanh was given a traced value", "`fnp.tanh`"]),
    "value_dependent_shape": Entry(lambda: fg.jit(lambda x: fnp.sum(x[x > 0]))(np.array([-1.0, 2.0])),
                                   E.ConcretizationError,
                                   ["boolean-mask indexing gives a result whose shape depends on the values",
                                    "funcgrad.numpy.where(cond, x, y) with three arguments"]),
    "leaked_tracer": Entry(_leak, E.TracerLeakError,
                           ["a traced value created by jit of f was used after that transform finished",
                            "return values from the transformed function instead of storing them"]),
    # Arguments of transforms
    "not_callable": Entry(lambda: fg.grad(fnp.sum(W ** 2)), E.NotCallableError,
                          ["grad takes a function", "grad(loss)(params) -- not grad(loss(params))"]),
    "argnums_type": Entry(lambda: fg.grad(lambda w, b: fnp.sum(w * b), argnums="b"), E.ArgumentError,
                          ["argnums must be an int or a tuple of ints", "got str 'b'", "grad(f, argnums=(0, 1))"]),
    "argnums_range": Entry(lambda: fg.grad(lambda w, b: fnp.sum(w * b), argnums=2)(W, W), E.ArgumentError,
                           ["argnums 2 is out of range for a function called with 2 positional argument(s)",
                            "use argnums in range(2)"]),
    "jit_string": Entry(lambda: fg.jit(scaled)(W, "double"), E.ArgumentError,
                        ["argument 1 is a str ('double'), not an array",
                         "jit(scaled, static_argnums=1) or jit(scaled, static_argnames='mode')"]),
    "jit_string_in_dict": Entry(lambda: fg.jit(scaled)(W, mode={"name": "double"}), E.ArgumentError,
                                ["keyword argument 'mode'['name'] is a str", "jit(scaled, static_argnames='mode')",
                                 "a hashable container such as a tuple"]),
    "jit_unhashable_static": Entry(lambda: fg.jit(scaled, static_argnums=1)(W, ["double"]), E.ArgumentError,
                                   ["static argument 1 has unhashable type list", "a tuple instead of a list"]),
    # Derivatives
    "grad_non_scalar": Entry(lambda: fg.grad(lambda x: x ** 2)(np.ones(3)), E.NonDifferentiableError,
                             ["the output must be a scalar, got shape(s) [(3,)]", "funcgrad.jacrev / funcgrad.vjp"]),
    "grad_int_input": Entry(lambda: fg.grad(lambda x: x * 2.0)(3), E.NonDifferentiableError,
                            ["argument 0 has dtype int64", "1.0 instead of 1"]),
    "grad_int_output": Entry(lambda: fg.grad(lambda x: fnp.argmax(x))(np.ones(3)), E.NonDifferentiableError,
                             ["the output has dtype int64", "return a float value"]),
    "grad_while_loop": Entry(lambda: fg.grad(lambda w: lax.while_loop(lambda c: c < 10.0, lambda c: c * w, 1.0))(2.0),
                             E.NonDifferentiableError,
                             ["does not work through while_loop", "funcgrad.lax.fori_loop with concrete"]),
    "grad_without_has_aux": Entry(lambda: fg.grad(lambda w: (fnp.sum(w ** 2), {"n": fnp.sum(w)}))(W),
                                  E.NonDifferentiableError,
                                  ["the output must be a scalar", "pass has_aux=True"]),
    "grad_of_a_plain_class": Entry(lambda: fg.grad(apply)(Linear(np.ones(2)), np.ones(2)), E.NonDifferentiableError,
                                   ["argument 0 is a Linear", "not an array, so it has no derivative",
                                    "funcgrad.tree.register_node"]),
    "vmap_of_a_plain_class": Entry(lambda: fg.vmap(apply)(Linear(np.ones(2)), np.ones((3, 2))), E.TreeStructureError,
                                   ["argument 0 is a Linear", "in_axes maps it", "give it in_axes None"]),
    "vjp_cotangent_shape": Entry(lambda: fg.vjp(lambda v: v * 2.0, np.ones(2))[1](np.ones(3)), E.ShapeError,
                                 ["cotangent of shape (3,) for an output of shape (2,)",
                                  "pass a cotangent of the output's shape"]),
    "jvp_tangent_shape": Entry(lambda: fg.jvp(lambda v: v * 2.0, (np.ones(2),), (np.ones(3),)), E.ShapeError,
                               ["tangent of shape (3,) for a primal of shape (2,)",
                                "pass tangents of the primals' shapes"]),
    # vmap axes
    "in_axes_out_of_range": Entry(lambda: fg.vmap(lambda x, y: x + y, in_axes=(0, 2))(np.ones(3), np.ones(3)),
                                  E.ShapeError,
                                  ["in_axes 2 for an argument of shape (3,)", "map over an existing axis"]),
    "in_axes_length": Entry(lambda: fg.vmap(lambda x, y: x + y, in_axes=(0, 0, 0))(np.ones(3), np.ones(3)),
                            E.TreeStructureError, ["in_axes has 3 entries for 2 positional arguments",
                                                   "one entry per argument"]),
    "batch_sizes": Entry(lambda: fg.vmap(lambda x, y: x + y)(np.ones(3), np.ones(4)), E.ShapeError,
                         ["the mapped axes have different sizes [3, 4]", "the same size along its in_axes"]),
    # Control flow
    "cond_predicate": Entry(lambda: lax.cond(np.array([True, False]), lambda x: x, lambda x: -x, np.ones(2)),
                            E.ScalarShapeError, ["cond: pred must be a scalar, got bool[2]", "fnp.all(x > 0)"]),
    "loop_carry": Entry(lambda: lax.scan(lambda c, x: (c + x, None), 0.0, np.ones((3, 2))), E.ShapeError,
                        ["the carry output's type differs from its input's", "input f32[]~, output f64[2]",
                         "return a carry with the same structure, shapes and dtypes"]),
    # Pytrees
    "grads_params_structure": Entry(lambda: fo.sgd(0.1).update({"w": np.ones(2)}, fo.sgd(0.1).init(PARAMS), PARAMS),
                                    E.TreeStructureError,
                                    ["the grads and params pytrees have different structures",
                                     "pass pytrees of the same structure"]),
    "other_optimizers_state": Entry(lambda: ADAM.update(GRADS, fo.sgd(0.1, momentum=0.9).init(PARAMS), PARAMS),
                                    E.TreeStructureError,
                                    ["the state (of type SGDState) has no field 'm'",
                                     "the state returned by this optimizer's own init"]),
    "swapped_optimizer_arguments": Entry(lambda: ADAM.update(GRADS, PARAMS, ADAM.init(PARAMS)), E.TreeStructureError,
                                         ["the state (of type dict) has no field 'm'",
                                          "in the order update(grads, state, params)"]),
    "optimizer_state_shapes": Entry(lambda: ADAM.update({"w": np.ones(3), "b": np.ones(1)}, ADAM.init(PARAMS), PARAMS),
                                    E.ShapeError, ["grads and state.m differ in shape at ['w']: (3,) vs (2,)",
                                                   "build the state with init(params)"]),
    "tree_map_structure": Entry(lambda: fg.tree.map(lambda a, b: a + b, {"w": [1.0, 2.0]}, {"w": [1.0, 2.0, 3.0]}),
                                E.TreeStructureError, ["the second tree has an extra leaf at ['w'][2]",
                                                       "pass pytrees of the same structure"]),
    # Item assignment (a plain TypeError, as Python raises for immutable objects)
    "item_assignment": Entry(lambda: fg.jit(_set_first)(np.zeros(3)), TypeError,
                             ["funcgrad arrays are immutable", "x = x.at[idx].set(v)"]),
    # debug_nans
    "nan_of_a_primitive": Entry(_with_debug_nans(lambda: fnp.sum(fnp.log(np.array([1.0, 0.0])))), E.NaNError,
                                ["debug_nans: primitive 'log' produced Inf", "check the inputs of this operation",
                                 "funcgrad.config.debug_nans = False"]),
    "nan_of_numpy": Entry(_numpy_nan, E.NaNError,
                          ["a NumPy operation produced Inf (divide by zero)", "(in weighted)",
                           "np.errstate(divide='ignore'"]),
    # Checkpoints
    "foreign_checkpoint": Entry("tmp", serialization.CheckpointError,
                                ["cannot load this checkpoint: it is a NumPy .npz archive holding ['w']",
                                 "read it with np.load, or write checkpoints with funcgrad.serialization.save"]),
}


@pytest.mark.parametrize("name", list(ENTRIES))
def test_the_documented_example_raises_the_documented_class_and_fix(name, tmp_path):
    entry = ENTRIES[name]
    with pytest.raises(entry.cls) as info:
        _foreign_checkpoint(tmp_path) if entry.raise_it == "tmp" else entry.raise_it()
    message = str(info.value)
    for phrase in entry.phrases:
        assert phrase in message, f"{phrase!r} is not in the message any more:\n{message}"
        assert phrase in PAGE, f"docs/errors.md no longer shows {phrase!r}"
    assert "Fix:" in message
    assert ("test_errors_doc.py" in message or name.startswith("foreign")), "the message names the user's line"
    if entry.cls is not TypeError:
        assert isinstance(info.value, E.FuncgradError)


NEEDS_SEVERAL_DEVICES = {"ShardingError"}   # its examples need a mesh of more than one device


def test_every_error_class_is_in_the_table_and_has_an_example():
    classes = {name for name, obj in vars(E).items()
               if isinstance(obj, type) and issubclass(obj, E.FuncgradError) and obj is not E.FuncgradError}
    classes.add("CheckpointError")
    for name in sorted(classes):
        assert f"| `{name}` |" in PAGE or f"| `funcgrad.serialization.{name}` |" in PAGE, name
    raised = {e.cls.__name__ for e in ENTRIES.values()}
    assert classes - NEEDS_SEVERAL_DEVICES <= raised, classes - NEEDS_SEVERAL_DEVICES - raised


def test_every_class_is_also_the_builtin_exception_the_table_names():
    for cls, builtins in [(E.ShapeError, (ValueError,)), (E.ScalarShapeError, (ValueError, TypeError)),
                          (E.DTypeError, (TypeError,)), (E.ConcretizationError, (TypeError,)),
                          (E.TracerLeakError, (TypeError,)), (E.NonDifferentiableError, (TypeError,)),
                          (E.NotCallableError, (TypeError,)), (E.TreeStructureError, (ValueError,)),
                          (E.IndexingError, (IndexError,)), (E.ArgumentError, (ValueError, TypeError)),
                          (E.NaNError, (FloatingPointError,)), (serialization.CheckpointError, (ValueError,))]:
        assert issubclass(cls, builtins), cls
