"""funcgrad's errors: each has the contract's class, and its message names the
operation, the shapes/dtypes involved, the user's file:line and a fix.  Tracebacks of
funcgrad errors end with the user's frame unless ``config.show_internal_frames``.

Lines the messages must point at carry a ``# LINE:name`` marker; :func:`line` finds them.
"""
import os
import traceback
import warnings

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.errors import (ArgumentError, ConcretizationError, DTypeError, IndexingError, NaNError,
                             NonDifferentiableError, ShapeError, TracerLeakError, TreeStructureError)

FILE = os.path.abspath(__file__)
PKG = os.path.dirname(os.path.abspath(fg.__file__)) + os.sep
with open(FILE) as _f:
    _SOURCE = _f.read().splitlines()


def line(name):
    """``test_errors.py:N``, N being the line marked ``# LINE:name``."""
    tag = f"# LINE:{name}"
    hits = [i + 1 for i, text in enumerate(_SOURCE) if text.rstrip().endswith(tag)]
    assert len(hits) == 1, tag
    return f"test_errors.py:{hits[0]}"


def assert_names(err, *parts):
    msg = str(err)
    for p in parts:
        assert p in msg, f"{p!r} not in message:\n{msg}"


def frames(err):
    return traceback.extract_tb(err.__traceback__)


def assert_ends_in_user_code(err):
    tb = frames(err)
    assert tb[-1].filename == FILE, [f"{f.filename}:{f.lineno}" for f in tb]
    assert not any(f.filename.startswith(PKG) for f in tb), [f"{f.filename}:{f.lineno}" for f in tb]


A = np.ones((2, 3), np.float32)
B = np.ones((4, 5), np.float32)


# ----------------------------------------------------------------------------- ShapeError

def bad_matmul(x, y):
    return fnp.sum(x @ y)  # LINE:matmul


def bad_add(x, y):
    return fnp.sum(x + y)  # LINE:add


RUNNERS = {
    "make_ir": lambda f, *a: fg.make_ir(f)(*a),
    "jit": lambda f, *a: fg.jit(f)(*a),
    "grad": lambda f, *a: fg.grad(f)(*a),
    "jvp": lambda f, *a: fg.jvp(f, a, tuple(np.zeros_like(x) for x in a)),
    "vjp": lambda f, *a: fg.vjp(f, *a),
    "jacrev": lambda f, *a: fg.jacrev(f)(*a),
    "jit(grad)": lambda f, *a: fg.jit(fg.grad(f))(*a),
}


@pytest.mark.parametrize("how", list(RUNNERS))
def test_shape_error_of_matmul_under_transforms(how):
    with pytest.raises(ShapeError) as e:
        RUNNERS[how](bad_matmul, A, B)
    assert isinstance(e.value, ValueError)
    assert_names(e.value, "dot_general", "a @ b", "f32[2,3]", "f32[4,5]", line("matmul"), "bad_matmul", "Fix")
    assert_ends_in_user_code(e.value)
    assert frames(e.value)[-1].lineno == int(line("matmul").split(":")[1])


@pytest.mark.parametrize("how", list(RUNNERS))
def test_shape_error_of_broadcasting_under_transforms(how):
    with pytest.raises(ShapeError) as e:
        RUNNERS[how](bad_add, A, B)
    assert_names(e.value, "add", "broadcast", "f32[2,3]", "f32[4,5]", line("add"), "Fix")
    assert_ends_in_user_code(e.value)


def test_shape_errors_eagerly_name_the_operation_shapes_and_line():
    with pytest.raises(ShapeError) as e:
        fnp.matmul(A, B)  # LINE:eager_matmul
    assert_names(e.value, "dot_general", "f32[2,3]", "f32[4,5]", line("eager_matmul"), "Fix")
    with pytest.raises(ShapeError) as e:
        fnp.add(fnp.ones((2, 3)), fnp.ones((4,)))  # LINE:eager_add
    assert_names(e.value, "add", "f32[2,3]", "f32[4]", line("eager_add"), "Fix")
    with pytest.raises(ShapeError) as e:
        fnp.reshape(fnp.ones(6), (4, 2))  # LINE:eager_reshape
    assert_names(e.value, "reshape", line("eager_reshape"))


