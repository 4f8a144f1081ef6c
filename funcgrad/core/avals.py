"""Abstract values: what the IR knows of a value (shape, dtype, weak type).

Promotion follows NumPy 2 (NEP 50): Python scalars are *weak* -- they take the
dtype of the array they meet (``f32_array * 2.0`` is float32) unless their kind is
higher (``int_array * 2.0`` is float64).  A weak value that meets no array
materialises in the default dtype of its kind: bool, int64, or float32 (funcgrad's
creation default, as in JAX).
"""
import numpy as np

from ..errors import DTypeError, user_location

float0 = np.dtype([("float0", np.void, 0)])  # dtype of tangents of integer values (unused for now)

_SHORT = {
    "float16": "f16", "float32": "f32", "float64": "f64", "bfloat16": "bf16",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64", "bool": "bool",
}

_WEAK_DEFAULT = {bool: np.dtype(bool), int: np.dtype(np.int64), float: np.dtype(np.float32)}
# The value that stands for a weak operand when NumPy decides a promotion.
_WEAK_STANDIN = {"b": False, "i": 0, "u": 0, "f": 0.0}


class ShapedArray:
    """The abstract value of an array: ``shape`` (tuple of ints), ``dtype`` and ``weak_type``."""

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type=False):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def __eq__(self, other):
        return (type(other) is ShapedArray and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))

    def update(self, shape=None, dtype=None, weak_type=None):
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def str_short(self):
        name = _SHORT.get(self.dtype.name, self.dtype.name)
        return f"{name}[{','.join(map(str, self.shape))}]" + ("~" if self.weak_type else "")

    __str__ = str_short

    def __repr__(self):
        return f"ShapedArray({self.str_short()})"

    def standin(self):
        """A value NumPy can promote with: a Python scalar if weak, else a 0-d array."""
        if self.weak_type:
            return _WEAK_STANDIN[self.dtype.kind]
        return np.zeros((), self.dtype)


def short_dtype(dtype):
    return _SHORT.get(np.dtype(dtype).name, np.dtype(dtype).name)


def check_dtype(dtype, what="value"):
    """Reject dtypes funcgrad does not support (complex, object, strings)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise DTypeError(
            f"funcgrad does not support dtype {dtype} (for {what}) at {user_location()}.\n"
            "Fix: use a bool, integer or real floating dtype; complex numbers are outside this version.")
    return dtype


def scalar_aval(x):
    """The weak abstract value of a Python scalar."""
    t = type(x)
    if t is complex:
        check_dtype(np.complex128, "a Python complex")
    for k in (bool, int, float):
        if isinstance(x, k):
            return ShapedArray((), _WEAK_DEFAULT[k], True)
    raise TypeError(f"not a Python scalar: {x!r}")


_KINDS = frozenset("biuf")
_new = object.__new__


def get_aval(x):
    """The abstract value of any value funcgrad accepts: tracer, array, Python scalar."""
    if type(x) is np.ndarray and x.dtype.kind in _KINDS:
        a = _new(ShapedArray)  # shape and dtype are already a tuple and a dtype
        a.shape, a.dtype, a.weak_type = x.shape, x.dtype, False
        return a
    aval = getattr(x, "aval", None)
    if isinstance(aval, ShapedArray):
        return aval
    t = type(x)
    if t in (float, int, bool):
        return scalar_aval(x)
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(x.shape, check_dtype(x.dtype), False)
    if hasattr(x, "shape") and hasattr(x, "dtype"):  # jax.Array and friends
        return ShapedArray(x.shape, check_dtype(x.dtype), False)
    if isinstance(x, (bool, int, float, complex)):
        return scalar_aval(x)
    if isinstance(x, (list, tuple)):
        return get_aval(canonical_array(x))
    raise TypeError(f"funcgrad cannot use a value of type {type(x).__name__} as an array: {x!r:.80}")


def canonical_array(x, dtype=None):
    """A NumPy array for ``x`` with funcgrad's creation defaults (floats without a dtype are float32)."""
    if dtype is not None:
        return np.asarray(x, dtype=check_dtype(dtype))
    arr = np.asarray(x)
    if arr.dtype == np.float64 and _is_weak_literal(x):
        arr = arr.astype(np.float32)
    elif arr.dtype.kind not in "biuf":
        check_dtype(arr.dtype, f"{type(x).__name__} input")
    return arr


def _is_weak_literal(x):
    if type(x) is float:
        return True
    if isinstance(x, (list, tuple)):
        return all(_is_weak_literal(e) or type(e) in (int, bool) for e in x)
    return False


def promote_avals(avals):
    """(dtype, weak) of the result of combining ``avals`` elementwise, NumPy 2 style."""
    if all(a.weak_type for a in avals):
        kinds = [a.dtype for a in avals]
        return max(kinds, key=lambda d: "biuf".index(d.kind)), True
    return np.result_type(*[a.standin() for a in avals]), False


def is_float(dtype):
    return np.dtype(dtype).kind == "f"
