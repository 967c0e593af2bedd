"""The optional compiled build of `program.apply`'s path (hatch_build.py): which build runs, and the hook's switch.

.ci/run installs the compiled wheel and runs the apply and state tests on it with LOYALTY_EXPECT_COMPILED=1;
this file then fails if they ran on the pure-Python modules after all (and the README's run, without the
variable, checks that a source checkout is pure Python)."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

import loyalty

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def hook():
    sys.path.insert(0, str(ROOT))
    try:
        yield importlib.import_module("hatch_build")
    finally:
        sys.path.remove(str(ROOT))


def test_the_build_that_runs_is_the_one_asked_for():
    expected = os.environ.get("LOYALTY_EXPECT_COMPILED", "0") == "1"
    assert loyalty.compiled() is expected
    from loyalty.runtime import fastevents, plan, state

    # mypyc compiles the modules as one group: all of them are extension modules, or none
    assert {m.__file__.endswith(".py") for m in (fastevents, plan, state)} == {not expected}


def test_the_hook_compiles_only_when_asked(hook, monkeypatch):
    monkeypatch.delenv("LOYALTY_COMPILE", raising=False)
    assert not hook.wanted()
    monkeypatch.setenv("LOYALTY_COMPILE", "1")
    assert hook.wanted()


def test_every_compiled_module_exists(hook):
    for rel in hook.COMPILED:
        assert (ROOT / "src" / rel).is_file(), rel
