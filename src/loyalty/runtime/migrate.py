"""Carrying a member's state from one version of a program to another, by name (docs/embedding.md,
"Changing a live program").

A saved state refers to the program's parts by position (point kind 0, rule 3, tier 1). A new version may
add, remove, reorder or change them, so `migrate_doc` rewrites the state's JSON form (`state_to_doc`) part
by part, matching each by name, and says for each part whether it was **carried** unchanged, **re-evaluated**
under the new rules (by the policy written next to it here and in the docs) or **dropped**. The result is
then loaded like any saved state (shape, `check_state`), so a migrated state is one the new program can run.

What cannot be carried safely is refused with `MigrationError` before anything is built: another currency
or minor-unit exponent (every amount in the state would change meaning) or another time zone (saved times
are program-local wall times). Points are never created by a migration; they are destroyed only when their
point kind is gone from the new program, and the report names them (`MemberReport.points`); `Program.migrate`
refuses that unless the caller allows it.
"""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.program import CompiledProgram

CARRIED, RE_EVALUATED, DROPPED = "carried", "re-evaluated", "dropped"
OUTCOMES = (CARRIED, RE_EVALUATED, DROPPED)
# the kinds of state a report counts, in the order they are reported
PARTS = ("point kind", "pending points", "inactivity deadline", "punch card", "goal counter", "cap", "tier",
         "tier review", "tier metric", "paid tier", "reward held", "offer held", "win-back lapse", "goal progress",
         "referral", "order record")


class MigrationError(ValueError):
    """A state cannot be carried to the new program safely; nothing was migrated. `reason` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class MemberReport:
    """What the migration did to one member's state: `items` are (part, name, outcome, detail) and
    `points` per point kind name {"before", "after", "destroyed", "debt_forgiven"} (balance + pending)."""

    __slots__ = ("member_id", "items", "points")

    def __init__(self, member_id: str):
        self.member_id = member_id
        self.items: list[tuple[str, str, str, str]] = []
        self.points: dict[str, dict[str, int]] = {}

    def add(self, part: str, name: str, outcome: str, detail: str = "") -> None:
        self.items.append((part, name, outcome, detail))

    @property
    def points_destroyed(self) -> int:
        return sum(p["destroyed"] for p in self.points.values())

    @property
    def points_created(self) -> int:
        """Always 0 (a debt forgiven is reported apart): kept as a figure so that the invariant is visible."""
        return sum(max(0, p["after"] - p["before"]) for p in self.points.values())

    def changed(self) -> bool:
        return any(outcome != CARRIED for _, _, outcome, _ in self.items)

    def to_json(self) -> dict:
        out: dict = {"member_id": self.member_id}
        for outcome in OUTCOMES:
            out[outcome.replace("-", "_")] = [{"part": p, "name": n, "detail": d}
                                               for p, n, o, d in self.items if o == outcome]
        out["points"] = {k: dict(v) for k, v in sorted(self.points.items())}
        return out


class MigrationTotals:
    """Members' reports added up: per part and outcome a count, per point kind the points."""

    __slots__ = ("members", "members_changed", "parts", "points")

    def __init__(self):
        self.members = 0
        self.members_changed = 0
        self.parts: dict[str, dict[str, int]] = {p: dict.fromkeys(OUTCOMES, 0) for p in PARTS}
        self.points: dict[str, dict[str, int]] = {}

    def add(self, report: MemberReport) -> None:
        self.members += 1
        self.members_changed += report.changed()
        for part, _, outcome, _ in report.items:
            self.parts[part][outcome] += 1
        for kind, figures in report.points.items():
            mine = self.points.setdefault(kind, {"before": 0, "after": 0, "destroyed": 0, "debt_forgiven": 0})
            for k, v in figures.items():
                mine[k] += v

    def to_json(self) -> dict:
        return {
            "members": self.members,
            "members_changed": self.members_changed,
            "parts": {p: {o.replace("-", "_"): n for o, n in c.items()} for p, c in self.parts.items()},
            "points": {k: dict(v) for k, v in sorted(self.points.items())},
            "points_created": sum(max(0, v["after"] - v["before"]) for v in self.points.values()),
            "points_destroyed": sum(v["destroyed"] for v in self.points.values()),
        }


# ---------------------------------------------------------------- what the two programs have in common


