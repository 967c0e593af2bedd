"""`loyalty lsp` end to end: the server started as a subprocess, driven over stdio by pygls's language
client, on a real example program. One server for the module; every request has a timeout."""

from __future__ import annotations

import asyncio
import os
import queue
import sys
import threading
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import BaseLanguageClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "programs" / "coffee_stars.loyalty"
TIMEOUT = 30  # seconds per request or notification: a hung server fails the test instead of hanging CI


class Session:
    """A language client on its own event loop thread, with blocking calls for the tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = BaseLanguageClient("loyalty-tests", "1")
        self.diagnostics: dict[str, queue.Queue] = {}
        self.messages: queue.Queue = queue.Queue()

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics.setdefault(params.uri, queue.Queue()).put(list(params.diagnostics))

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def _message(params: types.ShowMessageParams) -> None:
            self.messages.put(params)

        self.version = 0

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT)

    def call(self, fn, *args):
        """A notification (a plain method of the client) sent from the loop's thread."""
        async def send():
            fn(*args)
        self.run(send())

    def start(self, encodings: list[str] | None = None) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        # the command editors run, as installed beside this Python (PYTHONPATH makes it this checkout's)
        installed = Path(sys.executable).parent / "loyalty"
        command = [str(installed)] if installed.is_file() else [sys.executable, "-m", "loyalty.cli"]
        self.run(self.client.start_io(*command, "lsp", "--stdio", env=env))
        general = types.GeneralClientCapabilities(position_encodings=encodings) if encodings else None
        result = self.run(self.client.initialize_async(types.InitializeParams(
            process_id=None, root_uri=None, capabilities=types.ClientCapabilities(
                general=general,
                text_document=types.TextDocumentClientCapabilities(
                    rename=types.RenameClientCapabilities(prepare_support=True))))))
        self.capabilities = result.capabilities
        self.call(self.client.initialized, types.InitializedParams())

    def stop(self) -> None:
        try:
            self.run(self.client.shutdown_async(None))
            self.call(self.client.exit, None)
            self.run(self.client.stop())
            assert self.client._server.returncode == 0  # the server exits cleanly when told to
        finally:
            process = self.client._server
            if process is not None and process.returncode is None:  # a test failed half way: no stray server
                process.kill()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(TIMEOUT)

    def published(self, uri: str) -> list[types.Diagnostic]:
        return self.diagnostics.setdefault(uri, queue.Queue()).get(timeout=TIMEOUT)

    def open(self, uri: str, text: str) -> list[types.Diagnostic]:
        self.version += 1
        self.call(self.client.text_document_did_open, types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="loyalty", version=self.version, text=text)))
        return self.published(uri)

    def change(self, uri: str, text: str) -> list[types.Diagnostic]:
        self.version += 1
        self.call(self.client.text_document_did_change, types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
        return self.published(uri)

    @staticmethod
    def doc(uri: str) -> types.TextDocumentIdentifier:
        return types.TextDocumentIdentifier(uri=uri)

    # the requests, each answered within TIMEOUT
    def format(self, uri: str):
        return self.run(self.client.text_document_formatting_async(types.DocumentFormattingParams(
            text_document=self.doc(uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True))))

    def complete(self, uri: str, position: types.Position) -> list[types.CompletionItem]:
        return list(self.run(self.client.text_document_completion_async(types.CompletionParams(
            text_document=self.doc(uri), position=position))).items)

    def hover(self, uri: str, position: types.Position):
        return self.run(self.client.text_document_hover_async(types.HoverParams(
            text_document=self.doc(uri), position=position)))

    def definition(self, uri: str, position: types.Position):
        return self.run(self.client.text_document_definition_async(types.DefinitionParams(
            text_document=self.doc(uri), position=position)))

    def references(self, uri: str, position: types.Position, include_declaration: bool = True):
        return self.run(self.client.text_document_references_async(types.ReferenceParams(
            text_document=self.doc(uri), position=position,
            context=types.ReferenceContext(include_declaration=include_declaration))))

    def symbols(self, uri: str):
        return self.run(self.client.text_document_document_symbol_async(types.DocumentSymbolParams(
            text_document=self.doc(uri))))

    def prepare_rename(self, uri: str, position: types.Position):
        return self.run(self.client.text_document_prepare_rename_async(types.PrepareRenameParams(
            text_document=self.doc(uri), position=position)))

    def rename(self, uri: str, position: types.Position, new_name: str):
        return self.run(self.client.text_document_rename_async(types.RenameParams(
            text_document=self.doc(uri), position=position, new_name=new_name)))


@pytest.fixture(scope="module")
def lsp():
    session = Session()
    session.start()
    yield session
    session.stop()


def at(text: str, needle: str, shift: int = 0) -> types.Position:
    """The position of `needle`'s first occurrence in `text` (plus `shift` characters; ASCII text)."""
    offset = text.index(needle) + shift
    line = text.count("\n", 0, offset)
    return types.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


def apply(text: str, edits: list[types.TextEdit]) -> str:
    """The text with the edits applied (an editor's job), last first."""
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def offset(p: types.Position) -> int:
        return starts[p.line] + p.character if p.line < len(starts) else len(text)

    for e in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(e.range.start)] + e.new_text + text[offset(e.range.end):]
    return text


