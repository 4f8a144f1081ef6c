"""``funcgrad.nn``: activations, softmax and friends, losses, initializers and dropout.

Everything here is a composition of funcgrad primitives (no rules live here), so it
works eagerly and under every transform.  Activations follow ``jax.nn``: the same
signatures and defaults, the same values, and the same derivatives at the kinks
(``relu'(0) = 0``, ``relu6'(6) = 0``, ``elu'(0) = alpha``, ``leaky_relu'(0) = 1``).
Written so that neither a value nor a derivative overflows: ``softmax``,
``log_softmax``, ``logsumexp``, ``softplus``, ``sigmoid`` and the losses stay finite,
gradients included, at inputs of +-1e4.

Losses follow torch's names and conventions (optax's formulas): ``pred`` / ``logits``
first, then the target; ``reduction="mean"`` (the default: the mean over every
element, or over the batch for the cross-entropies), ``"sum"`` or ``"none"``.
Initializers are ``jax.nn.initializers``' math as plain functions
``(key, shape, dtype=float32)``; with ``funcgrad.random`` they draw the same numbers
as jax for the same key.
"""
import operator as _operator

import numpy as _np

from .core.avals import get_aval as _aval
from .core.trace import Tracer as _Tracer
from .errors import DTypeError as _DTypeError, ShapeError as _ShapeError, api_boundary as _api_boundary
from .numpy import _math as _M
from .numpy import _reductions as _R
from .numpy import _shape as _S
from .primitives import elementwise as _E
from .primitives import softmax as _softmax
from .primitives import special as _P
from .primitives.misc import stop_gradient as _stop_gradient
from .scipy import special as _special


def _public(fn):
    return _api_boundary(fn, python_scalars_to_numpy=True)


_floats = _special._floats
_F32 = _np.dtype(_np.float32)


# ----------------------------------------------------------------------------- activations

def _relu(x):
    if getattr(x, "dtype", None) == _np.bool_:
        return _M.where(_M.less_equal(x, 0), 0, x)
    return _E.relu(x)  # NaN passes through; relu'(0) = 0


@_public
def relu(x):
    """``max(x, 0)``; the derivative at 0 is 0 (as jax.nn.relu)."""
    return _relu(x)


@_public
def relu6(x):
    """``min(max(x, 0), 6)``; the derivative is 0 at both kinks (as jax.nn.relu6)."""
    return _M.where(_M.less_equal(x, 0), 0.0, _M.where(_M.greater_equal(x, 6), 6.0, x))


@_public
def sigmoid(x):
    """``1 / (1 + exp(-x))`` (``jax.nn.sigmoid``), finite with a finite derivative everywhere."""
    return _special._expit(x)


def _softplus(x):
    # max(x, 0) + log1p(exp(-|x|)), with -|x| taken by a select so that the first and
    # second derivatives at 0 are exact (1/2 and 1/4).
    x, = _floats(x)
    neg_abs = _M.where(_M.greater(x, 0), _M.negative(x), x)
    return _M.add(_relu(x), _M.log1p(_M.exp(neg_abs)))


@_public
def softplus(x):
    """``log(1 + exp(x))``, computed without overflow."""
    return _softplus(x)


@_public
def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``."""
    x, = _floats(x)
    return _M.negative(_softplus(_M.negative(x)))


@_public
def tanh(x):
    """The hyperbolic tangent (``jax.nn.tanh`` is ``jnp.tanh``)."""
    return _M.tanh(x)


@_public
def silu(x):
    """``x * sigmoid(x)`` (also called swish)."""
    x, = _floats(x)
    return _M.multiply(x, _special._expit(x))


swish = silu


@_public
def gelu(x, approximate=True):
    """The Gaussian error linear unit ``x * Phi(x)``: by default the tanh approximation
    ``x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``, with ``approximate=False`` the
    exact ``x/2 erfc(-x/sqrt(2))`` (as jax.nn.gelu)."""
    x, = _floats(x)
    if approximate:
        cube = _M.multiply(_M.multiply(x, x), x)
        inner = _M.multiply(float(_np.sqrt(2 / _np.pi)), _M.add(x, _M.multiply(0.044715, cube)))
        return _M.multiply(x, _M.multiply(0.5, _M.add(1.0, _M.tanh(inner))))
    return _M.multiply(_M.multiply(0.5, x), _P.erfc(_M.multiply(_M.negative(x), float(_np.sqrt(0.5)))))


@_public
def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``; the derivative at 0 is ``alpha``."""
    pos = _M.greater(x, 0)
    return _M.where(pos, x, _M.multiply(alpha, _M.expm1(_M.where(pos, 0.0, x))))