def check_compatible(old: CompiledProgram, new: CompiledProgram) -> None:
    """Refuse a pair of programs whose states cannot be carried at all."""
    if old.currency != new.currency or old.exponent != new.exponent:
        raise MigrationError(f"the currency changes ({old.currency} with {old.exponent} decimals -> {new.currency} "
                             f"with {new.exponent}): every amount in a saved state would change meaning; start the "
                             "members again, or convert their balances yourself")
    if old.timezone != new.timezone:
        raise MigrationError(f"the time zone changes ({old.timezone} -> {new.timezone}): saved times are "
                             "program-local wall times and would move; keep the time zone")


def _bare(d):
    """A declaration's compiled form without its source position (what it means)."""
    return {k: v for k, v in d.items() if k != "span"} if isinstance(d, dict) else d


class _Mapping:
    """Index of each old part in the new program, by name (None: gone)."""

    def __init__(self, old: CompiledProgram, new: CompiledProgram):
        self.old, self.new = old, new
        new_rules = {r.name: r.index for r in new.rules}
        self.rule = [new_rules.get(r.name) for r in old.rules]
        self.kind = [new.kind_index.get(k.name) for k in old.kinds]
        new_tiers = new.tiers.names if new.tiers else {}
        self.tier = [new_tiers.get(t.name) for t in (old.tiers.tiers if old.tiers else ())]
        self.old_rule_doc = [_bare(r) for r in old.doc.get("rules", ())]
        self.new_rule_doc = [_bare(r) for r in new.doc.get("rules", ())]

    def source(self, key: int) -> Optional[int]:
        """An old order-record or batch key (a rule's own points, or a multiplier source's: `extra_key`) in
        the new program, or None when its rule, tier or multiplier is gone."""
        old, new = self.old, self.new
        n = len(old.rules)
        if key < 0:
            return None
        if key < n:
            return self.rule[key]
        base, block = key % n, key // n - 1
        nb = self.rule[base]
        if nb is None:
            return None
        nt = len(old.tiers.tiers) if old.tiers else 0
        if block < nt:
            t = self.tier[block]
            k = None if t is None else new.extra_key(nb, tier=t)
        else:
            m = self.rule[block - nt]
            k = None if m is None else new.extra_key(nb, rule=m)
        return k if k is not None and k in new.sources else None

    def same_rule(self, i: int, keys: tuple) -> bool:
        """Whether old rule i and its namesake agree on the compiled fields `keys` (a dotted `action.x`
        names a field of the action)."""
        a, b = self.old_rule_doc[i], self.new_rule_doc[self.rule[i]]
        for key in keys:
            if key.startswith("action."):
                f = key[7:]
                if a["action"].get(f) != b["action"].get(f):
                    return False
            elif a.get(key) != b.get(key):
                return False
        return True


def _metric_def(prog: CompiledProgram, i: int) -> tuple:
    m = prog.doc["metrics"][i]
    return m["kind"], m.get("point_kind"), _bare(m.get("window") or {"kind": "lifetime"})


def _tiers_def(prog: CompiledProgram):
    t = prog.doc.get("tiers")
    if not t:
        return None
    body = _bare(t)
    body["tiers"] = [_bare(x) for x in body.get("tiers", ())]
    body["metric"] = _metric_def(prog, t["metric"])
    return body


# ---------------------------------------------------------------- the migration of one state


def migrate_doc(old: CompiledProgram, new: CompiledProgram, doc: dict) -> tuple[dict, MemberReport, Optional[str]]:
    """The state document `doc` (of `old`) as a state document of `new`, the report, and the name of the tier
    the member held under `old` when the tier must be re-evaluated once the state is loaded (`settle_tier`;
    None: the tier was carried or dropped here)."""
    check_compatible(old, new)
    m = _Mapping(old, new)
    rep = MemberReport(doc["member_id"])
    out = {k: doc[k] for k in ("format", "member_id", "attributes", "clock", "seen", "visits", "purchases", "spend")}
    out["program"] = new.identity
    _kinds(m, doc, out, rep)
    _rule_counters(m, doc, out, rep)
    _caps(m, doc, out, rep)
    _rewards(m, doc, out, rep)
    _engagement(m, doc, out, rep)
    if doc.get("codes"):  # a code used stays used (by its text: a code the new program declares again counts)
        out["codes"] = list(doc["codes"])
    _orders(m, doc, out, rep)
    pending_tier = _metrics_and_tier(m, doc, out, rep)
    return out, rep, pending_tier


