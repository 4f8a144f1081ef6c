"""Global settings of funcgrad: the one piece of mutable module state.

Attributes
----------
debug_nans : bool
    Raise :class:`~funcgrad.errors.NaNError` (a ``FloatingPointError``) at the first
    primitive whose result holds a NaN or Inf, naming the primitive and the user's
    source line.  While it is on, NumPy operators run by the user's own code on NumPy
    arrays (``1.0 / z``) raise it too, naming their line: setting it routes NumPy's
    floating-point errors (``np.seterr``, for the current thread) to funcgrad, and
    turning it off restores NumPy's previous settings.
log_compiles : bool
    Log one line (logger ``funcgrad.jit``) per ``jit`` trace, saying which
    argument changed and how.
jit_cache_size : int
    How many traced programs each jitted function keeps (least recently used
    are dropped first; 64).  It bounds jax's compiled programs for the function
    too: once jax has compiled more than this many, its cache for the function is
    emptied, and signatures still in use are compiled again (not traced again).
show_internal_frames : bool
    Keep funcgrad's own frames in tracebacks of funcgrad errors.
check_irs : bool
    Type-check every traced program (``IR.check``) as it is made: for debugging
    funcgrad itself and custom primitives; funcgrad's tests turn it on.
"""


class _Config:
    __slots__ = ("debug_nans", "log_compiles", "jit_cache_size", "show_internal_frames", "check_irs")

    def __init__(self):
        self.debug_nans = False
        self.log_compiles = False
        self.jit_cache_size = 64
        self.show_internal_frames = False
        self.check_irs = False

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if name == "debug_nans":  # NumPy's own operators on plain arrays are checked too
            from .errors import numpy_fp_checks
            numpy_fp_checks(bool(value))

    def update(self, name, value):
        """Set one option by name (``config.update("debug_nans", True)``), as in JAX."""
        if name not in self.__slots__:
            raise AttributeError(f"funcgrad.config has no option {name!r}; options: {', '.join(self.__slots__)}")
        setattr(self, name, value)

    def __repr__(self):
        return "funcgrad.config(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


config = _Config()