# ------------------------------------------------------------------ the tests

def test_capabilities_announce_every_feature(lsp):
    caps = lsp.capabilities
    assert caps.document_formatting_provider and caps.hover_provider and caps.definition_provider
    assert caps.references_provider and caps.completion_provider
    assert caps.rename_provider.prepare_provider is True


def test_an_example_opens_without_diagnostics_and_a_broken_edit_reports_the_checkers(lsp):
    uri = "file:///tmp/diag.loyalty"
    text = EXAMPLE.read_text(encoding="utf-8")
    assert lsp.open(uri, text) == []
    # a reward that does not exist: the checker's LOY101, on the string, with its hint
    broken = text.replace('redeem 60 stars for "2 dollars off"', 'redeem 60 stars for "3 dollars off"')
    unused, d = lsp.change(uri, broken)  # sorted by place, as `loyalty check` prints them
    assert unused.code == "LOY310" and unused.severity == types.DiagnosticSeverity.Warning
    assert d.code == "LOY101" and d.severity == types.DiagnosticSeverity.Error and d.source == "loyalty"
    assert d.range == types.Range(at(broken, '"3 dollars off"'), at(broken, '"3 dollars off"', 15))
    assert 'reward "3 dollars off"' in d.message and "hint:" in d.message
    # a warning keeps its severity
    warned = text.replace("  cost 0.04 USD each\n", "")
    assert any(d.code == "LOY312" and d.severity == types.DiagnosticSeverity.Warning for d in lsp.change(uri, warned))
    # a syntax error: LOY001 on the unexpected word
    syntax = text.replace("earn 50 stars\n", "earn 50 stars\n  earnn 5 stars\n")
    [d] = lsp.change(uri, syntax)
    assert d.code == "LOY001" and d.range.start == at(syntax, "earnn") and d.range.end == at(syntax, "earnn", 5)
    # fixed again: the diagnostics are cleared
    assert lsp.change(uri, text) == []


EMOJI_PROGRAM = """\
program "p" {
  currency NOK
}
segment "😀"
rule "r" {
  get 5% off
  for segment "😀", "x"
}
"""


def test_columns_are_utf16_units(lsp):
    # "😀" is one character for the parser, two UTF-16 units for the editor
    uri = "file:///tmp/utf16.loyalty"
    text = EMOJI_PROGRAM
    [d] = lsp.open(uri, text)
    assert d.code == "LOY101"
    line = text.split("\n")[6]
    col = line.index('"x"') + 1  # + 1: the emoji before it is two units
    assert d.range == types.Range(types.Position(6, col), types.Position(6, col + 3))