def _kinds(m: _Mapping, doc: dict, out: dict, rep: MemberReport) -> None:
    """Point kinds by name: batches keep their moments, expiry and amounts (points keep the terms they were
    earned under; the new kind's expiry and pending period apply to points earned from now on); the rule a
    batch is credited to follows its name (-1 when gone). A kind that is gone takes its points with it."""
    old, new = m.old, m.new
    kinds = [None] * len(new.kinds)
    for i, kd in enumerate(doc["kinds"]):
        name = old.kinds[i].name
        held = sum(b["amount"] for b in kd["batches"]) - kd["debt"]
        pending = sum(b["amount"] for b in kd["batches"] if b["available_at"] is not None)
        j = m.kind[i]
        if j is None:
            lost = sum(b["amount"] for b in kd["batches"])
            rep.points[name] = {"before": held, "after": 0, "destroyed": lost, "debt_forgiven": kd["debt"]}
            rep.add("point kind", name, DROPPED, f"not in the new program: {lost} points destroyed"
                    + (f", a debt of {kd['debt']} forgiven" if kd["debt"] else ""))
            continue
        batches = []
        for b in kd["batches"]:
            r = m.source(b["rule"])
            batches.append({**b, "rule": -1 if r is None else r})
        nk = {**kd, "batches": batches}
        rep.points[name] = {"before": held, "after": held, "destroyed": 0, "debt_forgiven": 0}
        rep.add("point kind", name, CARRIED, f"{held - pending} available, {pending} pending")
        if pending:
            rep.add("pending points", name, CARRIED, f"{pending} points, maturing when they were due")
        ok, nk_ = old.kinds[i], new.kinds[j]
        if kd["inactivity_deadline"] is not None:
            if nk_.expiry == "inactivity":
                same = (ok.expiry_amount, ok.expiry_unit) == (nk_.expiry_amount, nk_.expiry_unit)
                rep.add("inactivity deadline", name, CARRIED,
                        "" if same else "set under the old period; the new one applies from the next purchase")
            else:
                nk["inactivity_deadline"] = None
                rep.add("inactivity deadline", name, DROPPED, "the new program has no expiry by inactivity")
        elif nk_.expiry == "inactivity" and ok.expiry != "inactivity" and held > 0:
            rep.add("inactivity deadline", name, RE_EVALUATED, "starts at the member's next purchase")
        kinds[j] = nk
    for j, k in enumerate(kinds):
        if k is None:
            kinds[j] = {"batches": [], "debt": 0, "earned": 0, "redeemed": 0, "expired": 0, "clawed": 0,
                        "inactivity_deadline": None}
    out["kinds"] = kinds


