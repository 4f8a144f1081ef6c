"""Special functions: ``erf``, ``erfc``, ``erf_inv``, ``lgamma``, ``digamma`` and
``polygamma[n]`` (the n-th derivative of digamma), each with all of its rules.

Eager evaluation is vectorised NumPy (scipy is not a dependency): the value is computed
in float64 and rounded to the operand's float dtype.  The algorithms are the ones XLA
uses where that is accurate to float64 rounding (Cephes' rational approximations for
``erf``/``erfc``), so eager and ``jit`` agree closely; ``erf_inv`` is Giles'
polynomials ("Approximating the erfinv function", GPU Computing Gems, 2011) at the
operand's precision, as XLA evaluates them, in cache-sized blocks (random normals
apply it to every draw); ``lgamma`` is Cephes' ``lgam`` (XLA's Lanczos sum is ~100 ulps off near 2.2);
``digamma`` and ``polygamma`` use the recurrence ``f(x) = f(x + 1) - (term)`` up to
``x >= 20`` and the asymptotic series there.
Lowering calls ``jax.lax``'s functions of the same names.

Derivatives, written in funcgrad ops so they are differentiable again::

    erf'(x)    =  2/sqrt(pi) exp(-x^2)        erfc'(x) = -2/sqrt(pi) exp(-x^2)
    erf_inv'(x) = sqrt(pi)/2 exp(erf_inv(x)^2)
    lgamma'(x) = digamma(x),  digamma'(x) = polygamma[1](x),  polygamma[n]' = polygamma[n+1]
"""
import math

import numpy as np
import jax.lax as lax
import jax.numpy as jnp

from ..core.primitive import Primitive, defvjp
from ._util import aval, dtype_error, weak_result
from .elementwise import exp, mul, neg

# ----------------------------------------------------------------------------- NumPy kernels


def _poly(x, coeffs):
    """Horner's rule, coefficients from the highest power down."""
    out = np.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        out = out * x + c
    return out


# Cephes ndtr.c coefficients (the ones XLA's f64 erf/erfc use).
_ERF_T = (9.60497373987051638749E0, 9.00260197203842689217E1, 2.23200534594684319226E3,
          7.00332514112805075473E3, 5.55923013010394962768E4)
_ERF_U = (1.0, 3.35617141647503099647E1, 5.21357949780152679795E2, 4.59432382970980127987E3,
          2.26290000613890934246E4, 4.92673942608635921086E4)
_ERFC_P = (2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
           4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
           9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2)
_ERFC_Q = (1.0, 1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2,
           9.75708501743205489753E2, 1.82390916687909736289E3, 2.24633760818710981792E3,
           1.65666309194161350182E3, 5.57535340817727675546E2)
_ERFC_R = (5.64189583547755073984E-1, 1.27536670759978104416E0, 5.01905042251180477414E0,
           6.16021097993053585195E0, 7.40974269950448939160E0, 2.97886665372100240670E0)
_ERFC_S = (1.0, 2.26052863220117276590E0, 9.39603524938001434673E0, 1.20489539808096656605E1,
           1.70814450747565897222E1, 9.60896809063285878198E0, 3.36907645100081516050E0)


def _erf_small(x):
    """erf(x) for |x| <= 1: ``x T(x^2) / U(x^2)``."""
    x = np.clip(x, -1.0, 1.0)
    z = x * x
    return x * _poly(z, _ERF_T) / _poly(z, _ERF_U)


