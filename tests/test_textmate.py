"""The VS Code extension (editors/vscode/): its TextMate grammar, run by vscode-textmate on
vscode-oniguruma as VS Code runs it, gives every keyword, string, number, money amount,
percentage, date and comment of every example and benchmark program its scope, judged against
the tokens the real parser reads; and the documented command packages the extension as a .vsix.

Needs node and npm (`bash .ci/run` installs them when missing); the npm packages, pinned in
editors/vscode/package-lock.json, are installed on first use into editors/vscode/node_modules
(gitignored)."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.syntax.formatter import format_program
from loyalty_tokens import PROGRAMS, ROOT, grammar_keywords, lexemes
from strategies import programs

EXTENSION = ROOT / "editors" / "vscode"

# the scope each kind of lexeme must carry over all of its characters
SCOPE_OF_KIND = {
    "keyword": "keyword.",
    "string": "string.quoted.double.loyalty",
    "number": "constant.numeric.loyalty",
    "money": "meta.money.loyalty",
    "percent": "constant.numeric.percent.loyalty",
    "date": "constant.numeric.date.loyalty",
    "time": "constant.numeric.time.loyalty",
    "ordinal": "constant.numeric.ordinal.loyalty",
    "multiplier": "constant.numeric.multiplier.loyalty",
    "comment": "comment.line.number-sign.loyalty",
}


@lru_cache(maxsize=1)
def _node_ready() -> str:
    """The node executable, with the extension's npm packages installed (once per checkout)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not installed (bash .ci/run installs Debian's nodejs and npm)")
    if not (EXTENSION / "node_modules" / "vscode-textmate" / "package.json").is_file():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=EXTENSION, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"npm ci in editors/vscode failed:\n{done.stdout}\n{done.stderr}"
    return node


