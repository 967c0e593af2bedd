"""The designer pages (docs/tutorial.md, docs/cookbook/*.md) show real programs, real scenarios
and real output: this test replays each page and compares.

A page marks what it shows with HTML comments (invisible on the site):
- `<!-- file: NAME -->` before a fence: the fence is a file the reader saves as NAME (in a fresh
  folder, where the page's commands then run);
- `<!-- same as: PATH -->` before a fence: the fence is the whole of that repository file;
- `<!-- scenario of: PATH -->` before a yaml fence: the fence is one scenario of that test file;
- `<!-- head of: NAME -->` before a fence: the fence is the first lines of that file, as the
  page's commands made it;
- a ```sh fence holding one `loyalty ...` command, followed by a ```text fence: the text is what
  the command prints (standard output and error, 100 columns wide); with `<!-- excerpt -->`
  before the text fence, its lines appear in the output in that order, with others between.
A page that saves files runs its commands in a folder of its own; the others (the cookbook) run
theirs from the repository root.

When a program or the report changes on purpose, rewrite the outputs shown in full with
`PYTHONPATH=src python tests/test_docs_real_output.py docs/tutorial.md ...` (an excerpt is left
as it is, and the command's whole output is printed to choose a new one from).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from test_docs_site import DOCS, ROOT, fences

PAGES = [DOCS / "tutorial.md", DOCS / "scenarios.md", *sorted(p for p in (DOCS / "cookbook").glob("*.md") if p.name != "index.md")]
MARKER = re.compile(r"<!--\s*([a-z ]+?)(?::\s*(\S+))?\s*-->")


def _blocks(text: str):
    """Each fence with the marker on the nearest non-blank line above it (or None)."""
    lines = text.split("\n")
    for line, info, body in fences(text):
        above = next((lines[i].strip() for i in range(line - 2, -1, -1) if lines[i].strip()), "")
        m = MARKER.fullmatch(above)
        yield line, info, body, (m.group(1), m.group(2)) if m else None


def _run(command: str, cwd: Path) -> str:
    words = shlex.split(command)
    assert words[0] == "loyalty", command
    env = dict(os.environ, COLUMNS="100", PYTHONPATH=os.pathsep.join([str(ROOT / "src"),
                                                                       os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", "from loyalty.cli import run; run()", *words[1:]], cwd=cwd,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    return done.stdout


def _in_order(shown: list[str], actual: list[str]) -> bool:
    it = iter(actual)
    return all(any(line == a for a in it) for line in shown)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_shows_real_programs_scenarios_and_output(page, tmp_path):
    text = page.read_text(encoding="utf-8")
    tutorial = page.name == "tutorial.md"
    cwd = tmp_path if "<!-- file:" in text else ROOT
    blocks = list(_blocks(text))
    commands_run = 0
    for index, (line, info, body, marker) in enumerate(blocks):
        where = f"{page.name}:{line}"
        if marker and marker[0] == "file":
            (tmp_path / marker[1]).write_text(body + "\n", encoding="utf-8")
        elif marker and marker[0] == "same as":
            assert body + "\n" == (ROOT / marker[1]).read_text(encoding="utf-8"), f"{where}: not {marker[1]} as it is"
        elif marker and marker[0] == "scenario of":
            shown = yaml.safe_load(body)
            test_file = yaml.safe_load((ROOT / marker[1]).read_text(encoding="utf-8"))
            scenarios = test_file["scenarios"] if isinstance(test_file, dict) else test_file
            assert len(shown) == 1 and shown[0] in scenarios, f"{where}: not a scenario of {marker[1]}"
        elif marker and marker[0] == "head of":
            made = (cwd / marker[1]).read_text(encoding="utf-8").split("\n")
            assert body.split("\n") == made[: len(body.split("\n"))], f"{where}: not how {marker[1]} begins"
        elif info == "sh" and body.startswith("loyalty ") and "\n" not in body.strip():
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            output = _run(body.strip(), cwd)
            commands_run += 1
            if following and following[1] == "text":
                # compared line by line without trailing blanks (the terminal pads table lines)
                shown = [x.rstrip() for x in following[2].split("\n")]
                actual = [x.rstrip() for x in output.rstrip("\n").split("\n")]
                if following[3] and following[3][0] == "excerpt":
                    assert _in_order(shown, actual), f"{where}: `{body}` printed\n{output}"
                else:
                    assert shown == actual, f"{where}: `{body}` printed\n{output}"
    assert commands_run > 0
    if tutorial:  # the program the tutorial builds means what the shipped example means (which names its
        # punch cycle as a parameter for `loyalty sweep`): the same compiled identity, which is its meaning
        import loyalty

        built = loyalty.load(str(tmp_path / "car_wash.loyalty"))
        shipped = loyalty.load(str(ROOT / "examples" / "programs" / "car_wash.loyalty"))
        assert built.identity == shipped.identity


def rewrite_outputs(page: Path) -> None:
    """Replace each full output block of the page by what its command prints now."""
    import tempfile

    text = page.read_text(encoding="utf-8")
    lines = text.split("\n")
    blocks = list(_blocks(text))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        cwd = tmp if "<!-- file:" in text else ROOT
        replacements = []
        for index, (line, info, body, marker) in enumerate(blocks):
            if marker and marker[0] == "file":
                (tmp / marker[1]).write_text(body + "\n", encoding="utf-8")
            elif marker and marker[0] == "head of":
                count = len(body.split("\n"))
                replacements.append((line, count, (cwd / marker[1]).read_text(encoding="utf-8").split("\n")[:count]))
            elif info == "sh" and body.startswith("loyalty ") and "\n" not in body.strip():
                output = _run(body.strip(), cwd)
                following = blocks[index + 1] if index + 1 < len(blocks) else None
                if following and following[1] == "text" and not following[3]:
                    new = [x.rstrip() for x in output.rstrip("\n").split("\n")]
                    replacements.append((following[0], len(following[2].split("\n")), new))
                elif following and following[1] == "text":
                    print(f"{page}:{following[0]}: an excerpt of `{body.strip()}`, whose output is now:\n{output}")
    for start, count, new in sorted(replacements, reverse=True):
        lines[start:start + count] = new  # `start` is the fence's line number: its body's first index
    page.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        rewrite_outputs(Path(name))
