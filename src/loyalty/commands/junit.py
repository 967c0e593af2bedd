"""`loyalty test --junit FILE`: the scenario outcomes as JUnit XML, the report CI servers (GitHub Actions
reporters, GitLab, Jenkins) read. One <testsuite> per program, one <testcase> per scenario; a failing
scenario has a <failure>, a program or scenario file that cannot run an <error>."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional

from loyalty.scenario_tests import Outcome
from loyalty.terminal import visible


def _text(value: str) -> str:
    """XML 1.0 cannot hold most control characters: show them as escapes (as the terminal does)."""
    return visible(value, keep="\n\t")


def junit_xml(runs: list[tuple[Path, list[Outcome], Optional[str], float]]) -> bytes:
    """`runs`: (program, its scenario outcomes, the error that stopped it or None, seconds taken)."""
    from loyalty import __version__

    suites = ET.Element("testsuites", name="loyalty test")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for program, outcomes, error, seconds in runs:
        failures = sum(not o.ok for o in outcomes)
        # the scenarios, and one more test case for the error that stopped the program
        suite = ET.SubElement(suites, "testsuite", name=_text(str(program)),
                              tests=str(len(outcomes) + (error is not None)),
                              failures=str(failures), errors=str(int(error is not None)), skipped="0",
                              time=f"{seconds:.3f}")
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="loyalty_version", value=__version__)
        for o in outcomes:
            case = ET.SubElement(suite, "testcase", classname=_text(program.stem), name=_text(o.name),
                                 file=_text(o.file), line=str(o.line))
            if not o.ok:
                failure = ET.SubElement(case, "failure", message=_text(o.messages[0] if o.messages else "failed"),
                                        type="ScenarioFailed")
                failure.text = _text("\n".join(o.messages))
        if error is not None:
            case = ET.SubElement(suite, "testcase", classname=_text(program.stem), name="(program and scenarios)",
                                 file=_text(str(program)))
            err = ET.SubElement(case, "error", message=_text(error.split("\n")[0]), type="CouldNotRun")
            err.text = _text(error)
        totals["tests"] += int(suite.get("tests", "0"))
        totals["failures"] += failures
        totals["errors"] += int(error is not None)
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"