def _tokenize(paths: list[Path]) -> dict[str, list]:
    node = _node_ready()
    done = subprocess.run([node, "test/tokenize.js", *map(str, paths)], cwd=EXTENSION, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _scopes_by_offset(text: str, lines: list) -> list[list[str]]:
    """The scopes of each character of the text (code point offsets; the tokenizer counts UTF-16 units)."""
    per_char: list[list[str]] = []
    for line, tokens in zip(text.split("\n"), lines):
        unit_to_char = []
        for i, ch in enumerate(line):
            unit_to_char.extend([i] * (2 if ord(ch) > 0xFFFF else 1))
        scopes = [[] for _ in line]
        for start, end, token_scopes in tokens:
            for unit in range(start, end):
                scopes[unit_to_char[unit]] = token_scopes
        per_char.extend(scopes)
        per_char.append([])  # the newline
    return per_char


def _has(scopes: list[str], wanted: str) -> bool:
    return any(s == wanted or (wanted.endswith(".") and s.startswith(wanted)) for s in scopes)


@pytest.fixture(scope="module")
def tokenized():
    return _tokenize(PROGRAMS)


def _wrong_scopes(text: str, lines: list) -> tuple[list, set]:
    """The lexemes of the text whose characters lack their kind's scope, and the kinds seen."""
    scopes = _scopes_by_offset(text, lines)
    wrong = []
    seen = set()
    for lexeme in lexemes(text):
        wanted = SCOPE_OF_KIND.get(lexeme.kind)
        if wanted is None:
            continue
        seen.add(lexeme.kind)
        chars = [scopes[i] for i in range(lexeme.start, lexeme.end)]
        if not all(_has(s, wanted) for s in chars):
            wrong.append((lexeme.kind, lexeme.text, sorted({x for s in chars for x in s})))
        if lexeme.kind == "money":  # the amount is a number, the code a currency
            if not (_has(chars[0], "constant.numeric.amount.loyalty")
                    and _has(chars[-1], "support.constant.currency.loyalty")):
                wrong.append(("money parts", lexeme.text, chars[0], chars[-1]))
    return wrong, seen


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_every_token_of_each_program_gets_its_scope(path, tokenized):
    text = path.read_text(encoding="utf-8")
    wrong, seen = _wrong_scopes(text, tokenized[str(path)])
    assert wrong == []
    assert {"keyword", "string", "money", "comment"} <= seen


# a node run per example would be slow: each example is a batch of generated programs, tokenized at once
# (small programs in small batches: a batch of large ones overruns Hypothesis's data budget)
@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(st.lists(programs(max_declarations=5), min_size=1, max_size=5))
def test_any_program_the_parser_reads_gets_its_scopes(batch):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, program in enumerate(batch):
            paths.append(Path(folder) / f"p{i}.loyalty")
            paths[-1].write_text(format_program(program), encoding="utf-8")
        tokenized = _tokenize(paths)
        for path in paths:
            wrong, _ = _wrong_scopes(path.read_text(encoding="utf-8"), tokenized[str(path)])
            assert wrong == [], path.read_text(encoding="utf-8")


def test_every_grammar_keyword_is_a_keyword_and_point_kind_names_are_not(tmp_path):
    words = sorted(grammar_keywords())
    names = ["stars", "bonus_points", "tier_credits", "miles"]
    sample = tmp_path / "words.loyalty"
    sample.write_text("\n".join(words + names) + "\n", encoding="utf-8")
    lines = _tokenize([sample])[str(sample)]
    for word, tokens in zip(words + names, lines):
        covering = [scopes for start, end, scopes in tokens if start == 0 and end == len(word)]
        wanted = "keyword." if word in words else "variable.other.points.loyalty"
        assert covering and _has(covering[0], wanted), (word, tokens)


def test_literals_and_mistakes(tmp_path):
    sample = tmp_path / "literals.loyalty"
    sample.write_text(
        '"the \\"best\\" deal \\u00e9 \\q"\n'  # escapes, and an escape the language refuses (LOY004)
        'at most 2000 points per member # a cap\n'
        'when order total >= 400 NOK or not first purchase\n'
        '"an unterminated string\n'
        'item "x" in category "y" costing 35 NOK\n', encoding="utf-8")
    lines = _tokenize([sample])[str(sample)]

    def scope_of(line: int, fragment: str) -> list[str]:
        source = sample.read_text(encoding="utf-8").split("\n")[line]
        start = source.index(fragment)
        return next(s for a, b, s in lines[line] if a <= start < b)

    assert _has(scope_of(0, '\\"'), "constant.character.escape.loyalty")
    assert _has(scope_of(0, "\\u00e9"), "constant.character.escape.loyalty")
    assert _has(scope_of(0, "\\q"), "invalid.illegal.escape.loyalty")
    assert _has(scope_of(1, "2000"), "constant.numeric.loyalty")
    assert _has(scope_of(1, "# a cap"), "comment.line.number-sign.loyalty")
    assert _has(scope_of(2, ">="), "keyword.operator.comparison.loyalty")
    assert _has(scope_of(2, "or not"), "keyword.operator.logical.loyalty")
    # a string cut by the end of its line does not run on into the next line
    assert _has(scope_of(4, "item"), "keyword.declaration.loyalty")
    assert _has(scope_of(4, "NOK"), "support.constant.currency.loyalty")


def test_language_configuration_knows_comments_and_brackets():
    config = json.loads((EXTENSION / "language-configuration.json").read_text(encoding="utf-8"))
    assert config["comments"] == {"lineComment": "#"}
    assert ["{", "}"] in config["brackets"] and ["(", ")"] in config["brackets"]
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    language = manifest["contributes"]["languages"][0]
    assert language["id"] == "loyalty" and language["extensions"] == [".loyalty"]
    grammar = json.loads((EXTENSION / manifest["contributes"]["grammars"][0]["path"]).read_text(encoding="utf-8"))
    assert grammar["scopeName"] == manifest["contributes"]["grammars"][0]["scopeName"] == "source.loyalty"
    # the server command is a setting, `loyalty lsp` by default
    settings = manifest["contributes"]["configuration"]["properties"]
    assert settings["loyalty.server.command"]["default"] == "loyalty"
    assert settings["loyalty.server.args"]["default"] == ["lsp"]


def test_extension_script_is_valid_javascript():
    node = _node_ready()
    done = subprocess.run([node, "--check", "extension.js"], cwd=EXTENSION, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_documented_command_packages_the_extension():
    """editors/vscode/README.md: `npm ci && npm run package` writes loyalty.vsix."""
    _node_ready()
    npm = shutil.which("npm")
    vsix = EXTENSION / "loyalty.vsix"
    vsix.unlink(missing_ok=True)
    done = subprocess.run([npm, "run", "package"], cwd=EXTENSION, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("extension/package.json"))
    for needed in ("extension/extension.js", "extension/language-configuration.json",
                   "extension/syntaxes/loyalty.tmLanguage.json",
                   "extension/node_modules/vscode-languageclient/package.json"):
        assert needed in names, needed
    assert manifest["main"] == "./extension.js"
    # build and test tools stay out of the package
    assert not any(n.startswith(("extension/node_modules/@vscode/vsce/", "extension/node_modules/vscode-textmate/",
                                 "extension/test/")) for n in names)
