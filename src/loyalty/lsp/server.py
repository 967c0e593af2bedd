"""The language server: pygls wiring of the analysis, completion, hover and rename modules.

Documents are synchronised whole (a program is a few kB): each change re-checks the text with the
same frontend as `loyalty check` and publishes every diagnostic. Positions go through
`positions.LineIndex` (lines split at "\\n" as the parser splits them, UTF-16 columns as LSP counts).
"""

from __future__ import annotations

import logging
from typing import Optional
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from loyalty import __version__
from loyalty.diagnostics import Diagnostic, Severity
from loyalty.lsp import hover, names as ns
from loyalty.lsp.analysis import Analysis
from loyalty.lsp.completion import KEYWORD, complete
from loyalty.lsp.names import Names
from loyalty.lsp.outline import Symbol, outline
from loyalty.lsp.positions import UTF16, LineIndex, Position, Range
from loyalty.lsp.rename import RenameRefused, rename_edits, target
from loyalty.syntax.formatter import format_program

REQUEST_FAILED = -32803  # LSP's RequestFailed: the request was valid but could not be done

_COMPLETION_KINDS = {
    KEYWORD: types.CompletionItemKind.Keyword,
    ns.POINT_KIND: types.CompletionItemKind.Unit,
    ns.REWARD: types.CompletionItemKind.Value,
    ns.TIER: types.CompletionItemKind.EnumMember,
    ns.ITEM: types.CompletionItemKind.Constant,
    ns.CATEGORY: types.CompletionItemKind.Folder,
    ns.SEGMENT: types.CompletionItemKind.Class,
    ns.STORE: types.CompletionItemKind.Module,
    ns.REGION: types.CompletionItemKind.Module,
    "currency": types.CompletionItemKind.Unit,
}