@_public
def leaky_relu(x, negative_slope=0.01):
    """``x`` for ``x >= 0``, else ``negative_slope * x``; the derivative at 0 is 1."""
    return _M.where(_M.greater_equal(x, 0), x, _M.multiply(negative_slope, x))


def _shifted(x, axis, where):
    """``x - max(x)`` along ``axis`` (the max held constant), masked entries at -inf."""
    x, = _floats(x)
    masked = x if where is None else _M.where(where, x, -_np.inf)
    # the max is a constant: stopped first, so that under grad nothing of it is recorded
    x_max = _R.max(_stop_gradient(masked), axis=axis, keepdims=True)
    x_max = _M.where(_M.isfinite(x_max), x_max, 0.0)
    return _M.subtract(masked, x_max)


@_public
def softmax(x, axis=-1, where=None):
    """``exp(x) / sum(exp(x), axis)``, computed as ``exp(x - max)`` so it never overflows.
    ``where`` masks entries out (they get probability 0)."""
    e = _M.exp(_shifted(x, axis, where))
    out = _M.divide(e, _R.sum(e, axis=axis, keepdims=True))
    return out if where is None else _M.where(where, out, 0.0)


def _log_softmax(x, axis=-1, where=None):
    if where is None:  # one primitive: one tape node, closed-form derivatives
        x, = _floats(x)
        nd = len(_aval(x).shape)
        if isinstance(axis, int) and -nd <= axis < nd:
            return _softmax.log_softmax(x, axis % nd)
    s = _shifted(x, axis, where)
    out = _M.subtract(s, _M.log(_R.sum(_M.exp(s), axis=axis, keepdims=True)))
    return out if where is None else _M.where(where, out, -_np.inf)


@_public
def log_softmax(x, axis=-1, where=None):
    """``x - logsumexp(x, axis)``: finite for finite ``x`` of any size (masked entries: -inf)."""
    return _log_softmax(x, axis, where)


logsumexp = _special.logsumexp  # jax.nn.logsumexp is jax.scipy.special.logsumexp


def _is_int(x):
    return _aval(x).dtype.kind in "iu"


@_public
def one_hot(x, num_classes, *, dtype=None, axis=-1):
    """Integer class indices ``x`` as one-hot vectors of length ``num_classes`` along a new
    axis ``axis`` (default last), in ``dtype`` (default float32).  Indices outside
    ``[0, num_classes)`` give all-zero vectors, as in jax."""
    if isinstance(num_classes, _Tracer):
        num_classes._concrete("one_hot's num_classes")
    try:
        num_classes = _operator.index(num_classes)
    except TypeError:
        raise TypeError(f"one_hot: num_classes must be an integer, got {num_classes!r}.\n"
                        "Fix: pass a Python int (the number of classes).") from None
    a = _aval(x)
    if a.dtype.kind not in "iu":
        raise _DTypeError(f"one_hot: the class indices must be integers, got {a.str_short()}.\n"
                          f"Fix: convert them first, e.g. one_hot(labels.astype(int32), {num_classes}) "
                          "(jax deprecates float indices).")
    nd = len(a.shape) + 1
    pos = axis + nd if axis < 0 else axis
    if not 0 <= pos < nd:
        raise _ShapeError(f"one_hot: axis {axis} is out of bounds for a result of {nd} dimensions "
                          f"(indices {a.str_short()}).\nFix: use an axis in [{-nd}, {nd}).")
    shape = [1] * nd
    shape[pos] = num_classes
    classes = _np.arange(num_classes, dtype=a.dtype).reshape(shape)
    hit = _M.equal(_S.expand_dims(x, pos), classes)
    from .primitives.elementwise import convert_element_type
    return convert_element_type(hit, _F32 if dtype is None else _np.dtype(dtype))