def _rule_counters(m: _Mapping, doc: dict, out: dict, rep: MemberReport) -> None:
    """Punch cards, counting triggers' counters and `after every X spent` firings, by rule name.

    - A punch card whose cycle, free units and line filters are unchanged keeps its count; otherwise the
      member keeps the progress on the current card (units since the last full card), at most up to the new
      card's first free unit, and starts the new card with no free unit given.
    - A rule's own counter (a counting trigger with conditions or filters) is kept when its trigger, filters
      and conditions are unchanged, else dropped (it counted other events).
    - `after every X spent` keeps its firings when X is unchanged; otherwise they are re-evaluated as the
      multiples of the new X already reached, so no firing is given for spend made before the change."""
    old, new = m.old, m.new
    punches, fired, counts = {}, {}, {}
    old_p, old_f, old_c = ({int(k): v for k, v in doc[f].items()} for f in ("punches", "fired", "counts"))
    for i, r in enumerate(old.rules):
        j = m.rule[i]
        touched = i in old_p or i in old_f or i in old_c
        if not touched:
            continue
        if j is None:
            rep.add("punch card" if r.action == "punch" else "goal counter", r.name, DROPPED, "rule not in the new program")
            continue
        nr = new.rules[j]
        if r.action == "punch":
            if nr.action != "punch":
                rep.add("punch card", r.name, DROPPED, "the rule is no longer a punch card")
                continue
            c, given = old_p.get(i, 0), old_f.get(i, 0)
            if m.same_rule(i, ("action.cycle", "action.free", "line_filters")):
                # carried as they are: a card with punches but no free unit given yet has no `fired` entry
                if i in old_p:
                    punches[j] = c
                if i in old_f:
                    fired[j] = given
                rep.add("punch card", r.name, CARRIED, f"{c % r.cycle} of {r.cycle}")
            else:
                progress = min(c % r.cycle, nr.cycle - nr.free)
                punches[j], fired[j] = progress, 0
                rep.add("punch card", r.name, RE_EVALUATED,
                        f"{c % r.cycle} of {r.cycle} -> {progress} of {nr.cycle} (the card changed)")
            continue
        if i in old_c:
            if nr.counted and m.same_rule(i, ("trigger", "line_filters", "conditions")):
                counts[j] = old_c[i]
                rep.add("goal counter", r.name, CARRIED, f"{old_c[i]} counted")
            else:
                rep.add("goal counter", r.name, DROPPED, "what the rule counts changed: counting starts again")
                counts.pop(j, None)
        if i in old_f:
            if nr.trigger != "every_spend" or r.trigger != "every_spend":
                rep.add("goal counter", r.name, DROPPED, "the rule no longer fires after every amount spent")
            elif m.same_rule(i, ("trigger",)) and (j in counts or not nr.counted):
                fired[j] = old_f[i]
                rep.add("goal counter", r.name, CARRIED, f"fired {old_f[i]} times")
            else:
                base = counts.get(j, 0) if nr.counted else doc["spend"]
                fired[j] = max(0, base) // nr.trigger_n
                rep.add("goal counter", r.name, RE_EVALUATED,
                        f"fired {old_f[i]} times -> {fired[j]} (the multiples of the new amount already reached)")
    out["punches"] = {str(k): v for k, v in sorted(punches.items())}
    out["fired"] = {str(k): v for k, v in sorted(fired.items())}
    out["counts"] = {str(k): v for k, v in sorted(counts.items())}


def _cap_shape(prog: CompiledProgram) -> dict:
    """scope -> the (unit, period) of its limits: a counter means the same where these agree."""
    shape: dict = {}
    for r in prog.rules:
        for c in r.limits:
            shape.setdefault(c.scope, set()).add((c.unit, c.period))
    return shape


def _caps(m: _Mapping, doc: dict, out: dict, rep: MemberReport) -> None:
    """A cap's usage is kept when the new program has the same cap scope (`rule:<name>`, `campaign:<name>`)
    counting in the same unit and period; a changed amount applies to what is left. Otherwise dropped."""
    old_shape, new_shape = _cap_shape(m.old), _cap_shape(m.new)
    caps = {}
    for scope, (key, used) in doc["caps"].items():
        if scope in new_shape and new_shape[scope] == old_shape.get(scope):
            caps[scope] = [key, used]
            rep.add("cap", scope, CARRIED, f"{used} used in {key}")
        else:
            rep.add("cap", scope, DROPPED, "gone, or counting in another unit or period")
    out["caps"] = caps


def _rewards(m: _Mapping, doc: dict, out: dict, rep: MemberReport) -> None:
    rewards = {}
    for name, n in doc["rewards"].items():
        if name in m.new.rewards:
            rewards[name] = n
            if n:
                rep.add("reward held", name, CARRIED, str(n))
        elif n:
            rep.add("reward held", name, DROPPED, f"{n} held; the reward is not in the new program")
    out["rewards"] = rewards