def test_columns_follow_the_encoding_the_editor_prefers():
    # an editor that prefers UTF-8 (Neovim does) gets byte columns: "😀" is 4 of them
    session = Session()
    session.start(encodings=["utf-8", "utf-16"])
    try:
        assert session.capabilities.position_encoding == "utf-8"
        text = EMOJI_PROGRAM
        [d] = session.open("file:///tmp/utf8.loyalty", text)
        col = len('  for segment "😀", '.encode("utf-8"))
        assert d.range == types.Range(types.Position(6, col), types.Position(6, col + 3))
        location = session.definition("file:///tmp/utf8.loyalty", types.Position(6, col - 4))
        assert location.range == types.Range(types.Position(3, 8), types.Position(3, 8 + 6))
    finally:
        session.stop()


def test_formatting_gives_the_fmt_layout_and_refuses_a_broken_file(lsp):
    uri = "file:///tmp/fmt.loyalty"
    messy = 'program "p" {\ncurrency NOK\n}\nrule "r" {   get 5% off }\n'
    lsp.open(uri, messy)
    edits = lsp.format(uri)
    from loyalty.syntax.formatter import format_source

    assert apply(messy, edits) == format_source(messy)
    formatted = apply(messy, edits)
    lsp.change(uri, formatted)
    assert lsp.format(uri) == ()
    lsp.change(uri, messy + "rule {\n")
    assert lsp.format(uri) is None
    assert "syntax errors" in lsp.messages.get(timeout=TIMEOUT).message


def test_completion_offers_the_keywords_the_parser_accepts_and_declared_names(lsp):
    uri = "file:///tmp/complete.loyalty"
    text = EXAMPLE.read_text(encoding="utf-8")
    lsp.open(uri, text)
    # a keyword position: the start of a rule's clause
    typed = text + 'rule "new" {\n  \n}\n'
    lsp.change(uri, typed)
    labels = {i.label for i in lsp.complete(uri, at(typed, '"new" {\n  ', 10))}
    assert {"earn", "every", "give", "get", "on", "for", "when", "at", "budget"} <= labels
    assert "program" not in labels and "currency" not in labels
    # half a word typed: the same keywords, replacing the half word
    typed = text + 'rule "new" {\n  ev\n}\n'
    lsp.change(uri, typed)
    items = lsp.complete(uri, at(typed, "  ev\n", 4))
    every = next(i for i in items if i.label == "every")
    assert every.text_edit.range == types.Range(at(typed, "  ev\n", 2), at(typed, "  ev\n", 4))
    # after `earn 10`: the point kinds, plural and singular
    typed = text + 'rule "new" {\n  earn 10 \n}\n'
    lsp.change(uri, typed)
    assert {i.label for i in lsp.complete(uri, at(typed, "earn 10 \n", 8))} == {"stars", "star"}
    # a name position, while the line does not parse: the rewards, from the last version that parsed
    typed = text + 'rule "new" {\n  give "\n'
    assert lsp.change(uri, typed)  # a syntax error
    items = lsp.complete(uri, at(typed, 'give "\n', 6))
    assert [i.label for i in items] == ["free drink", "free pastry", "free sandwich", "2 dollars off", "free tumbler"]
    assert items[0].text_edit.new_text == 'free drink"' and items[0].kind == types.CompletionItemKind.Value
    # inside quotes after `on category`, in a list: the categories; after `for tier`: the tiers
    typed = text + 'rule "new" {\n  get 5% off\n  on category "coffee", ""\n  for tier ""\n}\n'
    lsp.change(uri, typed)
    items = lsp.complete(uri, at(typed, '"coffee", "', 11))
    assert [i.label for i in items] == ["coffee", "food", "merchandise"]
    assert items[0].text_edit.new_text == "coffee"  # the closing quote is there already
    assert [i.label for i in lsp.complete(uri, at(typed, 'for tier "', 10))] == ["green", "gold"]
    # a string that declares a new name, and a comment: nothing to offer
    assert not lsp.complete(uri, at(typed, 'rule "new"', 6))
    assert not lsp.complete(uri, at(typed, "# The rewards catalog", 5))