def _file_of(uri: str) -> str:
    """The path diagnostics are stamped with (the editor shows its own)."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def _range(r: Range) -> types.Range:
    return types.Range(types.Position(r.start.line, r.start.character), types.Position(r.end.line, r.end.character))


def _lsp_diagnostic(d: Diagnostic, index: LineIndex) -> types.Diagnostic:
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    severity = types.DiagnosticSeverity.Error if d.severity is Severity.ERROR else types.DiagnosticSeverity.Warning
    return types.Diagnostic(range=_range(index.range_of(d.span)), message=message, severity=severity,
                            code=d.code, source="loyalty", data={"hint": d.hint} if d.hint else None)


class LoyaltyServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("loyalty", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.analyses: dict[str, Analysis] = {}
        # the names of each document's last version that parsed (completion while a line is half typed)
        self.last_names: dict[str, tuple[Names, Optional[str]]] = {}

    def update(self, uri: str, text: str, version: Optional[int] = None) -> None:
        # the encoding pygls agreed on with the editor (UTF-16 unless the editor prefers UTF-8 or UTF-32)
        agreed = self.workspace.position_encoding or UTF16
        encoding = getattr(agreed, "value", agreed)  # an enum member or the plain string
        analysis = Analysis.of(text, _file_of(uri), encoding)
        self.analyses[uri] = analysis
        if analysis.parses and analysis.names is not None and analysis.symbols is not None:
            self.last_names[uri] = (analysis.names, analysis.symbols.currency)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=version,
            diagnostics=[_lsp_diagnostic(d, analysis.index) for d in analysis.checked.diagnostics]))

    def analysis(self, uri: str) -> Optional[Analysis]:
        if uri not in self.analyses:
            try:
                self.update(uri, self.workspace.get_text_document(uri).source)
            except (OSError, ValueError):  # a document never opened, unreadable or not UTF-8
                return None
        return self.analyses.get(uri)


server = LoyaltyServer()


def _offset(analysis: Analysis, position: types.Position) -> int:
    return analysis.index.offset(Position(position.line, position.character))


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: LoyaltyServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.update(params.text_document.uri, params.text_document.text, params.text_document.version)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: LoyaltyServer, params: types.DidChangeTextDocumentParams) -> None:
    # whole-document sync: the last change holds the full text
    document = params.text_document
    ls.update(document.uri, ls.workspace.get_text_document(document.uri).source, document.version)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: LoyaltyServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.analyses.pop(uri, None)
    ls.last_names.pop(uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: LoyaltyServer, params: types.DocumentFormattingParams) -> Optional[list[types.TextEdit]]:
    analysis = ls.analysis(params.text_document.uri)
    if analysis is None or analysis.checked.program is None:
        ls.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Warning, message="loyalty: the program has syntax errors; not formatted"))
        return None
    formatted = format_program(analysis.checked.program)
    if formatted == analysis.text:
        return []
    end = analysis.index.end
    whole = types.Range(types.Position(0, 0), types.Position(end.line, end.character))
    return [types.TextEdit(range=whole, new_text=formatted)]


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=['"']))
def completion(ls: LoyaltyServer, params: types.CompletionParams) -> types.CompletionList:
    uri = params.text_document.uri
    analysis = ls.analysis(uri)
    if analysis is None:
        return types.CompletionList(is_incomplete=False, items=[])
    # the names of the last version that parsed: a half-typed line inside a catalog blanks the whole
    # catalog out of the current version's names
    current = (analysis.names, analysis.symbols.currency if analysis.symbols else None)
    names, currency = ls.last_names.get(uri, current)
    offset = _offset(analysis, params.position)
    items = []
    for i, c in enumerate(complete(analysis.text, offset, names, currency)):
        edit_range = _range(analysis.index.offset_range(c.start, c.end))
        items.append(types.CompletionItem(
            label=c.label, kind=_COMPLETION_KINDS.get(c.kind, types.CompletionItemKind.Text), detail=c.detail,
            text_edit=types.TextEdit(range=edit_range, new_text=c.new_text), sort_text=f"{i:04d}"))
    return types.CompletionList(is_incomplete=False, items=items)


@server.feature(types.TEXT_DOCUMENT_HOVER)
def on_hover(ls: LoyaltyServer, params: types.HoverParams) -> Optional[types.Hover]:
    analysis = ls.analysis(params.text_document.uri)
    if analysis is None or analysis.names is None or analysis.symbols is None:
        return None
    offset = _offset(analysis, params.position)
    occ = analysis.names.at(offset)
    if occ is not None and occ.kind != ns.RULE:
        text = hover.name_hover_markdown(occ, analysis.names, analysis.text)
        span_range = analysis.index.offset_range(occ.start, occ.end)
    else:
        entry = next((e for e in analysis.symbols.rule_entries
                      if e.rule.span.start <= offset <= e.rule.span.end), None)
        if entry is None:
            return None
        text = None
        if analysis.checked.ok:  # describe's sentence and rates, from the compiled program
            from loyalty.describe import rule_markdown

            text = rule_markdown(analysis.checked.program, entry.rule.name.value)
        if text is None:
            text = hover.rule_hover_markdown(entry, analysis.symbols, analysis.text)
        span_range = analysis.index.range_of(entry.rule.span)
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                       range=_range(span_range))


def _location(uri: str, analysis: Analysis, start: int, end: int) -> types.Location:
    return types.Location(uri=uri, range=_range(analysis.index.offset_range(start, end)))


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def definition(ls: LoyaltyServer, params: types.DefinitionParams) -> Optional[types.Location]:
    uri = params.text_document.uri
    analysis = ls.analysis(uri)
    if analysis is None or analysis.names is None:
        return None
    occ = analysis.names.at(_offset(analysis, params.position))
    found = analysis.names.definition(occ.kind, occ.name) if occ else None
    return _location(uri, analysis, found.start, found.end) if found else None


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
def references(ls: LoyaltyServer, params: types.ReferenceParams) -> Optional[list[types.Location]]:
    uri = params.text_document.uri
    analysis = ls.analysis(uri)
    if analysis is None or analysis.names is None:
        return None
    occ = analysis.names.at(_offset(analysis, params.position))
    if occ is None:
        return None
    declaration = analysis.names.definition(occ.kind, occ.name)
    return [_location(uri, analysis, o.start, o.end) for o in analysis.names.of(occ.kind, occ.name)
            if params.context.include_declaration or o != declaration]


@server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
def prepare_rename(ls: LoyaltyServer, params: types.PrepareRenameParams):
    analysis = ls.analysis(params.text_document.uri)
    if analysis is None:
        return None
    occ = target(analysis, _offset(analysis, params.position))
    if occ is None:
        return None
    if not analysis.parses:
        raise JsonRpcException("cannot rename: the program has syntax errors; fix them before renaming",
                               code=REQUEST_FAILED)
    start, end = (occ.start + 1, occ.end - 1) if occ.quoted else (occ.start, occ.end)
    return types.PrepareRenamePlaceholder(range=_range(analysis.index.offset_range(start, end)),
                                          placeholder=occ.name)


@server.feature(types.TEXT_DOCUMENT_RENAME)  # with prepareRename when the client supports it (pygls decides)
def rename(ls: LoyaltyServer, params: types.RenameParams) -> Optional[types.WorkspaceEdit]:
    uri = params.text_document.uri
    analysis = ls.analysis(uri)
    if analysis is None:
        return None
    try:
        edits = rename_edits(analysis, _offset(analysis, params.position), params.new_name)
    except RenameRefused as refusal:
        raise JsonRpcException(f"cannot rename: {refusal}", code=REQUEST_FAILED) from None
    return types.WorkspaceEdit(changes={uri: [
        types.TextEdit(range=_range(analysis.index.offset_range(e.start, e.end)), new_text=e.new_text)
        for e in edits]})


class _LogFormatter(logging.Formatter):
    """The server's log (stderr, which editors show): one line per problem, no Python traceback."""

    def formatException(self, ei) -> str:
        kind, error = ei[0], ei[1]
        name = kind.__name__ if kind else "error"
        return f"  {name}: {error} (a bug in loyalty lsp if it is not a refusal; please report it)"