def _erfc_large(a):
    """erfc(a) for a = |x| >= 1: ``exp(-a^2) P(a)/Q(a)`` (a < 8) or ``R(a)/S(a)``.

    ``exp(-a^2)`` is computed as ``exp(-ah^2/2)^2 exp(-(a - ah)(a + ah))`` with ``ah``
    ``a`` rounded to 1/16 (so ``ah^2`` is exact): the rounding of ``a^2`` would otherwise
    cost up to ``a^2`` ulps; halving keeps the partial products clear of underflow."""
    a = np.clip(a, 1.0, 30.0)  # erfc(30) underflows; clipping keeps inf out of P/Q
    ah = np.floor(a * 16.0) / 16.0
    half = np.exp(-0.5 * ah * ah)
    small = a < 8.0
    ratio = np.where(small, _poly(a, _ERFC_P) / _poly(a, _ERFC_Q), _poly(a, _ERFC_R) / _poly(a, _ERFC_S))
    return (half * ratio * np.exp(-(a - ah) * (a + ah))) * half


def _erf_np(x):
    a = np.abs(x)
    big = np.copysign(1.0 - _erfc_large(a), x)
    return np.where(a <= 1.0, _erf_small(x), big)


def _erfc_np(x):
    a = np.abs(x)
    tail = _erfc_large(a)
    big = np.where(x < 0, 2.0 - tail, tail)
    return np.where(a <= 1.0, 1.0 - _erf_small(x), big)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ----------------------------------------------------------------------------- erf_inv, as XLA computes it

_ERF_INV_BLOCK = 65536   # elements per pass: the scratch blocks stay in cache


def _horner(coeffs, t, out):
    """``out = coeffs[0] t^(n-1) + ... + coeffs[-1]`` by Horner's rule, in place, in ``out``'s dtype."""
    np.multiply(t, out.dtype.type(coeffs[0]), out=out)
    out += coeffs[1]
    for c in coeffs[2:]:
        out *= t
        out += c
    return out


# M. Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011): single precision.
_ERFINV32 = ((5.0, 2.5, False,
              (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
               -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)),
             (np.inf, 3.0, True,
              (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
               -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)))
# ... and double precision (three ranges of w = -log(1 - x^2)).
_ERFINV64 = ((6.25, 3.125, False,
              (-3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
               1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
               6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
               2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
               1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
               4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
               0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
               0.24015818242558961693, 1.6536545626831027356)),
             (16.0, 3.25, True,
              (2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
               1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
               2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05,
               6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796,
               0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066,
               -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334,
               3.0838856104922207635)),
             (np.inf, 5.0, True,
              (-2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
               -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08,
               2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07,
               -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05,
               7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026,
               1.0103004648645343977, 4.8499064014085844221)))


def _erf_inv_block(x, out, l, t):
    """``out = erfinv(x)`` for one block; ``l``, ``t`` are scratch blocks of x's dtype.
    With ``w = -log1p(-x^2)``, the first range of w (almost every value a sampler
    meets) is computed for the whole block, the tail ranges only where they apply."""
    ranges = _ERFINV64 if x.dtype == np.float64 else _ERFINV32
    np.multiply(x, x, out=l)
    np.negative(l, out=l)
    np.log1p(l, out=l)                          # l = -w
    bound, shift, _, coeffs = ranges[0]
    np.subtract(-shift, l, out=t)               # w - shift
    _horner(coeffs, t, out)
    tail = np.flatnonzero(l <= -bound)          # w >= bound (NaN stays: NaN either way)
    if tail.size:
        w = -l[tail]
        lower = bound
        for bound, shift, use_sqrt, coeffs in ranges[1:]:
            sel = np.flatnonzero((w >= lower) & (w < bound))
            if sel.size:
                ws = w[sel]
                ts = (np.sqrt(ws) if use_sqrt else ws) - ws.dtype.type(shift)
                out[tail[sel]] = _horner(coeffs, ts, np.empty_like(ts))
            lower = bound
        edge = tail[w == np.inf]                # erfinv(+-1) = +-inf
        out[edge] = np.inf
    out *= x


