"""``funcgrad.lax``: structured control flow with ``jax.lax``'s semantics.

``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan`` and ``map`` stage their
functions into sub-programs held by the primitives ``cond``, ``while`` and ``scan``
(``funcgrad/transforms/control_flow.py``, where their rules live), so they work
eagerly and under every transform; ``select`` and ``stop_gradient`` are elementwise.

``conv_general_dilated`` and ``reduce_window`` (pooling) bind the primitives of
``funcgrad/primitives/conv.py`` and ``windowed.py`` after turning jax.lax's flexible
arguments (layout strings, ``"SAME"`` padding, ``None`` defaults) into static
parameters; ``add``, ``max`` and ``min`` are elementwise.
"""
from .api import stop_gradient
from .errors import api_boundary
from .primitives.elementwise import select as _select
from .primitives import conv as _conv
from .primitives import elementwise as _E
from .primitives import windowed as _W
from .transforms.control_flow import cond, fori_loop, map, scan, switch, while_loop  # noqa: A004


def _public(fn):
    """An entry point whose results on constants inside a transform are funcgrad arrays."""
    return api_boundary(fn, python_scalars_to_numpy=True)


@_public
def select(pred, on_true, on_false):
    """Elementwise ``on_true`` where ``pred`` else ``on_false`` (as ``jax.lax.select``)."""
    return _select(pred, on_true, on_false)


# ----------------------------------------------------------------------------- convolution and pooling
# (``max`` and ``min`` below shadow the builtins in this module, as jax.lax's do: use
# ``builtins.max`` here if ever needed.)

@_public
def add(x, y):
    """Elementwise ``x + y`` (as ``jax.lax.add``; NumPy promotion for mixed dtypes)."""
    return _E.add(x, y)


@_public
def max(x, y):  # noqa: A001
    """Elementwise maximum (as ``jax.lax.max``)."""
    return _E.maximum(x, y)


@_public
def min(x, y):  # noqa: A001
    """Elementwise minimum (as ``jax.lax.min``)."""
    return _E.minimum(x, y)


@_public
def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1, precision=None,
                         preferred_element_type=None):
    """General N-d convolution (cross-correlation, as XLA and ``jax.lax``), with strides,
    padding (``"SAME"``, ``"SAME_LOWER"``, ``"VALID"`` or ``(low, high)`` pairs), input
    (``lhs_dilation``: transposed convolution) and kernel (``rhs_dilation``: atrous)
    dilation, and feature or batch groups.  ``dimension_numbers``: None (``NCHW``,
    ``OIHW``, ``NCHW``), three layout strings such as ``("NHWC", "HWIO", "NHWC")``, or
    ``jax.lax.ConvDimensionNumbers``.  Floats and integers; see ``primitives/conv.py``."""
    return _conv.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                      dimension_numbers, feature_group_count, batch_group_count, precision,
                                      preferred_element_type)


def _monoid(computation):
    """``"add"``, ``"max"`` or ``"min"`` for the reductions reduce_window knows, else None."""
    import operator

    import jax.lax as jlax
    import jax.numpy as jnp
    import numpy as np

    from . import numpy as fnp
    table = {"add": (add, fnp.add, np.add, operator.add, jlax.add, jnp.add),
             "max": (max, fnp.maximum, np.maximum, jlax.max, jnp.maximum),
             "min": (min, fnp.minimum, np.minimum, jlax.min, jnp.minimum)}
    for name, fns in table.items():
        if any(computation is f for f in fns):
            return name
    return None


@_public
def reduce_window(operand, init_value, computation, window_dimensions, window_strides=None, padding="VALID",
                  base_dilation=None, window_dilation=None):
    """Reduce each window of ``operand`` (as ``jax.lax.reduce_window``): ``computation``
    is ``funcgrad.lax.add`` (``init_value`` 0: sum pooling), ``funcgrad.lax.max``
    (``-inf``, or the integer minimum: max pooling) or ``funcgrad.lax.min`` -- or the same
    reductions from ``jax.lax``, ``funcgrad.numpy``/``numpy`` (``add``, ``maximum``,
    ``minimum``).  Padding and the holes of ``base_dilation`` hold ``init_value``.  The
    derivative of max (min) goes to the first maximum (minimum) of each window."""
    import numpy as np

    from .core.avals import get_aval
    from .core.trace import Tracer
    which = _monoid(computation)
    name = getattr(computation, "__name__", repr(computation))
    if which is None:
        raise NotImplementedError(
            f"reduce_window: computation {name} is not supported.\nFix: pass funcgrad.lax.add (init_value 0), "
            "funcgrad.lax.max (init_value -inf) or funcgrad.lax.min (init_value inf) -- jax.lax's, or "
            "funcgrad.numpy's add / maximum / minimum, work too.")
    x = operand
    a = get_aval(x)
    n = a.ndim
    op = f"reduce_window({which})"
    window = _conv._ints(op, "window_dimensions", window_dimensions, n, [a])
    strides = _conv._ints(op, "window_strides", window_strides, n, [a])
    bd = _conv._ints(op, "base_dilation", base_dilation, n, [a])
    wd = _conv._ints(op, "window_dilation", window_dilation, n, [a])
    if isinstance(padding, str):
        if len(window) != n or len(strides) != n or len(wd) != n:
            raise _conv.shape_error(op, [a], f"window_dimensions {window}, window_strides {strides} and "
                                    f"window_dilation {wd} need {n} entries", "give one entry per dimension")
        try:
            pads = _conv.padtype_to_pads(a.shape, [_conv.dilate_dim(k, r) for k, r in zip(window, wd)], strides,
                                         padding)
        except ValueError as e:
            raise _conv.shape_error(op, [a], str(e), "use 'SAME', 'SAME_LOWER' or 'VALID'") from None
    else:
        pads = _conv.explicit_padding(op, padding, n, [a])
    params = dict(window_dimensions=window, window_strides=strides, padding=pads, base_dilation=bd,
                  window_dilation=wd)
    (_W.reduce_window_sum_p if which == "add" else _W.reduce_window_max_p).shape(a, **params)  # eager errors too
    init = None if isinstance(init_value, Tracer) else np.asarray(init_value)
    if which == "add":
        if init is None or init.shape != () or init != 0:
            raise ValueError(f"reduce_window: add needs init_value 0, got {init_value!r} at "
                             f"{_user_location()}.\nFix: add a constant to the result instead.")
        return _W.reduce_window_sum(x, **params)
    dt = a.dtype
    if which == "max":
        out = _W.reduce_window_max(x, **params)
    else:  # min(x) = -max(-x); for integers ~x reverses the order without overflow
        flip = (lambda v: _E.neg(v)) if dt.kind == "f" else (
            lambda v: _E.bitwise_xor(v, np.asarray(-1 if dt.kind == "i" else np.iinfo(dt).max, dt)))
        out = flip(_W.reduce_window_max(flip(x), **params))
    ident = _W._identity(dt, "max")
    if init is not None and init.shape == () and (init <= ident if which == "max" else
                                                  init >= (np.inf if dt.kind == "f" else np.iinfo(dt).max)):
        return out  # the identity (or beyond it, as -inf for integers): nothing to combine
    init_v = init_value if init is None else np.asarray(init_value, dt)
    return (_E.maximum if which == "max" else _E.minimum)(out, _E.convert_element_type(init_v, dt))


def _user_location():
    from .errors import user_location
    return user_location()


__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map", "select", "stop_gradient",
           "conv_general_dilated", "reduce_window", "add", "max", "min"]