def _masked_mean(x, axis, where):
    if where is None:
        return _R.mean(x, axis=axis, keepdims=True)
    total = _R.sum(_M.where(where, x, 0.0), axis=axis, keepdims=True)
    count = _R.sum(_M.where(where, 1.0, 0.0), axis=axis, keepdims=True)
    return _M.divide(total, count)


@_public
def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None, *, algorithm="fast"):
    """``(x - mean) / sqrt(variance + epsilon)`` along ``axis`` (as jax.nn.standardize):
    ``algorithm="fast"`` takes the variance as ``mean(x^2) - mean(x)^2`` clipped at 0,
    ``"stable"`` as ``mean((x - mean)^2)``."""
    x, = _floats(x)
    if mean is None:
        mean = _masked_mean(x, axis, where)
    if variance is None:
        if algorithm == "stable":
            d = _M.subtract(x, mean)
            variance = _masked_mean(_M.multiply(d, d), axis, where)
        elif algorithm == "fast":
            variance = _M.subtract(_masked_mean(_M.multiply(x, x), axis, where), _M.multiply(mean, mean))
            variance = _M.maximum(variance, 0.0)
        else:
            raise ValueError(f"standardize: unknown algorithm {algorithm!r}; use 'fast' or 'stable'")
    return _M.multiply(_M.subtract(x, mean), _M.divide(1.0, _M.sqrt(_M.add(variance, epsilon))))


# ----------------------------------------------------------------------------- dropout

@_public
def dropout(key, rate, x):
    """Inverted dropout: each element of ``x`` is kept with probability ``1 - rate`` and
    scaled by ``1 / (1 - rate)``, else set to 0, so the expectation is ``x``.  The mask
    is ``funcgrad.random.bernoulli(key, 1 - rate, x.shape)`` (as flax's Dropout), so the
    same key drops the same elements, eagerly and under ``jit``/``vmap``.  ``rate=0``
    returns ``x`` unchanged; ``rate=1`` returns zeros.  Differentiable in ``x``."""
    concrete = not isinstance(rate, _Tracer)
    if concrete:
        r = float(rate)
        if not 0.0 <= r <= 1.0:
            raise ValueError(f"dropout: rate must be in [0, 1], got {rate!r} (the probability of dropping "
                             "an element).")
        if r == 0.0:
            return x
        if r == 1.0:
            return _M.multiply(x, 0.0)
    from . import random as _random
    keep = _M.subtract(1.0, rate)
    mask = _random.bernoulli(key, keep, tuple(_aval(x).shape))
    return _M.where(mask, _M.divide(x, keep), 0.0)


# ----------------------------------------------------------------------------- losses

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(op, loss, reduction):
    if reduction == "mean":
        return _R.mean(loss)
    if reduction == "sum":
        return _R.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _same_shape(op, pred, target, names=("pred", "target")):
    """Elementwise losses: equal shapes (or a scalar target), never silent broadcasting
    (a (N, 1) prediction against (N,) targets would give an (N, N) loss)."""
    p, t = _aval(pred), _aval(target)
    if t.shape != p.shape and t.shape != ():
        raise _ShapeError(
            f"{op}: {names[0]} has shape {p.shape} but {names[1]} has shape {t.shape}; they must match "
            f"(operands: {p.str_short()}, {t.str_short()}) at {_user_location()}.\n"
            f"Fix: reshape one of them, e.g. {names[0]}.reshape({names[1]}.shape) or {names[1]}[:, None].")


def _diff(op, pred, target, reduction):
    _check_reduction(op, reduction)
    _same_shape(op, pred, target)
    pred, target = _floats(pred, target)
    return _M.subtract(pred, target)


@_public
def mse_loss(pred, target, reduction="mean"):
    """Mean squared error ``mean((pred - target)^2)`` (torch.nn.functional.mse_loss)."""
    d = _diff("mse_loss", pred, target, reduction)
    return _reduce("mse_loss", _M.multiply(d, d), reduction)


