"""Coverage: what a history holds that the program does not know, and what of the program it never reached.

A cost estimate that is silently zero is the worst failure a simulation can have: a history whose items
were renamed ("basic wash" -> "Basic Wash"), whose store codes differ from the program's, or a segment
program run without member attributes all simulate "fine" to 0.00. Coverage names each such mismatch.

Two halves:
- `count_rows(history, result)`: the history's side, counted in the `coverage` table of a `SimResult`
  (rows per item and category of each order line, per store, channel, event type and custom action).
  It runs in `parallel.evaluate_range`, the unit of work of every engine (one process, --jobs, --grouped,
  Dask), so it is computed on every path and merges exactly like the rest of the result: counts add.
- `coverage_report(result, program, attributes)`: from the merged counts, the program and the member
  attributes, the report's `coverage` section: unknown names with counts and "did you mean", category
  mismatches, a missing attributes file, and the catalog items, rules, tiers, stores and regions nothing
  reached, each with its reason. Findings are `warning`s (the inputs do not match: `--strict` fails them)
  or `note`s (the inputs match, the outcome is simply zero: a tier no member qualified for).
"""

from __future__ import annotations

import json
from typing import Iterable, Optional

from loyalty.simulate.result import SimResult

TABLE = "coverage"
_LINE_TYPES = ("purchase", "return")


def _key(*parts: Optional[str]) -> str:
    # JSON, not a separator character: history values may hold any character
    return json.dumps(parts, ensure_ascii=False)