def _erf_inv_impl(x):
    """Giles' polynomials at the operand's precision (float16 in float32, as XLA), over
    cache-sized blocks, in place: eager values agree with ``jit``'s to a few ulps, and
    random normals (one ``erf_inv`` per draw) stay cheap."""
    x = np.asarray(x)
    dt = x.dtype
    if dt.kind != "f":
        raise TypeError(f"needs a floating-point operand, got {dt}")
    work = np.float64 if dt == np.float64 else np.float32   # float16 computes in float32, as XLA
    flat = np.ascontiguousarray(x, work).reshape(-1)
    n = flat.size
    out = np.empty(n, work)
    m = min(n, _ERF_INV_BLOCK)
    w, t = np.empty(m, work), np.empty(m, work)
    with np.errstate(all="ignore"):
        for s in range(0, n, _ERF_INV_BLOCK):
            e = min(s + _ERF_INV_BLOCK, n)
            _erf_inv_block(flat[s:e], out[s:e], w[:e - s], t[:e - s])
    out = out.reshape(x.shape)
    out = out.astype(dt) if out.dtype != dt else out
    return out[()] if out.ndim == 0 else out


# Cephes' lgam (gamma.c): Stirling's series for x >= 13 (A), a rational function on [2, 3)
# after the recurrence Gamma(x + 1) = x Gamma(x) below 13 (B / C), the reflection formula below -34.
_LGAM_A = (8.11614167470508450300E-4, -5.95061904284301438324E-4, 7.93650340457716943945E-4,
           -2.77777777730099687205E-3, 8.33333333333331927722E-2)
_LGAM_B = (-1.37825152569120859100E3, -3.88016315134637840924E4, -3.31612992738871184744E5,
           -1.16237097492762307383E6, -1.72173700820839662146E6, -8.53555664245765465627E5)
_LGAM_C = (1.0, -3.51815701436523470549E2, -1.70642106651881159223E4, -2.20528590553854454839E5,
           -1.13933444367982507207E6, -2.53252307177582951285E6, -2.01889141433532773231E6)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _lgamma_stirling(x):
    """lgamma(x) for x >= 13."""
    x = np.maximum(x, 13.0)
    q = (x - 0.5) * np.log(x) - x + _LOG_SQRT_2PI
    return q + _poly(1.0 / (x * x), _LGAM_A) / x


def _lgamma_np(x):
    """log|Gamma(x)| (Cephes' algorithm, vectorised; inf at the poles 0, -1, -2, ...)."""
    with np.errstate(all="ignore"):
        mid = (x >= -34.0) & (x < 13.0)
        # -34 <= x < 13: Gamma(x) = Gamma(u) * z with u in [2, 3), z a product of shifts.
        u = np.where(mid & (np.abs(x) >= 1e-9), x, 2.5)
        z = np.ones_like(u)
        while True:
            hi = u >= 3.0
            if not hi.any():
                break
            u = np.where(hi, u - 1.0, u)
            z = np.where(hi, z * u, z)
        while True:
            lo = u < 2.0
            if not lo.any():
                break
            z = np.where(lo, z / u, z)
            u = np.where(lo, u + 1.0, u)
        t = u - 2.0
        mid_val = np.log(np.abs(z)) + t * _poly(t, _LGAM_B) / _poly(t, _LGAM_C)
        # x < -34: log(pi) - log|x sin(pi x)| - lgamma(-x), with sin(pi x) from the fraction.
        q = np.where(x < -34.0, -x, 40.0)
        f = q - np.floor(q)
        f = np.where(f > 0.5, 1.0 - f, f)
        refl = math.log(math.pi) - np.log(q * np.sin(np.pi * f)) - _lgamma_stirling(q)
        out = np.where(mid, mid_val, np.where(x < -34.0, refl, _lgamma_stirling(x)))
        tiny = np.abs(x) < 1e-9  # the shift's 1/x would overflow for subnormal x
        out = np.where(tiny, -np.log(np.abs(x)) - 0.5772156649015329 * x, out)
        out = np.where((x <= 0) & (x == np.floor(x)), np.inf, out)
        return np.where(np.isinf(x), np.inf, out)


