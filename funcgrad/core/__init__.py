"""The core: abstract values, primitives, tracing with levels, the IR and its checker."""
from .check import IRTypeError, check_ir