def _engagement(m: _Mapping, doc: dict, out: dict, rep: MemberReport) -> None:
    """Offers held and win-back lapses, by name, and the day the member joined (a fact about her, kept).

    - An offer held keeps its end (it was given under the old terms) while its reward is an offer in the new
      program; the rule that gave it follows its name (-1 when gone: a return no longer takes it back). An
      offer whose reward has no lifetime any more stays given (it was counted when given) and never lapses;
      one whose reward is gone is dropped.
    - A win-back lapse is kept while the rule of its name is still a win-back; like the points' inactivity
      deadline, a changed duration applies from the member's next purchase. A new win-back rule starts its
      lapse at the member's next purchase."""
    old, new = m.old, m.new
    offers = []
    for name, end, ri in doc.get("offers", ()):
        if name in new.rewards and new.rewards[name].is_offer:
            nri = m.rule[ri] if 0 <= ri < len(m.rule) else None
            offers.append([name, end, -1 if nri is None else nri])
            rep.add("offer held", name, CARRIED, f"until {end}")
        elif name in new.rewards:  # no longer an offer: given (as it was counted), no longer waiting to lapse
            rep.add("offer held", name, RE_EVALUATED, "the reward has no lifetime in the new program: it stays "
                    "given and never lapses")
        else:
            rep.add("offer held", name, DROPPED, "the reward is not in the new program")
    if offers:
        out["offers"] = offers
    lapses = {}
    for key, deadline in doc.get("lapses", {}).items():
        i = int(key)
        r = old.rules[i]
        j = m.rule[i]
        if j is None or new.rules[j].trigger != "inactivity":
            rep.add("win-back lapse", r.name, DROPPED, "the rule is no longer a win-back")
            continue
        lapses[str(j)] = deadline
        same = r.trigger_doc == new.rules[j].trigger_doc
        rep.add("win-back lapse", r.name, CARRIED,
                f"due {deadline}" if same else f"due {deadline}, set under the old duration; the new one applies "
                "from the next purchase")
    was_winback = {r.name for r in old.rules if r.trigger == "inactivity"}  # a fired lapse waits for a purchase
    if doc["purchases"]:
        for r in new.rules:
            if r.trigger == "inactivity" and r.name not in was_winback:
                rep.add("win-back lapse", r.name, RE_EVALUATED, "starts at the member's next purchase")
    if lapses:
        out["lapses"] = lapses
    if doc.get("joined") is not None:
        out["joined"] = doc["joined"]
    if doc.get("enrolled") is not None:  # when she signed up: a fact about her, kept
        out["enrolled"] = doc["enrolled"]
    paid = doc.get("paid")
    if paid is not None:  # a paid period (mechanics/fees.py): bought, so kept while its tier is still for sale
        name = old.tiers.tiers[paid["tier"]].name
        j = new.tiers.names.get(name) if new.tiers else None
        if j is not None and new.tiers.tiers[j].fee is not None:
            earned = m.tier[paid["earned"]] if paid["earned"] >= 0 else -1
            out["paid"] = {"tier": j, "until": paid["until"], "earned": -1 if earned is None else earned}
            rep.add("paid tier", name, CARRIED, f"until {paid['until']}")
        else:
            rep.add("paid tier", name, DROPPED, "the tier has no fee in the new program: the paid period ends")
    goals = {}
    for key, progress in (doc.get("goals") or {}).items():  # goal and streak progress, by rule name
        i = int(key)
        j = m.rule[i]
        if j is not None and old.rules[i].trigger_doc == new.rules[j].trigger_doc and \
                m.same_rule(i, ("line_filters", "conditions")):
            goals[str(j)] = progress
            rep.add("goal progress", old.rules[i].name, CARRIED)
        else:
            rep.add("goal progress", old.rules[i].name, DROPPED, "the goal or what it counts changed: counting "
                    "starts again")
    if goals:
        out["goals"] = goals
    referral = doc.get("referral")
    if referral is not None:  # who referred her and when are facts; the rules still waiting follow their names
        still = []
        for i in referral["open"]:
            j = m.rule[i]
            if j is not None and new.rules[j].trigger in ("referring_purchase", "referred_purchase"):
                still.append(j)
            else:
                rep.add("referral", old.rules[i].name, DROPPED, "the rule no longer waits for a qualifying purchase")
        out["referral"] = {**referral, "open": still}
        if still:
            rep.add("referral", f"referred by {referral['by']}", CARRIED,
                    f"{len(still)} rule(s) still waiting for her qualifying purchase")


