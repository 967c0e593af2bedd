"""Settings for the whole test run."""

import os

# Tests load the same programs many times, some with the compiler patched or broken on purpose: each load
# goes through the parser, checker and compiler, and nothing is written to the runner's home folder.
# tests/test_program_cache.py turns the compiled-program cache on where it tests it.
os.environ["LOYALTY_NO_CACHE"] = "1"
