"""Every example program ships with a designer's scenario file, and `loyalty test examples/programs` passes.

tests/test_scenarios.py runs each existing scenario file; this adds what it cannot catch:
an example added without a scenario file, and the whole directory run as CI runs it.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from loyalty.cli import cli

PROGRAMS = Path(__file__).resolve().parents[1] / "examples" / "programs"
EXAMPLES = sorted(PROGRAMS.glob("*.loyalty"))


def test_every_example_program_has_a_scenario_file():
    missing = [p.name for p in EXAMPLES if not p.with_name(p.stem + ".test.yaml").exists()]
    assert EXAMPLES, "no example programs found"
    assert missing == [], f"example programs without a <name>.test.yaml scenario file: {missing}"


def test_no_scenario_file_without_its_program():
    orphans = [t.name for t in PROGRAMS.glob("*.test.yaml") if not t.with_name(t.name[: -len(".test.yaml")] + ".loyalty").exists()]
    assert orphans == []


def test_every_scenario_file_has_several_scenarios_that_check_something():
    for program in EXAMPLES:
        tests = program.with_name(program.stem + ".test.yaml")
        data = yaml.safe_load(tests.read_text(encoding="utf-8"))
        scenarios = data["scenarios"] if isinstance(data, dict) else data
        assert len(scenarios) >= 2, f"{tests.name}: a designer checks more than one case"
        for sc in scenarios:
            assert sc.get("expect"), f"{tests.name}: scenario {sc.get('name')!r} expects nothing"


def test_loyalty_test_on_the_examples_directory_passes():
    result = CliRunner().invoke(cli, ["test", "--quiet", str(PROGRAMS)])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    passed = int(last.split(" passed")[0])
    # every scenario of every file ran: as many passes as scenarios written
    written = 0
    for program in EXAMPLES:
        data = yaml.safe_load(program.with_name(program.stem + ".test.yaml").read_text(encoding="utf-8"))
        written += len(data["scenarios"] if isinstance(data, dict) else data)
    # three scenarios name a channel or item the program does not know on purpose (the phone channel gives no
    # gift; insulin is not in the pharmacy's catalog): warnings, which pass without --strict
    assert last == f"{written} passed, 0 failed, 3 warnings (--strict makes them errors)", result.output
    assert passed == written
