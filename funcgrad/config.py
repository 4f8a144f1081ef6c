"""Global settings of funcgrad: the one piece of mutable module state.

Attributes
----------
debug_nans : bool
    Raise ``FloatingPointError`` at the first primitive whose result holds a NaN
    or Inf, naming the primitive and the user's source line.
log_compiles : bool
    Log one line (logger ``funcgrad.jit``) per ``jit`` trace, saying which
    argument changed and how.
jit_cache_size : int
    How many traced programs each jitted function keeps (least recently used
    are dropped first).
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

    def update(self, name, value):
        """Set one option by name (``config.update("debug_nans", True)``), as in JAX."""
        if name not in self.__slots__:
            raise AttributeError(f"funcgrad.config has no option {name!r}; options: {', '.join(self.__slots__)}")
        setattr(self, name, value)

    def __repr__(self):
        return "funcgrad.config(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


config = _Config()