def test_hover_on_a_rule_says_what_it_gives_and_on_a_name_its_declaration(lsp):
    uri = "file:///tmp/hover.loyalty"
    text = EXAMPLE.read_text(encoding="utf-8")
    lsp.open(uri, text)
    hover = lsp.hover(uri, at(text, '"stars on every dollar"', 3))
    value = hover.contents.value
    # loyalty describe's sentence and rates: 1 star per 1 USD, a star worth 2/60 USD to the member (60 stars for
    # 2 dollars off) and costing 0.04 USD: 3.33% / 4% back; gold's 1.2x makes it 4% / 4.8%
    assert value.startswith("**stars on every dollar**: Earn 1 star per 1 USD spent.")
    assert "no tier: 3.33% / 4% on every purchase" in value and 'tier "gold": 4% / 4.8%' in value
    # in the body of a rule, away from any name: the rule too
    hover = lsp.hover(uri, at(text, "earn 50 stars", 2))
    assert hover.contents.value.startswith("**welcome stars**")
    # on a name: its kind, its line, the declaration as written
    hover = lsp.hover(uri, at(text, 'free "croissant"', 8))
    value = hover.contents.value
    assert value.startswith('**item** "croissant", declared at line 27')
    assert 'item "croissant" in category "food" costing 0.80 USD' in value
    # on a bare point-kind word
    hover = lsp.hover(uri, at(text, "redeem 60 stars", 10))
    assert hover.contents.value.startswith('**point kind** "stars", declared at line 11')
    # nowhere in particular: nothing
    assert lsp.hover(uri, at(text, "currency USD", 1)) is None


def test_definition_and_references_of_names(lsp):
    uri = "file:///tmp/nav.loyalty"
    text = EXAMPLE.read_text(encoding="utf-8")
    lsp.open(uri, text)
    use = at(text, 'redeem 100 stars for "free pastry"', 23)
    location = lsp.definition(uri, use)
    declared = at(text, 'reward "free pastry"', 7)
    assert location.uri == uri and location.range.start == declared
    # a category declared in the catalog, used by items and a rule
    refs = lsp.references(uri, at(text, 'on category "coffee"', 14), True)
    assert len(refs) == 1 + 3 + 1 + 1  # declaration, three items, the free drink, the coffee bonus
    assert refs[0].range.start == at(text, 'category "coffee"', 9)
    without = lsp.references(uri, at(text, 'on category "coffee"', 14), False)
    assert len(without) == len(refs) - 1
    # a point kind: the quoted declaration and every bare use, singular ones too
    refs = lsp.references(uri, at(text, "earn 1.2x stars", 11), True)
    assert len(refs) == 13 and sum(text.count(w) for w in (" star ", " stars")) >= 12


def test_the_outline_lists_every_declaration_with_its_parts(lsp):
    uri = "file:///tmp/outline.loyalty"
    text = EXAMPLE.read_text(encoding="utf-8")
    lsp.open(uri, text)
    symbols = lsp.symbols(uri)
    assert [(s.detail, s.name) for s in symbols][:3] == [
        ("program", "Harbor Coffee Rewards"), ("points", "stars"), ("catalog", "catalog")]
    catalog = symbols[2]
    assert [c.name for c in catalog.children][:3] == ["coffee", "food", "merchandise"] and len(catalog.children) == 9
    rules = [s for s in symbols if s.detail == "rule"]
    assert [r.name for r in rules] == ["stars on every dollar", "coffee bonus", "welcome stars"]
    assert rules[2].selection_range.start == at(text, '"welcome stars"')
    assert rules[2].range.start == at(text, 'rule "welcome stars"') and rules[2].range.end == at(text, "on signup\n}", 11)
    assert [t.name for t in symbols[-1].children] == ["green", "gold"]