def _not_a_refusal(record: logging.LogRecord) -> bool:
    """pygls logs every error answer; a refused rename is an answer, not a problem of the server."""
    error = record.exc_info[1] if record.exc_info else None
    return not (isinstance(error, JsonRpcException) and error.code == REQUEST_FAILED)


_SYMBOL_KINDS = {
    "program": types.SymbolKind.Namespace, "points": types.SymbolKind.Number, "catalog": types.SymbolKind.Package,
    "category": types.SymbolKind.Enum, "item": types.SymbolKind.EnumMember, "segment": types.SymbolKind.Class,
    "store": types.SymbolKind.Module, "reward": types.SymbolKind.Object, "redeem": types.SymbolKind.Event,
    "rule": types.SymbolKind.Function, "campaign": types.SymbolKind.Module, "tiers": types.SymbolKind.Array,
    "tier": types.SymbolKind.Constant, "draw": types.SymbolKind.Event,
}


def _document_symbol(symbol: Symbol, index: LineIndex) -> types.DocumentSymbol:
    selected = symbol.name_node if symbol.name_node is not None else symbol.node
    return types.DocumentSymbol(
        name=symbol.name or "(empty name)", detail=symbol.kind, kind=_SYMBOL_KINDS[symbol.kind],
        range=_range(index.range_of(symbol.node.span)), selection_range=_range(index.range_of(selected.span)),
        children=[_document_symbol(c, index) for c in symbol.children] or None)


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbols(ls: LoyaltyServer, params: types.DocumentSymbolParams) -> Optional[list[types.DocumentSymbol]]:
    analysis = ls.analysis(params.text_document.uri)
    if analysis is None or analysis.program is None:
        return None
    return [_document_symbol(s, analysis.index) for s in outline(analysis.program)]


def serve() -> None:
    """Serve over standard input and output until the editor says exit."""
    handler = logging.StreamHandler()
    handler.setFormatter(_LogFormatter("loyalty lsp: %(levelname)s: %(message)s"))
    handler.addFilter(_not_a_refusal)
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    server.start_io()