_SHIFT_TO = 20.0
_MAX_SHIFT = 100_000  # recurrence steps; beyond them (x < -1e5) polygamma gives NaN
# Bernoulli numbers B_2, B_4, ..., B_20.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798, -174611 / 330)


def _digamma_np(x):
    with np.errstate(all="ignore"):
        reflect = x < 0.5
        y = np.where(reflect, 1.0 - x, x)          # y >= 0.5
        acc = np.zeros_like(y)
        for _ in range(int(_SHIFT_TO)):            # psi(y) = psi(y + 1) - 1/y
            low = y < _SHIFT_TO
            acc = acc - np.where(low, 1.0 / y, 0.0)
            y = np.where(low, y + 1.0, y)
        inv2 = 1.0 / (y * y)
        series = np.zeros_like(y)
        for k in range(len(_BERNOULLI), 0, -1):    # sum_k B_2k / (2k y^2k)
            series = (series + _BERNOULLI[k - 1] / (2 * k)) * inv2
        psi = np.log(y) - 0.5 / y - series + acc
        # psi(x) = psi(1 - x) - pi cot(pi x); cot has period 1: reduce x to [-1/2, 1/2].
        r = x - np.round(x)
        refl = psi - np.pi / np.tan(np.pi * r)
        out = np.where(reflect, refl, psi)
        out = np.where(x == 0, -np.inf, out)
        out = np.where((x < 0) & (x == np.floor(x)), np.nan, out)
        return np.where(x == np.inf, np.inf, out)


def _polygamma_np(x, n):
    """``psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x)`` (Hurwitz zeta), n >= 1."""
    s = n + 1.0
    with np.errstate(all="ignore"):
        steps = np.ceil(np.where(np.isfinite(x), _SHIFT_TO - x, 0.0)).clip(0, None)
        too_far = steps > _MAX_SHIFT
        y = np.where(too_far, _SHIFT_TO, x)
        acc = np.zeros_like(y)
        for _ in range(int(steps[~too_far].max(initial=0))):   # zeta(s, y) = y^-s + zeta(s, y + 1)
            low = y < _SHIFT_TO
            acc = acc + np.where(low, y ** -s, 0.0)
            y = np.where(low, y + 1.0, y)
        # zeta(s, y) ~ y^(1-s)/(s-1) + y^-s/2 + sum_k B_2k/(2k)! s(s+1)...(s+2k-2) y^(-s-2k+1)
        series = y ** (1.0 - s) / (s - 1.0) + 0.5 * y ** -s
        term = y ** -s * s / y        # s y^(-s-1), then times (s+1)(s+2)/y^2 each step
        fact = 2.0
        for k in range(1, len(_BERNOULLI) + 1):
            series = series + _BERNOULLI[k - 1] / fact * term
            term = term * (s + 2 * k - 1) * (s + 2 * k) / (y * y)
            fact *= (2 * k + 1) * (2 * k + 2)
        zeta = series + acc
        out = (-1.0) ** (n + 1) * math.factorial(n) * zeta
        out = np.where((x <= 0) & (x == np.floor(x)), np.inf if n % 2 else np.nan, out)
        out = np.where(x == np.inf, 0.0, out)
        return np.where(too_far | (x == -np.inf), np.nan, out)


# ----------------------------------------------------------------------------- primitives


def _impl(kernel):
    """A float64 NumPy kernel as an impl for every float dtype (Python floats stay Python)."""
    def impl(x, **params):
        if type(x) is float:
            return float(kernel(np.asarray(x, np.float64), **params))
        x = np.asarray(x)
        if x.dtype.kind != "f":
            raise TypeError(f"needs a floating-point operand, got {x.dtype}")
        out = kernel(x.astype(np.float64), **params).astype(x.dtype)
        return out[()] if out.ndim == 0 else out
    return impl