def test_eager_error_tracebacks_end_in_user_code():
    with pytest.raises(ShapeError) as e:
        fnp.matmul(A, B)  # LINE:eager_tb
    assert_ends_in_user_code(e.value)
    assert frames(e.value)[-1].lineno == int(line("eager_tb").split(":")[1])


def test_show_internal_frames_keeps_funcgrad_frames(monkeypatch):
    monkeypatch.setattr(fg.config, "show_internal_frames", True)
    for run in (RUNNERS["grad"], RUNNERS["jit"], RUNNERS["make_ir"]):
        with pytest.raises(ShapeError) as e:
            run(bad_matmul, A, B)
        assert any(f.filename.startswith(PKG) for f in frames(e.value))
        assert frames(e.value)[-1].filename.startswith(PKG)   # raised inside a shape rule


def test_errors_raised_by_the_api_itself_end_in_the_callers_frame():
    with pytest.raises(NonDifferentiableError) as e:
        fg.grad(lambda x: x)(np.arange(3))  # LINE:api_raise
    tb = frames(e.value)
    assert tb[-1].filename == FILE and tb[-1].lineno == int(line("api_raise").split(":")[1])


# ----------------------------------------------------------------------------- DTypeError

C = np.ones(2, np.complex128)


@pytest.mark.parametrize("how", ["asarray", "array", "zeros", "grad", "jit", "jit_scalar", "make_ir", "jvp", "vjp"])
def test_complex_inputs_raise_dtype_error(how):
    f = lambda x: fnp.sum(x * 2.0)
    run = {
        "asarray": lambda: fnp.asarray(C),  # LINE:complex_asarray
        "array": lambda: fnp.array([1j, 2.0]),  # LINE:complex_array
        "zeros": lambda: fnp.zeros(3, np.complex64),  # LINE:complex_zeros
        "grad": lambda: fg.grad(f)(C),  # LINE:complex_grad
        "jit": lambda: fg.jit(f)(C),  # LINE:complex_jit
        "jit_scalar": lambda: fg.jit(f)(1j),  # LINE:complex_jit_scalar
        "make_ir": lambda: fg.make_ir(f)(C),  # LINE:complex_make_ir
        "jvp": lambda: fg.jvp(f, (C,), (C,)),  # LINE:complex_jvp
        "vjp": lambda: fg.vjp(f, C),  # LINE:complex_vjp
    }[how]
    with pytest.raises(DTypeError) as e:
        run()
    assert isinstance(e.value, TypeError)
    assert_names(e.value, "complex", line(f"complex_{how}"), "Fix")
    assert_ends_in_user_code(e.value)


def test_complex_ndarray_into_an_eager_op_raises_dtype_error():
    with pytest.raises(DTypeError):
        fnp.exp(C)


# ----------------------------------------------------------------------------- ConcretizationError

def branchy(x):
    if x > 0:  # LINE:branch
        return x
    return -x


@pytest.mark.parametrize("how", ["jit", "make_ir", "jit(grad)"])
def test_python_control_flow_on_traced_values_raises_concretization_error(how):
    with pytest.raises(ConcretizationError) as e:
        RUNNERS[how](branchy, 1.0)
    assert isinstance(e.value, TypeError)
    assert_names(e.value, "branchy", line("branch"), "lax.cond", "while_loop", "static_argnums", "bool()")
    assert_ends_in_user_code(e.value)


def test_concretization_error_for_int_float_and_indexing():
    def to_int(x):
        return fnp.zeros(int(x))  # LINE:int

    with pytest.raises(ConcretizationError) as e:
        fg.jit(to_int)(3)
    assert_names(e.value, "int()", "to_int", line("int"))
    with pytest.raises(ConcretizationError):
        fg.make_ir(lambda x: float(x))(1.0)


def test_the_suggested_static_argnums_fix_works():
    assert float(fg.jit(branchy, static_argnums=0)(-2.0)) == 2.0