@_public
def l1_loss(pred, target, reduction="mean"):
    """Mean absolute error ``mean(|pred - target|)``; the derivative at 0 is 0."""
    return _reduce("l1_loss", _M.abs(_diff("l1_loss", pred, target, reduction)), reduction)


@_public
def huber_loss(pred, target, delta=1.0, reduction="mean"):
    """``0.5 d^2`` for ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``, with
    ``d = pred - target`` (torch's HuberLoss; optax's formula); mean by default."""
    a = _M.abs(_diff("huber_loss", pred, target, reduction))
    quad = _M.minimum(a, delta)
    loss = _M.add(_M.multiply(0.5, _M.multiply(quad, quad)), _M.multiply(delta, _M.subtract(a, quad)))
    return _reduce("huber_loss", loss, reduction)


@_public
def cross_entropy(logits, labels, axis=-1, reduction="mean"):
    """Softmax cross-entropy ``-sum(labels * log_softmax(logits), axis)``, averaged over
    the batch (every other axis) unless ``reduction`` says otherwise.

    ``labels`` are either integer class indices, shaped like ``logits`` without ``axis``
    (``(N,)`` for ``(N, C)`` logits), or class probabilities / one-hot rows shaped like
    ``logits``.  Finite in value and gradient for logits of any size.  An index outside
    ``[0, C)`` raises eagerly; under ``jit``/``vmap`` (where it cannot be checked) its
    loss is NaN."""
    _check_reduction("cross_entropy", reduction)
    la, lb = _aval(logits), _aval(labels)
    nd = len(la.shape)
    if nd == 0:
        raise _ShapeError(f"cross_entropy: logits must have a class axis, got {la.str_short()}.\n"
                          "Fix: pass logits shaped (..., num_classes).")
    ax = axis + nd if axis < 0 else axis
    logp = _log_softmax(logits, ax)
    if lb.dtype.kind in "iu":
        want = la.shape[:ax] + la.shape[ax + 1:]
        if lb.shape != want:
            raise _ShapeError(
                f"cross_entropy: integer labels must have the shape of logits without the class axis {axis}: "
                f"{want}, got {lb.shape} (operands: {la.str_short()}, {lb.str_short()}).\n"
                f"Fix: pass labels shaped {want} (e.g. labels.reshape({want})), or one-hot/probability labels "
                f"shaped {la.shape}.")
        n = la.shape[ax]
        if not isinstance(labels, _Tracer):
            lab = _np.asarray(labels)
            bad = (lab < 0) | (lab >= n)
            if bad.any():
                raise ValueError(f"cross_entropy: label {lab[bad].flat[0]} is out of range for {n} classes "
                                 f"(logits {la.str_short()}); labels must be in [0, {n}).\n"
                                 "Fix: check the label encoding (e.g. 1-based labels: pass labels - 1).")
        shape = [1] * nd
        shape[ax] = n
        hit = _M.equal(_S.expand_dims(labels, ax), _np.arange(n, dtype=lb.dtype).reshape(shape))
        nll = _M.negative(_R.sum(_M.where(hit, logp, 0.0), axis=ax))
        if isinstance(labels, _Tracer):
            valid = _M.logical_and(_M.greater_equal(labels, 0), _M.less(labels, n))
            nll = _M.where(valid, nll, _np.nan)
    else:
        if lb.shape != la.shape:
            raise _ShapeError(
                f"cross_entropy: probability (one-hot) labels must have the shape of logits {la.shape}, got "
                f"{lb.shape} (operands: {la.str_short()}, {lb.str_short()}).\n"
                f"Fix: pass labels shaped {la.shape}, or integer class indices shaped "
                f"{la.shape[:ax] + la.shape[ax + 1:]}.")
        if lb.dtype.kind == "b":
            from .primitives.elementwise import convert_element_type
            labels = convert_element_type(labels, _aval(logp).dtype)
        # A class with probability 0 adds nothing, even at logit -inf (where 0 * -inf is NaN).
        void = _M.logical_and(_M.equal(labels, 0), _M.equal(logp, -_np.inf))
        terms = _M.multiply(labels, _M.where(void, 0.0, logp))
        nll = _M.negative(_R.sum(terms, axis=ax))
    return _reduce("cross_entropy", nll, reduction)


