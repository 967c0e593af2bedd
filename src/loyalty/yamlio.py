"""Reading the YAML files people write: the simulation's scenario (assumptions) file and `.test.yaml` scenario tests.

One reader for both, stricter than YAML itself, because these files are small, hand-written, and sometimes
come from elsewhere (docs/limits.md, "YAML files"):

- **No anchors or aliases** (`&name`, `*name`). An alias repeats a value without repeating its text, so a few
  hundred bytes of nested aliases (the "billion laughs") stand for gigabytes once anything copies or prints
  the value. A bound on aliases would still let a file mean something other than what it shows; these
  files are short enough to write each value out, so aliases are refused outright, at the first one.
- **No merge keys** (`<<: *base`): they need aliases, and they silently mix one mapping into another.
- **No duplicate keys**: YAML keeps the last, so a second `scenarios:` once dropped every scenario before it.
- **Keys are text, as written**: `no:` is the key "no" (not false), `1:` is "1". Only plain keys: a list or
  mapping as a key (`? [a, b]`) is refused.
- **No tags** beyond YAML's own scalar types (`!!str` is fine; `!!python/object`, `!!binary`, `!custom`,
  `!!set` are refused), and nothing is ever constructed but plain values: no code runs.
- **Exact numbers**: `0.1` is the decimal 0.1, never a float; `.inf` and `.nan` are refused.
- **Bounds**: at most `MAX_YAML_BYTES` bytes, nested at most `MAX_YAML_DEPTH` levels; UTF-8 only (a
  byte-order mark is allowed).

Every problem is a `YamlProblem` with the file, line and column (1-based, columns counted in characters)
and, where we can say what to do, a hint; `YamlFileError` carries them. `YamlDocument.places` says where
each value sits. `validate` checks a document against a pydantic model (loyalty/schemas.py) and turns
pydantic's errors into such problems: the key path, the place in the file, and a hint ("did you mean",
the keys a mapping may have).

PyYAML's pure-Python safe loader is used (the C one cannot be made to refuse aliases while composing).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Optional, Union

MAX_YAML_BYTES = 1_000_000  # like a program's size limit; ~5 CPU seconds for PyYAML to read. Real files: a few kB
MAX_YAML_DEPTH = 32  # levels of lists and mappings; the formats need 8. PyYAML recurses per level

_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_YAML + t for t in ("null", "bool", "int", "float", "timestamp", "str")}
_AS_TEXT_TAGS = {_YAML + "value", _YAML + "merge"}  # `=` and `<<` as values (not keys) are just text

_ALIAS_HINT = ("write the value out in full where it is needed: aliases are refused because a few hundred "
               "bytes of them can stand for gigabytes (docs/limits.md, \"YAML files\")")


# ------------------------------------------------------------------ problems


@dataclass(frozen=True)
class YamlProblem:
    """One thing wrong with a file, at a place in it."""

    file: str
    line: int
    column: int
    message: str
    hint: Optional[str] = None

    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def located(self) -> tuple[str, Optional[str]]:
        """(`file:line:col: message`, the hint), safe to print: control characters from the file are escaped."""
        from loyalty.terminal import visible

        return f"{visible(self.where())}: {visible(self.message)}", (visible(self.hint) if self.hint else None)

    def render(self) -> str:
        """`file:line:col: message` and, on the next line, `  = hint: ...`."""
        message, hint = self.located()
        return message + (f"\n  = hint: {hint}" if hint else "")


class YamlFileError(Exception):
    """A file that cannot be used, with every problem found (sorted by place)."""

    def __init__(self, problems: Iterable[YamlProblem]):
        self.problems = sorted(problems, key=lambda p: (p.line, p.column))
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)


class _Refused(Exception):
    """Raised inside the loader; becomes a YamlProblem once the file name is known."""

    def __init__(self, mark, message: str, hint: Optional[str] = None):
        self.mark, self.message, self.hint = mark, message, hint


# ------------------------------------------------------------------ documents


@dataclass(frozen=True)
class Place:
    """Where a value sits in the file: its key (for an entry of a mapping) and the value itself, as
    (line, column), 1-based; and the value's text as written, for a plain value."""

    key: Optional[tuple[int, int]]
    value: tuple[int, int]
    text: Optional[str] = None