# ----------------------------------------------------------------------------- TracerLeakError

def test_tracer_leaked_from_jit_raises_when_used_later():
    leaked = []

    def keep(x):
        leaked.append(x)
        return x + 1.0

    fg.jit(keep)(np.ones(2))
    with pytest.raises(TracerLeakError) as e:
        fnp.sin(leaked[0])  # LINE:leak
    assert isinstance(e.value, TypeError)
    assert_names(e.value, "sin", "jit of keep", line("leak"), "Fix")
    with pytest.raises(TracerLeakError):
        leaked[0] + 1.0


def test_tracer_leaked_from_grad_raises_when_used_later():
    leaked = []

    def keep(x):
        leaked.append(x)
        return x * 2.0

    fg.grad(keep)(1.0)
    with pytest.raises(TracerLeakError) as e:
        fg.jit(lambda y: y * leaked[0])(1.0)
    assert_names(e.value, "grad of keep")


# ----------------------------------------------------------------------------- item assignment

@pytest.mark.parametrize("how", ["jit", "make_ir", "grad"])
def test_item_assignment_on_a_traced_value_names_at(how):
    def assign(x):
        x[0] = 1.0  # LINE:setitem
        return fnp.sum(x)

    with pytest.raises(TypeError) as e:
        RUNNERS[how](assign, np.zeros(3))
    assert_names(e.value, ".at[", "set", line("setitem"))


# ----------------------------------------------------------------------------- NonDifferentiableError

def test_grad_with_respect_to_an_integer_leaf_names_the_argument_and_path():
    params = {"a": np.ones(2), "b": np.arange(2)}
    with pytest.raises(NonDifferentiableError) as e:
        fg.grad(lambda p: fnp.sum(p["a"] * p["b"]))(params)  # LINE:int_leaf
    assert isinstance(e.value, TypeError)
    assert_names(e.value, "argument 0['b']", "int64", line("int_leaf"), "Fix")


def test_grad_with_respect_to_a_bool_argument_and_a_nested_path():
    with pytest.raises(NonDifferentiableError) as e:
        fg.grad(lambda x, m: fnp.sum(x), argnums=(0, 1))(np.ones(2), [(np.ones(1), np.array([True]))])
    assert_names(e.value, "argument 1[0][1]", "bool")


@pytest.mark.parametrize("transform", ["jvp", "vjp", "jacfwd", "jacrev", "value_and_grad"])
def test_other_transforms_reject_integer_inputs(transform):
    f = lambda x: x * 2
    x = np.arange(3)
    run = {
        "jvp": lambda: fg.jvp(f, (x,), (x,)),
        "vjp": lambda: fg.vjp(f, x),
        "jacfwd": lambda: fg.jacfwd(f)(x),
        "jacrev": lambda: fg.jacrev(f)(x),
        "value_and_grad": lambda: fg.value_and_grad(lambda x: fnp.sum(x))(x),
    }[transform]
    with pytest.raises(NonDifferentiableError) as e:
        run()
    assert_names(e.value, "int64", "float")


def test_integer_arguments_outside_argnums_are_fine():
    g = fg.grad(lambda x, n: fnp.sum(x ** n))(np.ones(2), 3)
    np.testing.assert_allclose(g, [3.0, 3.0])


def test_grad_of_a_non_scalar_output_names_jacrev_and_vjp():
    with pytest.raises(NonDifferentiableError) as e:
        fg.grad(lambda x: x * 2.0)(np.ones(3))  # LINE:nonscalar
    assert_names(e.value, "scalar", "(3,)", "jacrev", "vjp", line("nonscalar"))


def test_grad_of_an_integer_output_is_an_error():
    with pytest.raises(NonDifferentiableError) as e:
        fg.grad(lambda x: fnp.sum(x > 0))(np.ones(3))
    assert_names(e.value, "int64", "floating-point", "vjp")


# ----------------------------------------------------------------------------- vjp / jvp arguments