@_public
def binary_cross_entropy(logits, labels, reduction="mean"):
    """Sigmoid binary cross-entropy **from logits** (optax's
    ``sigmoid_binary_cross_entropy``; torch's ``binary_cross_entropy_with_logits``):
    ``-labels log(sigmoid(logits)) - (1 - labels) log(1 - sigmoid(logits))``, computed
    with ``log_sigmoid`` so it stays finite (value and gradient) for logits of any size.
    ``labels`` are in ``[0, 1]`` (floats, ints or bools) and shaped like ``logits``.
    To start from probabilities ``p``, pass ``scipy.special.logit(p)``."""
    _check_reduction("binary_cross_entropy", reduction)
    _same_shape("binary_cross_entropy", logits, labels, names=("logits", "labels"))
    logits, = _floats(logits)
    if _aval(labels).dtype.kind != "f":
        from .primitives.elementwise import convert_element_type
        labels = convert_element_type(labels, _aval(logits).dtype)
    log_p = _M.negative(_softplus(_M.negative(logits)))
    log_not_p = _M.negative(_softplus(logits))
    loss = _M.subtract(_M.multiply(_M.negative(labels), log_p), _M.multiply(_M.subtract(1.0, labels), log_not_p))
    return _reduce("binary_cross_entropy", loss, reduction)


# ----------------------------------------------------------------------------- initializers