def test_navigation_still_answers_while_another_declaration_is_broken(lsp):
    uri = "file:///tmp/broken.loyalty"
    text = EXAMPLE.read_text(encoding="utf-8").replace("earn 50 stars\n", "earn 50 stars stars\n")
    [d] = lsp.open(uri, text)
    assert d.code == "LOY001"
    location = lsp.definition(uri, at(text, 'redeem 100 stars for "free pastry"', 23))
    assert location.range.start == at(text, 'reward "free pastry"', 7)
    # while the file does not compile, the rule is worded from the syntax tree, with the same rate arithmetic
    hover = lsp.hover(uri, at(text, '"coffee bonus"', 2))
    assert "4%" in hover.contents.value and 'rule "coffee bonus"' in hover.contents.value
    # renaming could miss a use inside the broken declaration: refused, saying why
    with pytest.raises(JsonRpcException, match="syntax errors"):
        lsp.prepare_rename(uri, at(text, 'reward "free pastry"', 8))


def test_rename_rewrites_every_use_and_refuses_clashes(lsp):
    uri = "file:///tmp/rename.loyalty"
    text = EXAMPLE.read_text(encoding="utf-8")
    lsp.open(uri, text)
    pos = at(text, 'redeem 150 stars for "free drink"', 23)
    prepared = lsp.prepare_rename(uri, pos)
    assert prepared.placeholder == "free drink"
    edit = lsp.rename(uri, pos, 'gratis "drikk"')
    renamed = apply(text, edit.changes[uri])
    assert renamed == text.replace('"free drink"', '"gratis \\"drikk\\""')
    from loyalty.frontend import check_text

    assert check_text(renamed).ok
    # a point kind: plural and singular uses follow
    edit = lsp.rename(uri, at(text, "earn 1 star per", 7), "coins")
    renamed = apply(text, edit.changes[uri])
    assert 'points "coins"' in renamed and "earn 1 coin per 1 USD" in renamed and "redeem 60 coins for" in renamed
    assert check_text(renamed).ok
    # refused: a name that exists, a keyword as a point kind, nothing under the cursor
    for pos, new_name, reason in [
        (at(text, 'reward "free pastry"', 8), "free drink", "already exists"),
        (at(text, "earn 1 star per", 7), "visits", "keyword"),
        (at(text, "earn 1 star per", 7), "Big Coins", "point kinds are written bare"),
    ]:
        with pytest.raises(JsonRpcException, match=reason):
            lsp.rename(uri, pos, new_name)
    assert lsp.prepare_rename(uri, at(text, "currency USD", 2)) is None


def test_the_server_log_holds_no_traceback(lsp):
    # the refusals above were answered; the log (stderr, shown by editors) has no Python traceback
    uri = "file:///tmp/log.loyalty"
    text = EXAMPLE.read_text(encoding="utf-8")
    lsp.open(uri, text)
    with pytest.raises(JsonRpcException):
        lsp.rename(uri, at(text, 'tier "gold"', 7), "green")
    stderr = lsp.client._server.stderr

    async def read_available() -> bytes:
        try:
            return await asyncio.wait_for(stderr.read(65536), 1)
        except asyncio.TimeoutError:
            return b""

    assert b"Traceback" not in lsp.run(read_available())


def test_the_server_exits_when_the_editor_goes_away():
    # an editor that crashes closes the pipe without `exit`: the server must not linger
    import subprocess

    installed = Path(sys.executable).parent / "loyalty"
    command = [str(installed)] if installed.is_file() else [sys.executable, "-m", "loyalty.cli"]
    done = subprocess.run([*command, "lsp"], stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0 and done.stdout == b"" and b"Traceback" not in done.stderr