def _orders(m: _Mapping, doc: dict, out: dict, rep: MemberReport) -> None:
    """Each order's record, for later returns: what a rule (or multiplier source) earned on it follows the
    rule's name; what a rule that is gone earned is no longer taken back by a return. A rule whose counter was
    not carried (above) no longer lowers it on a return."""
    carried_counts = {int(k) for k in out["counts"]}
    lost_rules = 0
    orders = {}
    for oid, o in doc["orders"].items():
        def keyed(d: dict) -> dict:
            """Keys that are rule indexes or multiplier sources' keys (`_Mapping.source` maps both)."""
            nonlocal lost_rules
            res = {}
            for k, v in d.items():
                nk = m.source(int(k))
                if nk is None:
                    lost_rules += 1
                else:
                    res[str(nk)] = v
            return res

        counted = {k: v for k, v in keyed(o["counted"]).items() if int(k) in carried_counts}
        rewards = [[m.rule[ri], name] for ri, name in o["rewards"]
                   if m.rule[ri] is not None and name in m.new.rewards]
        orders[oid] = {**o, "points": keyed(o["points"]), "clawed": keyed(o["clawed"]),
                       "punches": keyed(o["punches"]), "punches_back": keyed(o["punches_back"]),
                       "items": keyed(o["items"]), "counted": counted, "rewards": rewards}
    if orders:
        rep.add("order record", f"{len(orders)} orders", RE_EVALUATED if lost_rules else CARRIED,
                f"{lost_rules} entries of rules not in the new program left out" if lost_rules else "")
    out["orders"] = orders


def _metrics_and_tier(m: _Mapping, doc: dict, out: dict, rep: MemberReport) -> Optional[str]:
    """Tier metrics by what they measure; the tier by name. A metric measuring the same thing (spend, visits,
    a kind's points earned) keeps its contributions; a windowed one feeds a lifetime one its sum; a new
    lifetime spend or visits metric starts from the member's lifetime spend or visits; anything else starts
    empty. The tier policy is in `settle_tier`."""
    old, new = m.old, m.new
    old_defs = [_metric_def(old, i) for i in range(len(old.metrics))]
    metrics = []
    for j in range(len(new.metrics)):
        kind, pk, window = nd = _metric_def(new, j)
        name = f"{kind} of {pk}" if pk else kind
        name += f" ({window['kind']})"
        exact = [i for i, d in enumerate(old_defs) if d == nd]
        alike = [i for i, d in enumerate(old_defs) if d[:2] == nd[:2] and d[2]["kind"] != "lifetime"]
        if exact:
            metrics.append(doc["metrics"][exact[0]])
            rep.add("tier metric", name, CARRIED)
        elif alike:
            entries = doc["metrics"][alike[0]]
            if window["kind"] == "lifetime":
                entries = [[entries[0][0], sum(v for _, v in entries)]] if entries else []
            metrics.append(entries)
            rep.add("tier metric", name, RE_EVALUATED, "the same contributions, over the new window")
        elif window["kind"] == "lifetime" and kind in ("spend", "visits") and doc[kind] and doc["clock"]:
            metrics.append([[doc["clock"], doc[kind]]])
            rep.add("tier metric", name, RE_EVALUATED, f"from the member's lifetime {kind}")
        else:
            metrics.append([])
            if doc["clock"] is not None:
                rep.add("tier metric", name, DROPPED, "nothing in the old state measures it: starts empty")
    out["metrics"] = metrics
    old_tier = old.tiers.tiers[doc["tier"]].name if old.tiers and doc["tier"] >= 0 else None
    out["next_review"], out["grace_until"], out["grace_target"] = None, None, -1
    if new.tiers is None:
        out["tier"] = -1
        if old_tier is not None:
            rep.add("tier", old_tier, DROPPED, "the new program has no tiers")
        return None
    if _tiers_def(old) == _tiers_def(new) and (old_tier is None or old_tier in new.tiers.names):
        out["tier"] = new.tiers.names[old_tier] if old_tier is not None else -1
        out["next_review"] = doc["next_review"]
        out["grace_until"] = doc["grace_until"]
        # (kept after a grace period ends too, as the state keeps it: migrating to the same program changes nothing)
        out["grace_target"] = m.tier[doc["grace_target"]] if doc["grace_target"] >= 0 else -1
        if old_tier is not None:
            rep.add("tier", old_tier, CARRIED)
        if doc["next_review"] is not None:
            rep.add("tier review", old_tier or "", CARRIED, doc["next_review"])
        return None
    out["tier"] = new.tiers.names.get(old_tier, -1) if old_tier is not None else -1
    if doc["next_review"] is not None or doc["grace_until"] is not None:
        rep.add("tier review", old_tier or "", RE_EVALUATED, "the tier rules changed: the new program's review "
                "calendar starts at the member's next event")
    return old_tier if old_tier is not None else ""