def test_vjp_cotangent_of_the_wrong_shape_dtype_or_structure():
    _, vjp_fn = fg.vjp(lambda x: x * 2.0, np.ones(3, np.float32))
    with pytest.raises(ShapeError) as e:
        vjp_fn(np.ones(4, np.float32))  # LINE:ct_shape
    assert_names(e.value, "cotangent", "(4,)", "(3,)", line("ct_shape"), "Fix")
    with pytest.raises(DTypeError) as e:
        vjp_fn(np.ones(3, np.float64))  # LINE:ct_dtype
    assert_names(e.value, "cotangent", "float64", "float32", line("ct_dtype"), "Fix")
    with pytest.raises(TreeStructureError) as e:
        vjp_fn((np.ones(3, np.float32),))  # LINE:ct_tree
    assert_names(e.value, "cotangent", "structure", line("ct_tree"), "Fix")
    assert_ends_in_user_code(e.value)


def test_jvp_tangents_must_match_the_primals():
    f = lambda x: x * 2.0
    with pytest.raises(ShapeError) as e:
        fg.jvp(f, (np.ones(2),), (np.ones(3),))
    assert_names(e.value, "tangent", "(3,)", "(2,)")
    with pytest.raises(DTypeError):
        fg.jvp(f, (np.ones(2),), (np.ones(2, np.float32),))
    with pytest.raises(TreeStructureError):
        fg.jvp(f, (np.ones(2),), ([np.ones(2)],))
    with pytest.raises(TypeError, match="tuples or lists"):
        fg.jvp(f, np.ones(2), np.ones(2))


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacfwd", "jacrev", "hessian"])
@pytest.mark.parametrize("argnums", [2, (0, 3), -3])
def test_argnums_out_of_range(transform, argnums):
    with pytest.raises(ValueError) as e:
        getattr(fg, transform)(lambda x, y: fnp.sum(x * y), argnums=argnums)(1.0, 2.0)  # LINE:argnums
    assert_names(e.value, "argnums", str(argnums), "2 positional", line("argnums"), "Fix")


# ----------------------------------------------------------------------------- trees

def test_tree_map_with_different_structures_names_the_path():
    with pytest.raises(TreeStructureError) as e:
        fg.tree.map(lambda a, b: a + b, {"w": [1, 2], "b": 0}, {"w": [1, 2, 3], "b": 0})  # LINE:tree
    assert isinstance(e.value, ValueError)
    assert_names(e.value, "funcgrad.tree.map", "['w'][2]", line("tree"), "Fix")
    with pytest.raises(TreeStructureError) as e:
        fg.tree.map(lambda a, b: a + b, {"w": 1, "b": 0}, {"w": 1, "c": 0})
    assert_names(e.value, "['b']", "['c']")


# ----------------------------------------------------------------------------- debug_nans

def test_debug_nans_names_the_primitive_and_the_line(monkeypatch):
    monkeypatch.setattr(fg.config, "debug_nans", True)
    with np.errstate(divide="ignore", invalid="ignore"):
        with pytest.raises(FloatingPointError) as e:
            fnp.log(fnp.zeros(2) - 1.0)  # LINE:nan
        assert_names(e.value, "'log'", "NaN", line("nan"), "debug_nans")
        with pytest.raises(FloatingPointError) as e:
            fg.grad(lambda x: fnp.sum(fnp.log(x)))(np.zeros(2))
        assert_names(e.value, "Inf")
    monkeypatch.setattr(fg.config, "debug_nans", False)
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.isnan(fnp.log(fnp.zeros(2) - 1.0)).all()