@dataclass(frozen=True)
class YamlDocument:
    """A file's data (dicts with text keys, lists, and str, int, Decimal, bool, None, date and datetime values)
    and where each value sits: `places[path]`, a path being the keys and list indices leading to it."""

    file: str
    data: Any
    places: dict[tuple, Place]

    def place(self, path: tuple, key: bool = False) -> tuple[int, int]:
        """(line, column) of the value at `path` (of its key, with `key`), or of the nearest enclosing one."""
        path = tuple(path)
        while path not in self.places:
            path = path[:-1]
        place = self.places[path]
        return place.key if key and place.key else place.value

    def problem(self, path: tuple, message: str, hint: Optional[str] = None, key: bool = False) -> YamlProblem:
        line, column = self.place(path, key)
        return YamlProblem(self.file, line, column, message, hint)


def read_yaml(path: Union[str, Path]) -> YamlDocument:
    """Read and parse a YAML file (see the module's docstring for what is refused). Raises YamlFileError."""
    path = Path(path)
    file = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError:
        raise YamlFileError([YamlProblem(file, 1, 1, "no such file")]) from None
    except IsADirectoryError:
        raise YamlFileError([YamlProblem(file, 1, 1, "is a directory, not a file")]) from None
    except OSError as err:
        raise YamlFileError([YamlProblem(file, 1, 1, f"cannot be read: {err.strerror or err}")]) from None
    if len(data) > MAX_YAML_BYTES:
        raise YamlFileError([YamlProblem(
            file, 1, 1, f"file is larger than {MAX_YAML_BYTES:,} bytes",
            "split it into smaller files; these files are meant to be written by hand (docs/limits.md)")])
    return parse_yaml(decode_utf8(data, file), file)