def count_rows(history, result: SimResult) -> SimResult:
    """Add the history's rows, counted by what coverage compares with the program, to `result`."""
    from loyalty.runtime.arrays import distinct_sums, is_one_of  # distinct_sums: codes in a small range, no sort

    n = len(history)
    if not n:
        return result
    cells = result.cells
    kind, kinds = history.dictionary_codes("type")
    item_codes = history.code_array("item")
    cat_codes = history.code_array("category")

    def add(key: str, count: int) -> None:
        cell = (TABLE, key, "rows")
        cells[cell] = cells.get(cell, 0) + count

    for code, count in zip(*distinct_sums(kind)):
        add(_key("type", kinds[code] if code >= 0 else None), int(count))
    # order lines: (item, category as written) pairs
    lines = is_one_of(kind, [kinds.index(t) for t in _LINE_TYPES if t in kinds])
    if lines.any():
        width = int(cat_codes.max()) + 2 if len(cat_codes) else 1
        pairs = ((item_codes + 1) * width + (cat_codes + 1)).compress(lines)  # (one selection, not one per column)
        uniq, counts = distinct_sums(pairs)
        items = _texts(history, "item", uniq // width - 1)
        cats = _texts(history, "category", uniq % width - 1)
        for item, cat, count in zip(items, cats, counts.tolist()):
            add(_key("line", item, cat), count)
    if "custom" in kinds:
        custom = kind == kinds.index("custom")
        uniq, counts = distinct_sums(item_codes[custom])
        for name, count in zip(_texts(history, "item", uniq), counts.tolist()):
            add(_key("action", name), count)
    for column in ("store", "channel"):
        codes = history.code_array(column)
        uniq, counts = distinct_sums(codes[codes >= 0])
        for name, count in zip(_texts(history, column, uniq), counts.tolist()):
            add(_key(column, name), count)
    # the codes purchases carry (several to a row, separated by spaces): rows per code
    carried = history.code_array("codes")
    uniq, counts = distinct_sums(carried[carried >= 0])
    for text, count in zip(_texts(history, "codes", uniq), counts.tolist()):
        for code in dict.fromkeys((text or "").split()):
            add(_key("code", code), count)
    return result


def _texts(history, column: str, codes) -> list[Optional[str]]:
    """The texts of codes (-1: None)."""
    import numpy as np

    codes = np.asarray(codes, dtype=np.int64)
    present = codes >= 0
    out: list[Optional[str]] = [None] * len(codes)
    if present.any():
        for i, value in zip(np.flatnonzero(present).tolist(), history.values_of(column, codes[present])):
            out[i] = value
    return out


# ------------------------------------------------------------------ what the program knows


class Known:
    """The names a compiled program knows, and what each rule needs to fire."""

    def __init__(self, prog):
        doc = prog.doc
        self.items = dict(prog.catalog)  # item -> its catalog category
        self.stores = dict(prog.stores)  # store -> region (or None)
        self.categories: set[str] = {c for c in self.items.values() if c}
        self.channels: set[str] = set()
        self.segments: set[str] = set()
        self.actions: set[str] = set()
        self.named_items: set[str] = set()
        self.rules: list[dict] = []
        self.attribute_rules: list[str] = []  # rules (and draws) that read member attributes
        for rule in doc.get("rules", ()):
            needs = _needs(rule)
            self.rules.append({"name": rule["name"], "line": (rule.get("span") or [None])[0], **needs,
                               "code": rule.get("code")})
            if needs["segments"] or needs["birthday"]:
                self.attribute_rules.append(rule["name"])
        for draw in doc.get("draws", ()):
            needs = _needs(draw)
            if needs["segments"] or needs["birthday"]:
                self.attribute_rules.append(f"draw {draw['name']}")
        for need in [_needs(r) for r in doc.get("rules", ())] + [_needs(d) for d in doc.get("draws", ())]:
            self.categories |= set(need["categories"])
            self.channels |= set(need["channels"] or ())
            self.segments |= set(need["segments"])
            self.stores.update({s: self.stores.get(s) for s in need["stores"] or ()})
            self.named_items |= set(need["items"])
            if need["action"]:
                self.actions.add(need["action"])
        self.tiers = [t["name"] for t in (doc.get("tiers") or {}).get("tiers", ())]
        self.codes = set(prog.codes)


def _needs(rule: dict) -> dict:
    """What a compiled rule (or draw) reads: the items and categories its lines must have, the stores,
    channels and segments its conditions name, whether it reads a birthday, and its trigger."""
    out: dict = {"items": [], "categories": [], "stores": None, "channels": None, "segments": [],
                 "birthday": False, "action": None, "trigger": None, "dates": []}
    for f in rule.get("line_filters", ()):
        out["items"] += f.get("items", [])
        out["categories"] += f.get("categories", [])

    def walk(expr) -> None:
        if not isinstance(expr, dict):
            return
        if expr.get("op") == "has_item":
            out["items"].append(expr["name"])
        elif expr.get("op") == "has_category":
            out["categories"].append(expr["name"])
        for arg in expr.get("args", ()):
            walk(arg)
        walk(expr.get("arg"))

    for c in rule.get("conditions", ()):
        kind = c.get("kind")
        if kind == "stores":
            out["stores"] = (out["stores"] or []) + c["names"]
        elif kind == "channels":
            out["channels"] = (out["channels"] or []) + c["names"]
        elif kind == "segments":
            out["segments"] += c["names"]
        elif kind in ("birthday", "birthday_month"):
            out["birthday"] = True
        elif kind == "dates":
            out["dates"].append((c.get("from"), c.get("to")))
        elif kind == "expr":
            walk(c.get("expr"))
    trigger = rule.get("trigger") or {}
    out["trigger"] = trigger.get("type")
    if trigger.get("type") == "action":
        out["action"] = trigger["name"]
    return out


# ------------------------------------------------------------------ the report's section


def did_you_mean(name: str, known: Iterable[str]) -> Optional[str]:
    """The known name this one most likely meant: the same ignoring case and spaces, else a near miss."""
    known = sorted(known)
    folded = {_fold(k): k for k in known}
    if _fold(name) in folded:
        return folded[_fold(name)]
    import difflib  # (here: only a name that is not known needs it)

    close = difflib.get_close_matches(_fold(name), list(folded), n=1, cutoff=0.75)
    return folded[close[0]] if close else None


def _fold(text: str) -> str:
    return " ".join(text.casefold().replace("_", " ").replace("-", " ").split())


def history_counts(result: SimResult) -> dict[tuple, int]:
    """The merged coverage counts: (field, value...) -> rows."""
    return {tuple(json.loads(key)): int(cols.get("rows", 0)) for key, cols in result.tables.get(TABLE, {}).items()}


def coverage_report(result: SimResult, prog, attributes: Optional[dict], ran: bool = True) -> dict:
    """The `coverage` section. `attributes`: member id -> MemberAttributes (empty or None: none given).
    `ran`: the result holds every member's effects (simulate, compare); explain replays one member, so
    only what the history alone shows is reported there."""
    known = Known(prog)
    counts = history_counts(result)
    unknown: list[dict] = []
    findings: list[dict] = []
    mismatches: list[dict] = []

    def tally(field: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, n in counts.items():
            if key[0] == field and key[1] is not None:
                out[key[1]] = out.get(key[1], 0) + n
        return out

    line_items: dict[str, int] = {}
    line_categories: dict[str, int] = {}  # as written in the rows
    effective_categories: dict[str, int] = {}  # the row's, else the catalog's (what the rules see)
    for key, n in counts.items():
        if key[0] != "line":
            continue
        item, cat = key[1], key[2]
        if item:
            line_items[item] = line_items.get(item, 0) + n
        if cat:
            line_categories[cat] = line_categories.get(cat, 0) + n
        seen = cat or known.items.get(item or "")
        if seen:
            effective_categories[seen] = effective_categories.get(seen, 0) + n
        if item in known.items and cat and known.items[item] and cat != known.items[item]:
            mismatches.append({"item": item, "row_category": cat, "catalog_category": known.items[item],
                               "rows": n})
    stores, channels, actions = tally("store"), tally("channel"), tally("action")
    types, codes = tally("type"), tally("code")

    def check(what: str, seen: dict[str, int], names: Iterable[str], unit: str = "rows") -> None:
        names = set(names)
        for value, n in sorted(seen.items()):
            if value not in names:
                unknown.append({"kind": what, "name": value, unit: n, "did_you_mean": did_you_mean(value, names)})

    if known.items:
        check("item", line_items, known.items)
    if known.categories:
        check("category", line_categories, known.categories)
    if known.stores:
        check("store", stores, known.stores)
    if known.channels:
        check("channel", channels, known.channels)
    check("action", actions, known.actions)
    check("code", codes, known.codes)  # a code the program does not declare gives nothing: always a finding
    attributes = attributes or {}
    if known.segments and attributes:
        members_in: dict[str, int] = {}
        for a in attributes.values():
            for s in a.segments:
                members_in[s] = members_in.get(s, 0) + 1
        check("segment", members_in, known.segments, unit="members")
    for u in unknown:
        hint = f"; did you mean {u['did_you_mean']!r}?" if u["did_you_mean"] else ""
        what = "member" if u["kind"] == "segment" else "row"
        n = u.get("rows", u.get("members"))
        whom = f"{n:,} {what}s name" if n != 1 else f"1 {what} names"
        # an attributes file often carries segments of other programs (a CRM's): only a near miss of one of
        # this program's is a warning there
        severity = "note" if u["kind"] == "segment" and not u["did_you_mean"] else "warning"
        findings.append({"severity": severity, "kind": f"unknown_{u['kind']}", "name": u["name"],
                         "message": f"{whom} the {u['kind']} {u['name']!r}, which the program does not know{hint}"})
    mismatches.sort(key=lambda m: (m["item"], m["row_category"]))
    for m in mismatches:
        findings.append({"severity": "warning", "kind": "category_mismatch", "name": m["item"],
                         "message": f"{m['rows']:,} row{'s' if m['rows'] != 1 else ''} put {m['item']!r} in category "
                                    f"{m['row_category']!r}, the catalog in {m['catalog_category']!r} "
                                    "(the row's category is used)"})
    if known.attribute_rules and not attributes:
        names = ", ".join(repr(r) for r in known.attribute_rules)
        one = len(known.attribute_rules) == 1
        findings.append({"severity": "warning", "kind": "missing_attributes", "name": None,
                         "message": f"no member attributes given (--attributes), but {names} "
                                    f"{'reads' if one else 'read'} segments or birthdays: "
                                    f"{'it never applies' if one else 'they never apply'} without them"})

    # ------------------------------------------------ what nothing reached
    unreached: list[dict] = []
    for item in sorted(known.items):
        if item not in line_items:
            unreached.append({"kind": "item", "name": item, "reason": "no rows with this item"})
    for store, region in sorted(prog.stores.items()):
        if stores and store not in stores:
            unreached.append({"kind": "store", "name": store, "reason": "no rows in this store"})
    if stores:
        regions: dict[str, int] = {}
        for store, region in prog.stores.items():
            if region:
                regions[region] = regions.get(region, 0) + stores.get(store, 0)
        for region, n in sorted(regions.items()):
            if not n:
                unreached.append({"kind": "region", "name": region, "reason": "no rows in any of its stores"})
    rule_cells = result.tables.get("rule", {})
    for rule in known.rules:
        reason, severity = _rule_reason(rule, known, attributes, line_items, effective_categories, stores,
                                        channels, actions, types, codes)
        if reason is None and not ran:
            continue
        row = rule_cells.get(rule["name"], {})
        reached = any(row.get(c, 0) for c in ("effects", "points_issued", "discount", "rewards"))
        if ran and reached:
            continue
        if reason is None:
            reason, severity = "rows matched, but its conditions never held (or gave nothing)", "note"
        unreached.append({"kind": "rule", "name": rule["name"], "line": rule["line"], "reason": reason,
                          "severity": severity})
    if ran:
        tier_cells = result.tables.get("tier", {})
        for tier in known.tiers:
            if not tier_cells.get(tier, {}).get("members_reached", 0):
                unreached.append({"kind": "tier", "name": tier, "reason": "no member reached it"})
    for u in unreached:
        u.setdefault("severity", "note")
        findings.append({"severity": u["severity"], "kind": f"unreached_{u['kind']}", "name": u["name"],
                         "message": f"{u['kind']} {u['name']!r} was never reached: {u['reason']}"})
    return {
        "unknown": unknown,
        "category_mismatches": mismatches,
        "attributes_given": bool(attributes),
        "unreached": unreached,
        "findings": findings,
        "warnings": sum(1 for f in findings if f["severity"] == "warning"),
    }


def _rule_reason(rule: dict, known: Known, attributes: dict, items: dict, categories: dict, stores: dict,
                 channels: dict, actions: dict, types: dict, codes: dict) -> tuple[Optional[str], str]:
    """Why nothing in the history can fire this rule, from the history's counts alone (None: rows can)."""
    if rule.get("code") is not None and not codes.get(rule["code"]):
        return f"no matching rows (no purchase carries code {rule['code']!r})", "warning"
    if (rule["segments"] or rule["birthday"]) and not attributes:
        what = "segment" if rule["segments"] else "birthday"
        return f"no attributes given for a {what} rule (--attributes)", "warning"
    if rule["segments"] and attributes and not any(set(a.segments) & set(rule["segments"]) for a in attributes.values()):
        return "no member in the attributes is in " + ", ".join(repr(s) for s in rule["segments"]), "warning"
    if rule["birthday"] and attributes and not any(a.birthday for a in attributes.values()):
        return "no member in the attributes has a birthday", "warning"
    trigger = rule["trigger"]
    if trigger == "action" and not actions.get(rule["action"]):
        return f"no matching rows (no custom rows named {rule['action']!r})", "warning"
    needs_type = {"signup": "signup", "nth_visit": "visit", "every_visits": "visit"}.get(trigger or "")
    if needs_type and not types.get(needs_type):
        return f"no matching rows (no {needs_type} rows)", "warning"
    if rule["items"] or rule["categories"]:
        if not any(items.get(i) for i in rule["items"]) and not any(categories.get(c) for c in rule["categories"]):
            named = ", ".join(repr(x) for x in rule["items"] + rule["categories"])
            return f"no matching rows (no order line with {named})", "warning"
    if rule["stores"] is not None and not any(stores.get(s) for s in rule["stores"]):
        return "no matching rows (no rows in " + (", ".join(repr(s) for s in rule["stores"]) or "its stores") + ")", \
            "warning"
    if rule["channels"] is not None and not any(channels.get(c) for c in rule["channels"]):
        return "no matching rows (no rows on " + ", ".join(repr(c) for c in rule["channels"]) + ")", "warning"
    return None, "note"


# ------------------------------------------------------------------ showing it


def render_coverage(coverage: dict, console, notes: bool = True) -> None:
    """The coverage section of the terminal report: warnings first, then (with `notes`) what nothing reached."""
    from loyalty.terminal import plain

    findings = coverage.get("findings", [])
    warnings = [f for f in findings if f["severity"] == "warning"]
    shown = warnings + ([f for f in findings if f["severity"] == "note"] if notes else [])
    if not shown:
        console.print(plain(("Coverage", "bold"), ": every name in the history is one the program knows, "
                            "and every rule was reached."))
        return
    console.print(plain(("Coverage", "bold"), f": {len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
                        + (" (--strict makes them errors)" if warnings else "")))
    for f in shown:
        console.print(plain("  ", (f["severity"], "yellow" if f["severity"] == "warning" else "dim"), ": ",
                            f["message"]))


def strict_problems(coverage: dict) -> list[str]:
    """The warnings `--strict` turns into errors."""
    return [f["message"] for f in coverage.get("findings", []) if f["severity"] == "warning"]