def test_numpy_ufuncs_on_traced_values_compute_operators_and_refuse_the_rest():
    """``ndarray <op> tracer`` reaches the tracer as the operator's ufunc and means the
    operator; any other ufunc would drop the derivative, so it names the fnp function."""
    import funcgrad.numpy as fnp
    from funcgrad.errors import ConcretizationError
    a = np.arange(3.0)
    x = np.array([0.5, 1.5, 2.0])
    f = lambda x: fnp.sum(a * x + a / x - a ** x + np.subtract(a, x) + (a @ x) * (a < x))
    expected = a - a / x**2 - a**x * np.log(np.where(a > 0, a, 1.0)) - 1 + np.sum(a < x) * a
    np.testing.assert_allclose(fg.grad(f)(x), expected, rtol=1e-12)
    np.testing.assert_allclose(fg.vmap(lambda x: a - x)(np.ones((2, 3))), np.stack([a - 1] * 2))
    with pytest.raises(ConcretizationError, match=r"(?s)np\.sin was given a traced value.*fnp\.sin"):
        fg.grad(lambda x: np.sin(x))(1.0)
    with pytest.raises(ConcretizationError, match=r"np\.add\.reduce"):
        fg.grad(lambda x: np.add.reduce(x))(x)

    def accumulate(x):
        b = np.zeros(3)
        b += x
        return fnp.sum(b)
    with pytest.raises(ConcretizationError, match=r"(?s)write into a NumPy array.*a = a \+ x"):
        fg.grad(accumulate)(x)


@pytest.mark.parametrize("transform", [fg.grad, fg.value_and_grad, fg.vmap, fg.jacfwd, fg.jacrev, fg.hessian,
                                       fg.make_ir])
def test_a_value_where_a_function_is_expected_says_to_pass_the_function(transform):
    from funcgrad.errors import NotCallableError
    w = np.ones(3)
    with pytest.raises(NotCallableError, match=r"(?s)takes a function, got a .*Fix: pass the function itself"):
        transform(fnp.sum(w ** 2))


def test_grad_of_a_pair_without_has_aux_suggests_it():
    with pytest.raises(NonDifferentiableError, match="pass has_aux=True"):
        fg.grad(lambda w: (fnp.sum(w ** 2), {"n": 1}))(np.ones(3))
    with pytest.raises(NonDifferentiableError) as e:          # a plain vector output: no such hint
        fg.grad(lambda w: w ** 2)(np.ones(3))
    assert "has_aux=True" not in str(e.value)
    g, aux = fg.grad(lambda w: (fnp.sum(w ** 2), {"n": 1}), has_aux=True)(np.ones(3))
    np.testing.assert_allclose(g, 2 * np.ones(3))


def test_non_array_arguments_name_their_path_and_the_fix():
    class Params:
        pass
    with pytest.raises(NonDifferentiableError, match=r"(?s)argument 0 is a Params.*register_node"):
        fg.grad(lambda p: 1.0)(Params())
    with pytest.raises(TreeStructureError, match=r"(?s)keyword argument 's'\['k'\] is a str.*in_axes None"):
        fg.vmap(lambda x, s: x)(np.ones(2), s={"k": "a"})
    with pytest.raises(TreeStructureError, match=r"(?s)argument 0 is a str.*register_node"):
        fg.vmap(lambda s, x: x)("a", np.ones(2))
    np.testing.assert_allclose(fg.vmap(lambda s, x: x * 2, in_axes=(None, 0))("a", np.ones(2)), 2 * np.ones(2))


def test_vmap_argument_errors_are_funcgrad_errors_and_still_value_errors():
    for bad in (lambda: fg.vmap(lambda x: x, in_axes=(0, 1))(np.ones(3)),
                lambda: fg.vmap(lambda x: x, in_axes=1)(np.ones(3)),
                lambda: fg.vmap(lambda x, y: x + y)(np.ones(3), np.ones(4)),
                lambda: fg.vmap(lambda x: x, in_axes=None)(np.ones(3))):
        with pytest.raises(ValueError) as e:
            bad()
        assert isinstance(e.value, (ShapeError, TreeStructureError)), type(e.value)


# ----------------------------------------------------------------------------- jit arguments