def decode_utf8(data: bytes, file: str) -> str:
    """UTF-8 text (a byte-order mark is dropped); a YamlFileError at the first byte that is not UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line_start = data.rfind(b"\n", 0, err.start) + 1
        line = data.count(b"\n", 0, err.start) + 1
        column = len(data[line_start:err.start].decode("utf-8")) + 1  # the line before the bad byte is valid
        raise YamlFileError([YamlProblem(
            file, line, column, f"byte 0x{data[err.start]:02x} is not valid UTF-8",
            "save the file as UTF-8 (it looks like another encoding, e.g. Latin-1 or UTF-16)")]) from None


def parse_yaml(text: str, file: str = "<yaml>") -> YamlDocument:
    """Parse YAML text (see the module's docstring for what is refused). Raises YamlFileError."""
    import yaml

    if text.startswith("\ufeff"):
        text = text[1:]
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise YamlFileError([YamlProblem(file, 1, 1, f"text is larger than {MAX_YAML_BYTES:,} bytes",
                                         "split it into smaller files (docs/limits.md)")])
    loader = None
    try:
        loader = _loader_class()(text)
        node = loader.get_single_node()
        places: dict[tuple, Place] = {(): Place(None, (1, 1))}
        data = None if node is None else _build(loader, node, (), places, None)
        return YamlDocument(file, data, places)
    except _Refused as err:
        raise YamlFileError([YamlProblem(file, err.mark.line + 1, err.mark.column + 1, err.message, err.hint)]) from None
    except yaml.reader.ReaderError as err:
        line, column = _line_col(text, err.position)
        char = err.character if isinstance(err.character, str) else chr(err.character)
        raise YamlFileError([YamlProblem(
            file, line, column, f"character U+{ord(char):04X} is not allowed in YAML",
            "remove it (YAML allows no control characters other than tab and line breaks)")]) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if err.problem == "but found another document":
            raise YamlFileError([YamlProblem(file, line, column, "a second YAML document (after ---)",
                                             "keep everything in one document: remove the ---")]) from None
        hint = None
        if err.context and err.context_mark and (err.context_mark.line, err.context_mark.column) != (line - 1, column - 1):
            hint = f"{err.context} at line {err.context_mark.line + 1}, column {err.context_mark.column + 1}"
        raise YamlFileError([YamlProblem(file, line, column, f"not valid YAML: {err.problem or err}", hint)]) from None
    except yaml.YAMLError as err:  # not raised by PyYAML's reader, scanner, parser or composer; to be safe
        raise YamlFileError([YamlProblem(file, 1, 1, f"not valid YAML: {err}")]) from None
    finally:
        if loader is not None:
            loader.dispose()


def _line_col(text: str, position: int) -> tuple[int, int]:
    return text.count("\n", 0, position) + 1, position - (text.rfind("\n", 0, position) + 1) + 1


_LOADER = None


def _loader_class():
    """PyYAML's safe loader, refusing anchors, aliases and deep nesting while it composes (before anything
    could be expanded), and reading floats as exact decimals. Built on first use: only a run that reads a
    YAML file imports PyYAML."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    class SafeStrictLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent):
                raise _Refused(event.start_mark, f"alias *{event.anchor}: anchors and aliases are not allowed",
                               _ALIAS_HINT)
            if getattr(event, "anchor", None) is not None:
                raise _Refused(event.start_mark, f"anchor &{event.anchor}: anchors and aliases are not allowed",
                               _ALIAS_HINT)
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                if self.depth >= MAX_YAML_DEPTH:
                    raise _Refused(event.start_mark, f"nested more than {MAX_YAML_DEPTH} levels deep",
                                   "these files need a few levels; flatten the data")
                self.depth += 1
                try:
                    return super().compose_node(parent, index)
                finally:
                    self.depth -= 1
            return super().compose_node(parent, index)

    SafeStrictLoader.add_constructor(_YAML + "float", _construct_decimal)
    _LOADER = SafeStrictLoader
    return _LOADER


def _construct_decimal(loader, node) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise _Refused(node.start_mark, f"{shorten(text)} is not a number", "write a finite decimal number, e.g. 0.25")
    return number


def _build(loader, node, path: tuple, places: dict, key_mark) -> Any:
    """The plain value of a composed node, recording where each part of it sits."""
    import yaml

    start = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        _check_tag(node, _YAML + "map")
        places[path] = Place(key_mark, start)
        out: dict[str, Any] = {}
        first: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _YAML + "merge":
                raise _Refused(key_node.start_mark, "merge keys (<<) are not allowed",
                               "write the keys out in this mapping")
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_node.start_mark, "a key must be plain text, not a list or a mapping")
            _check_tag(key_node, None)
            key = key_node.value
            if key in first:
                raise _Refused(key_node.start_mark,
                               f"duplicate key {key!r} (first at line {first[key].line + 1}, "
                               f"column {first[key].column + 1})",
                               "give each key once: YAML would silently keep only the last one")
            first[key] = key_node.start_mark
            out[key] = _build(loader, value_node, path + (key,), places,
                              (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
        return out
    if isinstance(node, yaml.SequenceNode):
        _check_tag(node, _YAML + "seq")
        places[path] = Place(key_mark, start)
        return [_build(loader, item, path + (i,), places, None) for i, item in enumerate(node.value)]
    _check_tag(node, None)
    places[path] = Place(key_mark, start, node.value if node.style is None else None)
    if node.tag in _AS_TEXT_TAGS:
        return node.value
    try:
        return loader.construct_object(node)
    # a date that does not exist, an integer of 5,000 digits; with an explicit tag anything (`!!int` alone:
    # IndexError, `!!timestamp x`: TypeError, `!!bool x`: KeyError): PyYAML's constructors trust the resolver
    except (ValueError, ArithmeticError, LookupError, TypeError, AttributeError) as err:
        if node.tag == _YAML + "timestamp" and isinstance(err, ValueError):
            message = f"{shorten(node.value)} is not a valid date or time: {err}"
        elif node.tag == _YAML + "int" and len(node.value) > 1000:
            message = f"{shorten(node.value)} is not a number loyalty can read (it has {len(node.value):,} characters)"
        else:
            message = f"{shorten(node.value)} is not a valid {node.tag.replace(_YAML, '!!')}"
        raise _Refused(node.start_mark, message, "correct it, or put it in quotes to make it text") from None


def shorten(text: str, limit: int = 40) -> str:
    """`text` quoted, cut to about `limit` characters: a value shown in a message."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _check_tag(node, collection_tag: Optional[str]) -> None:
    allowed = {collection_tag} if collection_tag else _SCALAR_TAGS | _AS_TEXT_TAGS
    if node.tag not in allowed:
        tag = node.tag.replace(_YAML, "!!")
        raise _Refused(node.start_mark, f"tag {tag} is not allowed",
                       "remove the tag: values are read as plain YAML (text, numbers, true/false, dates)")
# ------------------------------------------------------------------ validation against a model


def validate(doc: YamlDocument, model, context: Optional[dict] = None, data: Any = ...):
    """`model.model_validate(doc.data)` (or `data`), with every pydantic error turned into a located
    YamlProblem. Raises YamlFileError."""
    from pydantic import ValidationError

    try:
        return model.model_validate(doc.data if data is ... else data, context=context)
    except ValidationError as err:
        raise YamlFileError(pydantic_problems(doc, model, err.errors(include_url=False))) from None


_EXPECTED = {
    "string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "decimal_type": "a number", "decimal_parsing": "a number",
    "is_instance_of": "a number", "bool_type": "true or false", "bool_parsing": "true or false",
    "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "date_type": "a date", "date_parsing": "a date (YYYY-MM-DD)", "date_from_datetime_inexact": "a date",
    "datetime_type": "a date and time", "datetime_parsing": "a date and time",
}


def _found(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Decimal):
        return format(value, "f") if abs(value.adjusted()) < 30 else str(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _dotted(path: Iterable) -> str:
    return ".".join(str(p) for p in path)


def _split_loc(data: Any, loc: tuple) -> tuple[tuple, bool, list]:
    """pydantic's error location, as (the path of the value in the data, whether the error is about the last
    key rather than its value, the location's other parts: union tags, a missing field's name)."""
    path: list = []
    extra: list = []
    on_key = False
    current = data
    for part in loc:
        if part == "[key]":
            on_key = True
        elif isinstance(current, dict) and isinstance(part, str) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        else:
            extra.append(part)
    return tuple(path), on_key, extra


def _types_at(model, loc: tuple) -> list:
    """The types the model expects at a pydantic location (more than one under a union)."""
    import types
    import typing

    from pydantic import BaseModel

    def unwrap(tp) -> list:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            return unwrap(typing.get_args(tp)[0])
        if origin is Union or origin is types.UnionType:
            return [u for arg in typing.get_args(tp) for u in unwrap(arg)]
        if isinstance(tp, type) and issubclass(tp, BaseModel) and "root" in tp.model_fields \
                and getattr(tp, "__pydantic_root_model__", False):
            return unwrap(tp.model_fields["root"].annotation)
        return [tp]

    current = unwrap(model)
    for part in loc:
        following = []
        for tp in current:
            origin = typing.get_origin(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str) and part in tp.model_fields:
                following += unwrap(tp.model_fields[part].annotation)
            elif origin is list and isinstance(part, int):
                following += unwrap(typing.get_args(tp)[0])
            elif origin is dict and isinstance(part, str) and part != "[key]":
                following += unwrap(typing.get_args(tp)[1])
        if following:
            current = following
    return current


def _model_keys(types: list) -> list[str]:
    from pydantic import BaseModel

    keys: list[str] = []
    for tp in types:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            keys += [k for k in tp.model_fields if k not in keys]
    return keys


def did_you_mean(name: str, known: Iterable[str], what: str) -> str:
    """`did you mean 'stars'? point kinds: stars, points` (or without the question when nothing is close)."""
    known = list(known)
    if not known:
        return f"there are no {what}"
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    listed = ", ".join(known) if len(known) <= 20 else ", ".join(known[:20]) + f", ... ({len(known)} in all)"
    return (f"did you mean {close[0]!r}? " if close else "") + f"{what}: {listed}"


def pydantic_problems(doc: YamlDocument, model, errors: list[dict]) -> list[YamlProblem]:
    """pydantic's errors as located problems. Errors of a union's branches at one place become one problem
    (`expected text or true`)."""
    grouped: dict[tuple, list] = {}
    others: list[YamlProblem] = []
    for error in errors:
        path, on_key, extra = _split_loc(doc.data, tuple(error["loc"]))
        kind = error["type"]
        value = error.get("input")
        ctx = error.get("ctx") or {}
        where = _dotted(path)
        prefix = f"{where}: " if where else ""
        if kind == "missing":
            name = extra[-1] if extra else "?"
            keys = _model_keys(_types_at(model, error["loc"][:-1]))
            others.append(doc.problem(path, f"{prefix}missing key {name!r}",
                                      f"a mapping here has the keys: {', '.join(keys)}" if keys else None))
        elif kind == "extra_forbidden":
            keys = _model_keys(_types_at(model, error["loc"][:-1]))
            others.append(doc.problem(path, f"{_dotted(path[:-1]) + ': ' if path[:-1] else ''}unknown key {path[-1]!r}",
                                      did_you_mean(path[-1], keys, "known keys"), key=True))
        elif kind == "unknown_name":  # loyalty.schemas: a name the program does not have
            parent = _dotted(path[:-1]) if on_key else where
            others.append(doc.problem(path, f"{parent + ': ' if parent else ''}{ctx['name']!r} is not {ctx['what']}",
                                      did_you_mean(ctx["name"], ctx["known"], ctx["plural"]), key=on_key))
        elif kind == "literal_error" and on_key:
            known = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
            parent = _dotted(path[:-1])
            others.append(doc.problem(path, f"{parent + ': ' if parent else ''}unknown key {path[-1]!r}",
                                      did_you_mean(path[-1], known, "known keys"), key=True))
        elif kind == "literal_error" and isinstance(value, str):
            known = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
            name = path[-1] if path else "value"
            others.append(doc.problem(path, f"{prefix}unknown {name} {value!r}", did_you_mean(value, known, "one of")))
        elif kind == "out_of_range":
            others.append(doc.problem(path, f"{prefix}must be between {ctx['low']} and {ctx['high']} "
                                            f"(found {_found(value)})"))
        elif kind in ("greater_than_equal", "greater_than"):
            bound = ctx.get("ge", ctx.get("gt"))
            others.append(doc.problem(path, f"{prefix}must be {'at least' if kind == 'greater_than_equal' else 'more than'} "
                                            f"{bound} (found {_found(value)})"))
        elif kind in ("less_than_equal", "less_than"):
            bound = ctx.get("le", ctx.get("lt"))
            others.append(doc.problem(path, f"{prefix}must be {'at most' if kind == 'less_than_equal' else 'less than'} "
                                            f"{bound} (found {_found(value)})"))
        elif kind in ("decimal_max_digits", "decimal_max_places", "decimal_whole_digits"):
            others.append(doc.problem(path, f"{prefix}{_found(value)} has too many digits",
                                      f"at most {ctx.get('max_digits', ctx.get('decimal_places', '?'))} digits"))
        elif kind in ("string_too_short", "too_short"):
            n = ctx.get("min_length")
            text = "must not be empty" if kind == "string_too_short" else f"needs at least {n} entr{'y' if n == 1 else 'ies'}"
            others.append(doc.problem(path, prefix + text))
        elif kind == "union_tag_not_found" or kind in _EXPECTED or kind == "literal_error":
            expected = _EXPECTED.get(kind) or _expected_literal(ctx) or _expected_shape(model, error["loc"])
            grouped.setdefault((path, on_key), []).append((expected, value, _types_at(model, error["loc"])))
        else:  # a message of our own (a validator's ValueError) or a type we do not word ourselves
            message = str(error.get("msg", kind))
            message = message[len("Value error, "):] if message.startswith("Value error, ") else message
            others.append(doc.problem(path, prefix + message, key=on_key))
    for (path, on_key), items in grouped.items():
        expected = []
        for e, _, _ in items:
            if e not in expected:
                expected.append(e)
        if "a number" in expected and "a whole number" in expected:
            expected.remove("a whole number")
        value = items[0][1]
        where = _dotted(path)
        hint = None
        keys = _model_keys([t for _, _, types in items for t in types])
        if keys and "a mapping" in expected:
            hint = f"a mapping here has the keys: {', '.join(keys)}"
        text = doc.places.get(path).text if path in doc.places else None
        if "text" in expected and text is not None and not isinstance(value, str):
            hint = f"put it in quotes to make it text: \"{text}\""
        others.append(doc.problem(path, f"{where + ': ' if where else ''}expected {' or '.join(expected)}, "
                                        f"found {_found(value)}", hint, key=on_key))
    return others


def _expected_literal(ctx: dict) -> Optional[str]:
    expected = ctx.get("expected")
    return {"True": "true", "False": "false"}.get(expected, expected) if expected else None


def _expected_shape(model, loc) -> str:
    import typing

    kinds = []
    for tp in _types_at(model, loc):
        origin = typing.get_origin(tp) or tp
        name = "a list" if origin is list else "a mapping" if origin is dict or hasattr(tp, "model_fields") else None
        if name and name not in kinds:
            kinds.append(name)
    return " or ".join(kinds) or "another kind of value"

