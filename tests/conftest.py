import os
import sys

# The op table (tests/op_table.py) is imported by several test files.
sys.path.insert(0, os.path.dirname(__file__))
