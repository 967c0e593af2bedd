"""The documentation site (mkdocs.yml, docs/): every code fence says its language, `loyalty`
fences are highlighted by loyalty's own Pygments lexer, and `mkdocs build --strict` passes (no
broken link, no page left out of the navigation)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pygments.token import Error

from loyalty.pygments_lexer import LoyaltyLexer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
# the languages of the docs: ours, and the editors' configuration files docs/editors.md shows
LANGUAGES = {"loyalty", "sh", "yaml", "csv", "json", "python", "text", "markdown", "lua", "toml", "elisp"}
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")


def fences(text: str) -> list[tuple[int, str, str]]:
    """(line number, info string, body) of each fenced code block."""
    found, opened, body = [], None, []
    for number, line in enumerate(text.split("\n"), 1):
        m = _FENCE.match(line)
        if opened is None:
            if m:
                opened, body = (number, m.group(1), m.group(2).strip()), []
        elif m and m.group(1)[0] == opened[1][0] and len(m.group(1)) >= len(opened[1]) and not m.group(2).strip():
            found.append((opened[0], opened[2], "\n".join(body)))
            opened = None
        else:
            body.append(line)
    assert opened is None, f"a code fence opened on line {opened[0]} is never closed"
    return found


def test_fence_reader_sees_tagged_and_untagged_fences():
    text = "a\n```loyalty\nrule \"x\" {\n```\n\n```\nplain\n```\n"
    assert fences(text) == [(2, "loyalty", 'rule "x" {'), (6, "", "plain")]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_every_code_fence_names_its_language(page):
    untagged = [(line, info) for line, info, _ in fences(page.read_text(encoding="utf-8")) if info not in LANGUAGES]
    assert untagged == [], f"{page.name}: tag each fence with one of {sorted(LANGUAGES)}"


# errors.md shows wrong programs on purpose: a stray `;` is an error there too
CORRECT_PAGES = [p for p in PAGES if p.name != "errors.md"]


@pytest.mark.parametrize("page", CORRECT_PAGES, ids=[str(p.relative_to(DOCS)) for p in CORRECT_PAGES])
def test_loyalty_fences_highlight_without_errors(page):
    for line, info, body in fences(page.read_text(encoding="utf-8")):
        if info == "loyalty":
            bad = [v for t, v in LoyaltyLexer().get_tokens(body) if t in Error]
            assert bad == [], f"{page.name}:{line}: {bad}"


def _lexer_registered_env(tmp_path: Path) -> dict[str, str]:
    """The environment for mkdocs: this checkout's source first, and, when the installed
    `loyalty` predates the entry point (an editable install made earlier), the entry point
    pyproject.toml declares, from a metadata folder made here."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
               NO_MKDOCS_2_WARNING="1")
    if not any(ep.name == "loyalty" for ep in entry_points(group="pygments.lexers")):
        import tomllib

        declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        lexers = declared["project"]["entry-points"]["pygments.lexers"]
        info = tmp_path / "meta" / "loyalty_lexer_from_checkout-0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: loyalty-lexer-from-checkout\nVersion: 0\n")
        (info / "entry_points.txt").write_text(
            "[pygments.lexers]\n" + "".join(f"{k} = {v}\n" for k, v in lexers.items()))
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "meta"), env["PYTHONPATH"]])
    return env


def test_mkdocs_builds_strictly_and_highlights_loyalty_code(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, env=_lexer_registered_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    page = (site / "language" / "index.html").read_text(encoding="utf-8")
    block = re.search(r'<div class="language-loyalty highlight">(.*?)</div>', page, re.S)
    assert block, "no loyalty code block in the built language page"
    html = block.group(1)
    # the lexer's token classes: declaration keyword, keyword, string, comment, currency, date
    for css, text in [("kd", "program"), ("k", "currency"), ("s2", "Sparkle Car Wash"), ("c1", "# Sparkle"),
                      ("no", "NOK"), ("ld", "2025-01-01")]:
        assert re.search(rf'<span class="{css}">[^<]*{re.escape(text)}', html), (css, text)
    # every page of docs/ is in the site
    for source in PAGES:
        rel = source.relative_to(DOCS).with_suffix("")
        built = site / rel.parent / "index.html" if rel.name == "index" else site / rel / "index.html"
        assert built.is_file(), source