def _shape(name):
    def rule(x, **params):
        if x.dtype.kind != "f":
            raise dtype_error(name, (x,), "needs a floating-point operand",
                              "convert it with .astype(float32) (funcgrad.scipy.special does this for ints)")
        dt, weak = weak_result((x,), x.dtype)
        return aval(x.shape, dt, weak)
    return rule


def _lower(jfn):
    def rule(ctx, x, **params):
        return jfn(jnp.asarray(x, ctx.avals_out[0].dtype), **params)
    return rule


def _special(name, kernel, jfn, deriv, residuals=None):
    """A unary float primitive; ``deriv(x, ans, **params)`` is ``d ans / d x`` in funcgrad ops."""
    prim = Primitive(name)
    prim.impl = _impl(kernel)
    prim.shape = _shape(name)
    prim.lower = _lower(jfn)
    prim.residuals = residuals

    def jvp(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, **params)
        return ans, mul(t, deriv(x, ans, **params))

    prim.jvp = jvp
    defvjp(prim, lambda g, ans, x, **params: mul(g, deriv(x, ans, **params)))
    from ._batching import elementwise_rule
    prim.batch = elementwise_rule(prim)
    return prim


def _gauss(x):
    return exp(neg(mul(x, x)))


erf_p = _special("erf", _erf_np, lax.erf, lambda x, ans: mul(_TWO_OVER_SQRT_PI, _gauss(x)))
erfc_p = _special("erfc", _erfc_np, lax.erfc, lambda x, ans: mul(-_TWO_OVER_SQRT_PI, _gauss(x)))
erf_inv_p = _special("erf_inv", None, lax.erf_inv,
                     lambda x, ans: mul(0.5 * math.sqrt(math.pi), exp(mul(ans, ans))), residuals=("ans",))
erf_inv_p.impl = _erf_inv_impl   # at the operand's own precision, not via float64
lgamma_p = _special("lgamma", _lgamma_np, lax.lgamma, lambda x, ans: digamma(x))
digamma_p = _special("digamma", _digamma_np, lax.digamma, lambda x, ans: polygamma(1, x))
def _polygamma_lower(x, n):
    """``lax.polygamma`` loses all accuracy below about x = -8 (jax 0.10), so negative ``x``
    is first shifted to ``x + m`` in [0, 1) with ``m`` recurrence terms, as the eager rule does."""
    m = jnp.where(x < 0, jnp.ceil(-x), 0.0)
    steps = jnp.minimum(jnp.max(m, initial=0.0), _MAX_SHIFT).astype(jnp.int32)
    s = n + 1.0

    def body(k, acc):
        k = k.astype(x.dtype)
        return acc + jnp.where(k < m, (x + k) ** -s, 0.0)

    acc = lax.fori_loop(0, steps, body, jnp.zeros_like(x))
    out = lax.polygamma(jnp.asarray(n, x.dtype), x + m) + (-1.0) ** (n + 1) * math.factorial(n) * acc
    pole = (x <= 0) & (x == jnp.floor(x))
    out = jnp.where(pole, jnp.inf if n % 2 else jnp.nan, out)
    return jnp.where((m > _MAX_SHIFT) | (x == -jnp.inf), jnp.nan, out)


polygamma_p = _special("polygamma", _polygamma_np, _polygamma_lower, lambda x, ans, n: polygamma(n + 1, x))
for _p in (erf_p, erfc_p, lgamma_p, digamma_p, polygamma_p):  # derivatives of x alone
    _p.residuals = ("inputs",)


def erf(x):
    return erf_p.bind(x)


def erfc(x):
    return erfc_p.bind(x)


def erf_inv(x):
    return erf_inv_p.bind(x)


def lgamma(x):
    return lgamma_p.bind(x)


def digamma(x):
    return digamma_p.bind(x)


def polygamma(n, x):
    """The n-th derivative of digamma (``n`` a static int >= 1)."""
    return polygamma_p.bind(x, n=int(n))
