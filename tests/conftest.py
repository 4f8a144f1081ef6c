import os
import sys

# The op table (tests/op_table.py) is imported by several test files.
sys.path.insert(0, os.path.dirname(__file__))

# Every program traced by any test is type-checked as it is made.
import funcgrad  # noqa: E402

funcgrad.config.check_irs = True