def _fans(shape, in_axis, out_axis, batch_axis):
    """``(fan_in, fan_out)`` as jax.nn.initializers computes them: the sizes of the input
    and output axes, each times the receptive field (every axis that is neither)."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"initializer: can't compute the input and output sizes of a {len(shape)}-dimensional "
                         f"weights shape {tuple(shape)} with the default in_axis=-2.\n"
                         "Fix: pass a shape of at least 2 dimensions, e.g. (fan_in, fan_out), or use "
                         "variance_scaling(..., in_axis=..., out_axis=...).")

    def size(axes):
        return shape[axes] if isinstance(axes, int) else int(_np.prod([shape[i] for i in axes]))

    in_size, out_size, batch_size = size(in_axis), size(out_axis), size(batch_axis)
    receptive = int(_np.prod(shape)) / in_size / out_size / batch_size
    return in_size * receptive, out_size * receptive


def _canonical_shape(shape):
    try:
        return tuple(_operator.index(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    except TypeError:
        raise TypeError(f"initializer: shape must be a tuple of ints, got {shape!r}") from None


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(), dtype=_np.float32):
    """An initializer ``(key, shape, dtype) -> array`` with variance ``scale / n`` (jax's
    ``variance_scaling``): ``n`` is ``fan_in``, ``fan_out``, their mean (``fan_avg``) or
    geometric mean (``fan_geo_avg``); ``distribution`` is ``"truncated_normal"`` (at two
    standard deviations, rescaled), ``"normal"`` or ``"uniform"``."""
    if mode not in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
        raise ValueError(f"variance_scaling: invalid mode {mode!r}")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError(f"variance_scaling: invalid distribution {distribution!r}")
    default_dtype = dtype

    def init(key, shape, dtype=default_dtype):
        from . import random as _random
        shape = _canonical_shape(shape)
        dtype = _np.dtype(_np.float32 if dtype is None else dtype)
        if dtype.kind != "f":
            raise _DTypeError(f"initializer: dtype must be a float dtype, got {dtype}")
        fan_in, fan_out = _fans(shape, in_axis, out_axis, batch_axis)
        denominator = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                       "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        variance = _np.asarray(scale / denominator, dtype)
        if distribution == "truncated_normal":
            # 0.8796... is the standard deviation of a standard normal truncated to (-2, 2)
            stddev = _np.sqrt(variance) / _np.asarray(.87962566103423978, dtype)
            return _M.multiply(_random.truncated_normal(key, -2, 2, shape, dtype), stddev[()])
        if distribution == "normal":
            return _M.multiply(_random.normal(key, shape, dtype), _np.sqrt(variance)[()])
        return _M.multiply(_random.uniform(key, shape, dtype, -1), _np.sqrt(3 * variance)[()])

    init.__name__ = "variance_scaling_init"
    return init


def _named(name, scale, mode, distribution, about):
    vs = variance_scaling(scale, mode, distribution)

    def init(key, shape, dtype=_np.float32):
        return vs(key, shape, dtype)

    init.__name__ = init.__qualname__ = name
    init.__doc__ = (f"{about}: ``variance_scaling({scale}, {mode!r}, {distribution!r})`` as a function "
                    "``(key, shape, dtype=float32)``; dense kernels are ``(in, out)``, conv kernels "
                    "``(..., in, out)`` (HWIO).")
    return _public(init)


glorot_uniform = _named("glorot_uniform", 1.0, "fan_avg", "uniform", "Glorot (Xavier) uniform")
glorot_normal = _named("glorot_normal", 1.0, "fan_avg", "truncated_normal", "Glorot (Xavier) normal")
he_uniform = _named("he_uniform", 2.0, "fan_in", "uniform", "He (Kaiming) uniform")
he_normal = _named("he_normal", 2.0, "fan_in", "truncated_normal", "He (Kaiming) normal")
lecun_uniform = _named("lecun_uniform", 1.0, "fan_in", "uniform", "LeCun uniform")
lecun_normal = _named("lecun_normal", 1.0, "fan_in", "truncated_normal", "LeCun normal")
xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal = glorot_uniform, glorot_normal, he_uniform, he_normal


@_public
def zeros(key, shape, dtype=_np.float32):
    """An all-zero array (``key`` is unused; the signature is the initializers')."""
    del key
    return _np.zeros(_canonical_shape(shape), _np.float32 if dtype is None else dtype)


@_public
def ones(key, shape, dtype=_np.float32):
    """An all-one array (``key`` is unused)."""
    del key
    return _np.ones(_canonical_shape(shape), _np.float32 if dtype is None else dtype)


# ----------------------------------------------------------------------------- convolution and pooling
# Channels-last layouts, as flax.linen and TensorFlow: inputs (batch, *spatial, features),
# kernels (*window, in_features, out_features) -- NHWC and HWIO in 2-D.  Compositions of
# funcgrad.lax.conv_general_dilated and reduce_window (primitives/conv.py, windowed.py).

from . import lax as _lax  # noqa: E402
from . import numpy as _fnp  # noqa: E402
from .errors import user_location as _user_location  # noqa: E402

_SPATIAL = "HWDXYZABEFGJKLMPQRSTUV"  # letters for spatial dimensions (never N, C, O or I)


def _tuple(v, n, name):
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(i) for i in v)
    if len(v) != n:
        raise _ShapeError(f"funcgrad.nn: {name} {v} needs {n} entries, one per spatial dimension (at "
                          f"{_user_location()}).\nFix: pass an int or {n} values.")
    return v


def _pairs(padding, n):
    """A padding string as given; an int, or per-dimension ints or (low, high) pairs, as pairs."""
    if isinstance(padding, str):
        return padding
    if isinstance(padding, int):
        return ((padding, padding),) * n
    pads = tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)
    if len(pads) != n:
        raise _ShapeError(f"funcgrad.nn: padding {padding} needs {n} entries, one per spatial dimension (at "
                          f"{_user_location()}).\nFix: pass a string, an int, or {n} (low, high) pairs.")
    return pads