def test_a_string_passed_to_jit_names_its_path_and_static_argnums():
    def f(x, mode):
        return x

    with pytest.raises(ArgumentError) as e:
        fg.jit(f)(1.0, "train")  # LINE:jit_str
    assert isinstance(e.value, TypeError)
    assert_names(e.value, "jit of f", "argument 1 is a str", "static_argnums=1", "static_argnames='mode'",
                 line("jit_str"))
    assert_ends_in_user_code(e.value)
    assert e.value.__cause__ is None and "Error interpreting argument" not in str(e.value)
    with pytest.raises(ArgumentError) as e:
        fg.jit(f)(1.0, mode={"name": "train"})  # LINE:jit_str_kw
    assert_names(e.value, "keyword argument 'mode'['name'] is a str", "static_argnames='mode'", "hashable",
                 line("jit_str_kw"))
    assert_ends_in_user_code(e.value)
    assert fg.jit(f, static_argnums=1)(1.0, "train") == 1.0                  # the fixes work
    assert fg.jit(f, static_argnames="mode")(1.0, mode="train") == 1.0


def test_an_unhashable_static_argument_is_an_argument_error():
    with pytest.raises(ArgumentError, match="unhashable type list") as e:
        fg.jit(lambda x, s: x, static_argnums=1)(1.0, ["a"])
    assert isinstance(e.value, TypeError)
    assert_ends_in_user_code(e.value)


# ----------------------------------------------------------------------------- indices out of bounds

X3 = np.arange(3.0)


@pytest.mark.parametrize("how", ["eager", "jit", "grad", "vmap", "make_ir"])
@pytest.mark.parametrize("op", ["getitem", "take", "take_array", "at_set"])
def test_an_index_out_of_bounds_is_an_indexing_error_at_the_users_line(how, op):
    fun = {"getitem": lambda x: x[10],  # LINE:oob_getitem
           "take": lambda x: fnp.take(x, 10),  # LINE:oob_take
           "take_array": lambda x: fnp.take(x, np.array([0, 5])),  # LINE:oob_take_array
           "at_set": lambda x: x.at[np.array([3])].set(0.0)}[op]  # LINE:oob_at_set
    run = {"eager": lambda: fun(fnp.asarray(X3)),
           "jit": lambda: fg.jit(fun)(X3),
           "grad": lambda: fg.grad(lambda x: fnp.sum(fun(x)))(X3),
           "vmap": lambda: fg.vmap(fun)(np.ones((2, 3))),
           "make_ir": lambda: fg.make_ir(fun)(X3)}[how]
    with pytest.raises(IndexingError) as e:
        run()
    assert isinstance(e.value, IndexError)               # `except IndexError` still catches it
    assert_names(e.value, "out of bounds", "size 3", line(f"oob_{op}"), "Fix", "-n <= i < n")
    if not (how == "eager" and op == "at_set"):  # x.at[...] is a method of the array, not a funcgrad function
        assert_ends_in_user_code(e.value)


def test_in_bounds_and_negative_indices_still_work():
    x = fnp.asarray(X3)
    assert x[-3] == 0.0 and float(fg.jit(lambda x: x[-1])(X3)) == 2.0
    np.testing.assert_array_equal(fg.jit(lambda x: fnp.take(x, np.array([2, -3])))(X3), [2.0, 0.0])
    np.testing.assert_array_equal(fg.grad(lambda x: fnp.sum(fnp.take(x, 2)))(X3), [0.0, 0.0, 1.0])


def test_a_float_index_array_is_an_indexing_error():
    with pytest.raises(IndexingError, match=r"(?s)f64\[1\].*astype\(int\)"):
        fg.jit(lambda x: x[np.array([1.0])])(X3)


# ----------------------------------------------------------------------------- argnums

@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacfwd", "jacrev", "hessian"])
@pytest.mark.parametrize("argnums", ["x", 1.5, [0, "y"], (), True, None])
def test_argnums_of_the_wrong_type_fail_where_the_transform_is_made(transform, argnums):
    with pytest.raises(ArgumentError) as e:
        getattr(fg, transform)(lambda x, y: fnp.sum(x * y), argnums=argnums)  # LINE:argnums_type
    assert isinstance(e.value, TypeError) and isinstance(e.value, ValueError)
    assert_names(e.value, f"{transform}: argnums must be an int or a tuple of ints", line("argnums_type"),
                 "argnums=(0, 1)")
    assert_ends_in_user_code(e.value)


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacfwd", "jacrev", "hessian"])
def test_argnums_out_of_range_name_the_transform_and_end_at_the_users_line(transform):
    with pytest.raises(ArgumentError) as e:
        getattr(fg, transform)(lambda x, y: fnp.sum(x * y), argnums=(0, 2))(1.0, 2.0)  # LINE:argnums_range
    assert_names(e.value, f"{transform}: argnums (0, 2) is out of range", line("argnums_range"))
    assert_ends_in_user_code(e.value)
    g = getattr(fg, transform)(lambda x, y: fnp.sum(x * y), argnums=np.int64(1))(1.0, 2.0)   # NumPy ints work
    assert np.ndim(g[1] if transform == "value_and_grad" else g) == 0


