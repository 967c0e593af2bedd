"""README's promises hold: its program checks clean, its commands exist, .ci/run runs them."""

import re
import shlex
from pathlib import Path

from loyalty.frontend import check_text

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(r"```" + lang + r"\n(.*?)```", README, flags=re.S)


def test_readme_program_checks_without_any_diagnostic():
    program = _blocks("")[0]
    checked = check_text(program, "README.md")
    assert checked.program is not None
    assert checked.diagnostics == []


def test_readme_setup_commands_name_files_that_exist():
    commands = _blocks("sh")[0].strip().splitlines()
    assert len(commands) == 3, "one command installs, one runs the main job, one runs the tests"
    for word in shlex.split(commands[1]):
        if word.startswith("examples/"):
            assert (REPO / word).is_file(), word


def test_ci_runs_readme_install_and_test_commands():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    install, _, test = _blocks("sh")[0].strip().splitlines()
    assert "pip install '.[dev]'" in install and 'pip install --quiet ".[dev]"' in ci
    # the same test command, the same options (README's runs on every core: pytest-xdist)
    assert test.startswith(".venv/bin/python -m pytest") and test.removeprefix(".venv/bin/") in ci.splitlines()