@_public
def conv(x, w, stride=1, padding="SAME", *, dilation=1, feature_group_count=1):
    """Convolution (cross-correlation, as ``flax.linen.Conv`` / ``jax.lax``) of a
    channels-last input with a spatial-first kernel.

    ``x``: ``(N, *spatial, C_in)`` -- NHWC for images, NWC in 1-D, NDHWC in 3-D; an
    unbatched ``(*spatial, C_in)`` works too.  ``w``: ``(*window, C_in //
    feature_group_count, C_out)`` -- HWIO.  ``stride`` and ``dilation`` (of the kernel):
    an int or one per spatial dimension.  ``padding``: ``"SAME"`` (output size
    ``ceil(in / stride)``), ``"VALID"``, ``"SAME_LOWER"``, an int, or one int or
    ``(low, high)`` pair per spatial dimension.  Returns ``(N, *out_spatial, C_out)``."""
    n = _fnp.ndim(w) - 2
    if n < 0 or _fnp.ndim(x) not in (n + 1, n + 2):
        raise _ShapeError(f"funcgrad.nn.conv: an input of shape {_fnp.shape(x)} does not match a kernel of shape "
                          f"{_fnp.shape(w)} (*window, C_in, C_out) at {_user_location()}.\n"
                          "Fix: pass inputs (N, *spatial, C_in) -- NHWC -- and kernels (*window, C_in, C_out) -- HWIO.")
    unbatched = _fnp.ndim(x) == n + 1
    if unbatched:
        x = _fnp.expand_dims(x, 0)
    sp = _SPATIAL[:n]
    out = _lax.conv_general_dilated(x, w, _tuple(stride, n, "stride"), _pairs(padding, n),
                                    rhs_dilation=_tuple(dilation, n, "dilation"),
                                    dimension_numbers=("N" + sp + "C", sp + "IO", "N" + sp + "C"),
                                    feature_group_count=feature_group_count)
    return out[0] if unbatched else out


def _window(window, x):
    return (int(window),) * (_fnp.ndim(x) - 2) if isinstance(window, int) else tuple(int(k) for k in window)


def _pool(x, init, computation, window, strides, padding):
    """``reduce_window`` over the spatial dimensions of ``(batch..., *spatial, features)``
    (flax.linen.pooling.pool): no batch dimension, or several, work too."""
    window = _window(window, x)
    n = len(window)
    strides = (1,) * n if strides is None else _tuple(strides, n, "strides")
    shape = _fnp.shape(x)
    nb = len(shape) - n - 1
    if nb < 0:
        raise _ShapeError(f"funcgrad.nn: a pooling window {window} needs inputs (batch, *{n} spatial, features), "
                          f"got shape {shape} at {_user_location()}.\n"
                          "Fix: pass channels-last inputs (N, H, W, C) for a 2-d window.")
    if nb != 1:
        x = _fnp.reshape(x, (-1,) + shape[nb:])
    pads = padding if isinstance(padding, str) else ((0, 0),) + _pairs(padding, n) + ((0, 0),)
    y = _lax.reduce_window(x, init, computation, (1,) + window + (1,), (1,) + strides + (1,), pads)
    return y if nb == 1 else _fnp.reshape(y, shape[:nb] + _fnp.shape(y)[1:])


@_public
def max_pool(x, window, strides=None, padding="VALID"):
    """Max pooling over the spatial dimensions of a channels-last input
    (``flax.linen.max_pool``): ``x`` ``(N, *spatial, C)``, ``window`` a tuple of spatial
    sizes (``(2, 2)``), ``strides`` likewise (default 1), ``padding`` ``"VALID"``,
    ``"SAME"`` or one ``(low, high)`` pair per spatial dimension (padding never wins).
    The gradient goes to the first maximum of each window (row-major), as in jax."""
    return _pool(x, -_np.inf, _lax.max, window, strides, padding)


@_public
def avg_pool(x, window, strides=None, padding="VALID", count_include_pad=True):
    """Average pooling (``flax.linen.avg_pool``): the window sums divided by the window
    size, or, with ``count_include_pad=False``, by the number of real (unpadded)
    elements in each window."""
    y = _pool(x, 0, _lax.add, window, strides, padding)
    if count_include_pad:
        size = 1
        for k in _window(window, x):
            size *= k
        return y / float(size)
    ones = _fnp.ones(_fnp.shape(x)[:-1] + (1,), y.dtype if y.dtype.kind == "f" else _np.float32)
    return y / _pool(ones, 0, _lax.add, window, strides, padding)

