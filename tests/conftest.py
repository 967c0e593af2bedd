"""Settings for the whole test run."""

import os

# Tests load the same programs many times, some with the compiler patched or broken on purpose: each load
# goes through the parser, checker and compiler, and nothing is written to the runner's home folder.
# tests/test_program_cache.py turns the compiled-program cache on where it tests it.
os.environ["LOYALTY_NO_CACHE"] = "1"

# Reports are laid out for COLUMNS. pytest-xdist's workers (README's `-n auto`) start with COLUMNS=80 and LINES=24
# in their environment: importing GNU readline in pytest's main process sets them in its C environment (not in its
# os.environ), which the workers inherit. They would wrap reports at 80 where a one-process run uses the piped
# width (5 tests failed on it). The main process passes the size it was started with; each worker takes it back.
for _name in ("COLUMNS", "LINES"):
    if "PYTEST_XDIST_WORKER" not in os.environ:
        os.environ["LOYALTY_TEST_START_" + _name] = os.environ.get(_name, "")
    elif os.environ.get("LOYALTY_TEST_START_" + _name, ""):
        os.environ[_name] = os.environ["LOYALTY_TEST_START_" + _name]
    else:
        os.environ.pop(_name, None)