# ----------------------------------------------------------------------------- debug_nans and NumPy's operators

Z = np.array([0.0, 1.0])


def uses_numpy_division(w):
    r = 1.0 / Z  # LINE:np_div
    return fnp.sum(w * r)


@pytest.mark.parametrize("how", ["eager", "grad", "jit"])
def test_debug_nans_names_the_line_of_a_numpy_operator_on_plain_arrays(monkeypatch, how):
    run = {"eager": uses_numpy_division, "grad": fg.grad(uses_numpy_division),
           "jit": fg.jit(uses_numpy_division)}[how]
    monkeypatch.setattr(fg.config, "debug_nans", True)
    with pytest.raises(NaNError) as e:
        run(np.ones(2))
    assert isinstance(e.value, FloatingPointError)
    assert_names(e.value, "NumPy operation produced Inf (divide by zero)", line("np_div"), "np.errstate",
                 "debug_nans = False")
    assert frames(e.value)[-1].lineno == int(line("np_div").split(":")[1])


def test_debug_nans_numpy_check_covers_invalid_and_overflow_and_numpy_functions(monkeypatch):
    monkeypatch.setattr(fg.config, "debug_nans", True)
    with pytest.raises(NaNError, match=r"NaN \(invalid value\).*test_errors.py"):
        np.sqrt(np.array([-1.0]))
    with pytest.raises(NaNError, match=r"Inf \(overflow\)"):
        np.exp(np.array([1000.0]))
    with pytest.raises(NaNError, match=r"(?s)Inf.*test_errors.py:\d+ \(in test_debug"):
        np.mean(np.array([1e308, 1e308]))       # inside NumPy's own Python code: names the caller's line
    with np.errstate(divide="ignore"):        # an expected Inf, silenced where it happens
        assert np.isinf(1.0 / Z).any()


def test_debug_nans_leaves_numpy_settings_as_they_were():
    before = (np.geterr(), np.geterrcall())
    fg.config.debug_nans = True
    try:
        assert np.geterr()["divide"] == "call"
    finally:
        fg.config.debug_nans = False
    assert (np.geterr(), np.geterrcall()) == before
    with np.errstate(all="raise"):                 # the user's own settings come back too
        fg.config.debug_nans = True
        fg.config.debug_nans = False
        assert np.geterr()["divide"] == "raise"
    with np.errstate(invalid="ignore"):            # turned on inside a block, off after it: nothing leaks
        fg.config.debug_nans = True
    fg.config.debug_nans = False
    assert (np.geterr(), np.geterrcall()) == before
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning):        # off: NumPy warns, as usual
            uses_numpy_division(np.ones(2))


def test_debug_nans_still_names_funcgrad_primitives(monkeypatch):
    monkeypatch.setattr(fg.config, "debug_nans", True)
    with pytest.raises(NaNError, match="primitive 'log' produced Inf") as e:
        fnp.log(np.zeros(2))  # LINE:fg_log
    assert_names(e.value, line("fg_log"))
    assert_ends_in_user_code(e.value)


def test_at_update_out_of_bounds_ends_in_user_code():
    from funcgrad.errors import IndexingError
    x = fnp.zeros(3)
    for update in (lambda: x.at[10].set(1.0), lambda: x.at[-4].add(1.0), lambda: x.at[5].get()):
        with pytest.raises(IndexingError, match="out of bounds") as e:
            update()
        assert_ends_in_user_code(e.value)
