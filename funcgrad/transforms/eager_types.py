"""What eager control flow remembers between calls: the types of a loop's carry and
outputs (or a ``cond``'s joined outputs), so a call outside every transform runs the
user's Python functions on concrete values without staging them again.

A loop or ``cond`` called with no transform active stages its functions once, to
check them and settle their types (a weak ``0.0`` carry that meets float32 becomes
float32) exactly as under ``jit``; then it runs the functions themselves, in a Python
loop over NumPy.  The types are kept here, keyed by :func:`fun_key` of the functions
and the types of the inputs, and checked against the first step's actual outputs on
every call: a mismatch (the function's closure or globals changed what it returns)
stages afresh.  Only types are kept, never values or programs, so a changed global
is always seen.
"""
import functools
import threading
import types
from collections import OrderedDict

import numpy as np

from ..core.avals import get_aval

CAPACITY = 512  # entries (types only); the least recently used go first
_cache = OrderedDict()
_lock = threading.Lock()


def lookup(key):
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    return hit


def store(key, value):
    with _lock:
        _cache[key] = value
        _cache.move_to_end(key)
        while len(_cache) > CAPACITY:
            _cache.popitem(last=False)


def clear():
    with _lock:
        _cache.clear()


_SCALARS = (bool, int, str, bytes, type(None))


def _value_key(v, depth):
    """What of a value a function closes over can change the types it returns: the
    type of an array, the value of an int, bool or string, the same recursively for
    functions and small containers; other objects by identity."""
    t = type(v)
    if t in _SCALARS:
        return (t, v)
    if t is float:
        return float
    if t is types.FunctionType:
        return fun_key(v, depth + 1)
    if t is types.ModuleType or t is type:
        return ("id", id(v))
    if isinstance(v, (np.ndarray, np.generic)) or hasattr(v, "aval"):
        try:
            return get_aval(v)
        except TypeError:
            return ("id", id(v))
    if t in (tuple, list) and len(v) <= 32 and depth < 3:
        return (t, tuple(_value_key(e, depth + 1) for e in v))
    if t is dict and len(v) <= 32 and depth < 3:
        return (t, tuple((k, _value_key(e, depth + 1)) for k, e in v.items() if type(k) in _SCALARS))
    return ("id", id(v))


def fun_key(f, depth=0):
    """A hashable stand-in for the Python function ``f`` that is equal for two closures
    of one ``def``/``lambda`` over values of the same types (see :func:`_value_key`):
    the code object, its defaults, the cells it closes over and the globals it reads.
    A bound method is its function and its object; other callables are known by
    identity (keys hold no user object alive: a reused ``id`` is caught by the check
    of the first step)."""
    t = type(f)
    if t is types.MethodType and depth <= 2:
        return ("method", fun_key(f.__func__, depth + 1), ("id", id(f.__self__)))
    if t is functools.partial and depth <= 2:
        return ("partial", fun_key(f.func, depth + 1), tuple(_value_key(a, depth) for a in f.args),
                tuple((k, _value_key(v, depth)) for k, v in f.keywords.items()))
    if t is not types.FunctionType or depth > 2:
        return ("id", t, id(f))
    code = f.__code__
    cells = []
    for c in f.__closure__ or ():
        try:
            cells.append(_value_key(c.cell_contents, depth))
        except ValueError:  # a cell not yet filled
            cells.append(None)
    g = f.__globals__
    refs = tuple((n, _value_key(g[n], depth)) for n in code.co_names if n in g)
    defaults = tuple(_value_key(d, depth) for d in f.__defaults__ or ())
    kwdefaults = tuple((k, _value_key(d, depth)) for k, d in (f.__kwdefaults__ or {}).items())
    return (code, tuple(cells), refs, defaults, kwdefaults)


def avals_key(leaves):
    return tuple(get_aval(x) for x in leaves)