def migrate_state(old: CompiledProgram, new: CompiledProgram, st):
    """An evaluator state (`runtime/state.MemberState`) of `old` as one of `new`, and the report. The migrated
    document is loaded as a saved state is (its shape, then `check_state`), so the new program can run it."""
    from loyalty.runtime.state import state_from_doc, state_to_doc
    from loyalty.runtime.state_check import StateProblem, check_state
    from loyalty.runtime.state_doc import StateDoc

    doc, rep, old_tier = migrate_doc(old, new, state_to_doc(st, old.identity, old))
    try:
        sdoc = StateDoc.model_validate(doc)
        check_state(sdoc, new)
    except (ValueError, StateProblem) as err:  # a bug in the migration, never the caller's: said plainly
        raise MigrationError(f"the migrated state of member {st.member_id!r} does not load: {err}") from None
    out = state_from_doc(sdoc, [m.window == "lifetime" for m in new.metrics], new.late_window is not None)
    settle_tier(new, out, old_tier, rep)
    return out, rep


def settle_tier(new: CompiledProgram, st, old_tier: Optional[str], rep: MemberReport) -> None:
    """The tier under changed tier rules: the tier of the same name when the new program has it, raised to
    the tier the new metric qualifies for at the member's clock; a member never loses a tier by a migration
    (the new program's reviews, returns and downgrades apply from then on). A tier that is gone gives way to
    the tier the metric qualifies for."""
    if old_tier is None:
        return
    from loyalty.runtime.mechanics.metrics import metric_value

    tiers = new.tiers
    value = metric_value(new, st, tiers.metric, st.clock) if st.clock is not None else 0
    q = tiers.qualified(value)
    kept = st.tier
    st.tier = max(kept, q)
    name = tiers.tiers[st.tier].name if st.tier >= 0 else "none"
    if old_tier == "" and st.tier < 0:
        return
    if kept < 0:
        detail = f"{old_tier or 'none'} is not in the new program: {name}, by the metric ({value})"
    elif st.tier == kept:
        detail = f"kept: the tier rules changed and the metric ({value}) does not qualify for a higher tier"
    else:
        detail = f"{old_tier} -> {name}: the metric ({value}) qualifies for it under the new tier rules"
    rep.add("tier", old_tier or name, RE_EVALUATED, detail)


def program_changes(old: CompiledProgram, new: CompiledProgram) -> list[dict]:
    """What changes between the two programs, as far as saved states are concerned: each point kind, rule,
    tier, reward and cap scope that is kept, changed, gone or new ({"part", "name", "change"}). Raises
    `MigrationError` for programs whose states cannot be carried at all."""
    check_compatible(old, new)
    out = []

    def diff(part: str, before: dict, after: dict) -> None:
        for name in sorted(set(before) | set(after)):
            if name not in after:
                change = "gone"
            elif name not in before:
                change = "new"
            else:
                change = "kept" if before[name] == after[name] else "changed"
            out.append({"part": part, "name": name, "change": change})

    diff("point kind", {k["name"]: _bare(k) for k in old.doc["point_kinds"]},
         {k["name"]: _bare(k) for k in new.doc["point_kinds"]})
    diff("rule", {r["name"]: _bare(r) for r in old.doc.get("rules", ())},
         {r["name"]: _bare(r) for r in new.doc.get("rules", ())})
    def tiers(prog) -> tuple[dict, dict]:
        t = _tiers_def(prog)
        if t is None:
            return {}, {}
        return ({x["name"]: x for x in t["tiers"]},
                {"metric and reviews": {k: v for k, v in t.items() if k != "tiers"}})

    (old_tiers, old_rules), (new_tiers, new_rules) = tiers(old), tiers(new)
    diff("tier", old_tiers, new_tiers)
    diff("tier rules", old_rules, new_rules)
    diff("reward", {n: _bare(r) for n, r in old.doc.get("rewards", {}).items()},
         {n: _bare(r) for n, r in new.doc.get("rewards", {}).items()})
    diff("cap", {s: sorted(v) for s, v in _cap_shape(old).items()}, {s: sorted(v) for s, v in _cap_shape(new).items()})
    diff("window", {k.replace("_", " "): v for k, v in (old.doc.get("windows") or {}).items()},
         {k.replace("_", " "): v for k, v in (new.doc.get("windows") or {}).items()})
    return out
