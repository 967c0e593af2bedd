"""Two-sided referral in a simulation: the pass over the whole history before the members replay.

A referral couples two members: the new member's purchase decides the referrer's reward. The replay is one
member at a time (and members may be split across processes), so before it, one pass over the history finds,
for each `referral` row naming a new member (its `item` column), the events the two sides' replays need:
the new member is `referred` at the referral's moment, and the referrer gets a `referral_qualified` event at
the moment the new member's purchases qualify each of the referrer's rules (`mechanics/referral.py`,
`qualifying_times`, asking the same `qualifies` as her own replay). The result is plain data on the
simulation plan, the same for every part of a split run, so the parts still merge to the one-run figures
(docs/semantics.md, "Referral")."""

from __future__ import annotations

import datetime as _dt
from typing import Optional, Sequence

from loyalty.runtime.internal import Ev
from loyalty.runtime.mechanics.referral import REFERRING_PURCHASE, TRIGGERS, qualifying_times, window_end
from loyalty.simulate.history import micros_to_datetime
from loyalty.simulate.orders import EventBuilder, MemberEvents

# the kinds of the events this pass adds to a member's replay (not rows of the history)
ADDED = ("referred", "referral_qualified")
_ORDER = {"referred": 0, "referral_qualified": 2}  # before the member's own events at one moment / after them


def uses_referrals(prog) -> bool:
    return any(r.trigger in TRIGGERS for r in prog.rules)


def referral_events(prog, history) -> dict[str, tuple[Ev, ...]]:
    """member -> the events the referral pass adds to her replay, in time order. A new member is referred once:
    by the earliest referral naming her (ties: by row)."""
    if not uses_referrals(prog) or not len(history):
        return {}
    first = _first_referrals(history)
    if not first:
        return {}
    # only the new members' rows are grouped into events (the same events: grouping is per member)
    friends = history.select_members(first)
    slices = {m: (s, e) for m, s, e in friends.member_slices()}
    purchases = _Purchases(friends, prog.catalog)
    # what any rule's window can reach: qualifying_times stops at the first purchase past its rule's window
    windows = [r for r in prog.rules if r.trigger == REFERRING_PURCHASE]
    added: dict[str, list] = {}
    asked = []  # (friend, referrer, her rows, since, until) of each new member with rows of her own
    for friend in sorted(first):
        us, _, referrer, _ = first[friend]
        since = purchases.time(us)
        added.setdefault(friend, []).append(Ev("referred", f"referred:{referrer}", since, name=referrer))
        span = slices.get(friend)
        if span is None:  # named by a referral, but no rows of her own: nothing of hers to replay or qualify
            continue
        asked.append((friend, referrer, span, since, max((window_end(r, since) for r in windows), default=since)))
    # (a referrer's `referral_qualified` events after every `referred` one: the sort below puts them in place)
    for (friend, referrer, _, since, _), bought in zip(asked, purchases.within_all(asked)):
        for t, rule in qualifying_times(prog, since, bought):
            added.setdefault(referrer, []).append(
                Ev("referral_qualified", f"referral_qualified:{friend}:{rule.name}", t, name=rule.name))
    return {m: tuple(sorted(evs, key=lambda e: (e.time, _ORDER[e.type]))) for m, evs in added.items()}


def _first_referrals(history) -> dict[str, tuple]:
    """new member -> (time, row, referrer, position) of the earliest `referral` row naming her (ties: by row),
    looking only at the referral rows (found by their codes, not row by row)."""
    import numpy as np

    from loyalty.simulate.columns import numbers

    kind, kinds = history.dictionary_codes("type")
    if "referral" not in kinds:
        return {}
    item = history.code_array("item")
    at = np.flatnonzero((kind == kinds.index("referral")) & (item >= 0))
    if not len(at):
        return {}
    micros = numbers(history.table.column("time"))[at].tolist()
    rows = numbers(history.table.column("row"))[at].tolist()
    members = history.values_of("member", history.code_array("member")[at])
    items = history.values_of("item", item[at])
    first: dict[str, tuple] = {}  # new member -> (time, row, referrer, position)
    for n, i in enumerate(at.tolist()):
        key = (micros[n], rows[n], members[n], i)
        got = first.get(items[n])
        if got is None or key < got:
            first[items[n]] = key
    return first


class _Purchases:
    """A member's purchases as `qualifying_times` reads them, (time, gross) in time order: each purchase event's
    first row's time and the sum of its rows' amounts, as `EventBuilder.member` makes its events and totals.
    Taken from the whole history's events at once (`History.event_index`); a member whose rows are grouped by
    key (irregular) goes through `EventBuilder` itself."""

    def __init__(self, history, catalog):
        import numpy as np

        from loyalty.simulate.columns import numbers

        self.history, self.catalog = history, catalog
        starts, self.irregular = history.event_index()
        self.starts = np.asarray(starts, dtype=np.int64)
        kind, kinds = history.dictionary_codes("type")
        self.micros = numbers(history.table.column("time"))
        purchase = kinds.index("purchase") if "purchase" in kinds else -2
        self.purchase = kind[self.starts] == purchase
        self.gross = np.add.reduceat(numbers(history.table.column("amount")), self.starts)
        self.at = self.micros[self.starts]
        self._times: dict[int, _dt.datetime] = {}
        self._builder: Optional[EventBuilder] = None

    def time(self, us: int) -> _dt.datetime:
        t = self._times.get(us)
        if t is None:
            t = self._times[us] = micros_to_datetime(us)
        return t

    def within_all(self, asked) -> list:
        """Per (member, _, (start, end), since, until) of `asked`: the purchases of the member whose rows are
        [start, end) from `since` on (the earlier ones `qualifying_times` skips: before the referral), up to the
        first one after `until` (where it stops). All members at once (~30 µs a member one by one); one whose
        rows are grouped by key (irregular) through `EventBuilder`."""
        import numpy as np

        n = len(asked)
        if not n:
            return []
        rows = np.array([span for _, _, span, _, _ in asked], dtype=np.int64).reshape(n, 2)
        lo = np.array([_micros(since) for _, _, _, since, _ in asked], dtype=np.int64)
        hi = np.array([_micros(until) for _, _, _, _, until in asked], dtype=np.int64)
        a, b = np.searchsorted(self.starts, rows[:, 0]), np.searchsorted(self.starts, rows[:, 1])
        # every member's events [a, b) in a row, each with its member's position in `asked`
        lengths = b - a
        owner = np.repeat(np.arange(n), lengths)
        ev = np.repeat(a - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths) + np.arange(int(lengths.sum()))
        keep = self.purchase[ev] & (self.at[ev] >= lo[owner])
        ev, owner = ev[keep], owner[keep]
        # up to the first past `until`: those with no earlier one of the member's past it
        past = self.at[ev] > hi[owner]
        earlier = np.cumsum(past) - past
        keep = earlier == earlier[np.searchsorted(owner, owner)]  # (as at the member's first: none before)
        ev, owner = ev[keep], owner[keep]
        ends = np.cumsum(np.bincount(owner, minlength=n)).tolist()
        # (as `time` makes them, micros_to_datetime: numpy's datetime64[us] gives the same naive datetimes at once)
        bought = list(zip(self.at[ev].astype("datetime64[us]").tolist(), self.gross[ev].tolist()))
        out = []
        for (member, _, (start, end), since, until), lo_i, hi_i in zip(asked, [0] + ends[:-1], ends):
            out.append(self._irregular(start, end, since, until) if member in self.irregular else bought[lo_i:hi_i])
        return out

    def _irregular(self, start: int, end: int, since: _dt.datetime, until: _dt.datetime) -> list:
        """`within_all` for a member whose rows are grouped by key: her events as `EventBuilder` makes them."""
        if self._builder is None:
            self._builder = EventBuilder(self.history, self.catalog)
        events = self._builder.member(start, end)
        purchases = [(ev.time, total) for ev, kind, total in zip(events.evs, events.kinds, events.totals)
                     if kind == "purchase" and ev.time >= since]
        past = [n for n, (t, _) in enumerate(purchases) if t > until]
        return purchases[:past[0] + 1] if past else purchases


def _micros(t: _dt.datetime) -> int:
    """A naive wall time as the history's time column holds it (add_to_rows converts the same way)."""
    return (t - _EPOCH) // _dt.timedelta(microseconds=1)


_EPOCH = _dt.datetime(1970, 1, 1)


def with_referrals(events: MemberEvents, added: Optional[Sequence[Ev]]) -> MemberEvents:
    """The member's events with the referral pass's merged in by time: `referred` before her own events of the
    same moment, `referral_qualified` after them. An added event has no rows (its group is empty)."""
    if not added:
        return events
    stores = events.stores or [""] * len(events.evs)
    tagged = [((ev.time, 1, n), ev, kind, total, group, store) for n, (ev, kind, total, group, store)
              in enumerate(zip(events.evs, events.kinds, events.totals, events.groups, stores))]
    tagged += [((ev.time, _ORDER[ev.type], n), ev, ev.type, 0, (), "") for n, ev in enumerate(added)]
    tagged.sort(key=lambda x: x[0])
    # each event's store stays with it (the by-store table), an added event has none
    return MemberEvents([x[1] for x in tagged], [x[2] for x in tagged], [x[3] for x in tagged],
                        [x[4] for x in tagged], [x[5] for x in tagged] if events.stores else ())


def member_with_referrals(plan, builder: EventBuilder, member: str, start: int, end: int) -> MemberEvents:
    return with_referrals(builder.member(start, end), plan.referrals.get(member))


def add_to_rows(rows, added: dict, prog) -> None:
    """The vectorised kernel's rows (simulate/vector/kernel.py `_Rows`) with the pass's events merged in, as
    `with_referrals` merges them into a member's replay: a `referred` row before the member's own rows of its
    moment, a `referral_qualified` row after them, naming its rule in `rows.added_rule` (-1 on other rows).
    A member named by a referral with no rows of her own is not replayed, so gets none."""
    import numpy as np

    from loyalty.runtime.arrays import REFERRAL_QUALIFIED, REFERRED, segment_search

    n = rows.n
    rows.added_rule = np.full(n, -1, dtype=np.int64)
    if not n or not added:
        return
    member = rows.member
    starts = np.flatnonzero(np.concatenate(([True], member[1:] != member[:-1])))
    ends = np.append(starts[1:], n)
    names = rows.history.values_of("member", member[starts])
    rule_index = {r.name: r.index for r in prog.rules}
    mine, when, after, rule = [], [], [], []  # per added event: its member's position in `starts`, ...
    for i, name in enumerate(names):
        evs = added.get(name)
        if not evs:
            continue
        for ev in evs:
            qualified = ev.type != "referred"
            mine.append(i)
            when.append(_micros(ev.time))
            after.append(qualified)
            rule.append(rule_index[ev.name] if qualified else -1)
    if not mine:
        return
    at = np.array(mine, dtype=np.int64)
    moments = np.array(when, dtype=np.int64)
    qualified = np.array(after, dtype=bool)
    # a `referred` row before the member's own rows of its moment, a `referral_qualified` row after them
    where = segment_search(rows.time, starts[at], ends[at], moments, qualified)

    # every other column of the rows (the kernel's own included) says none: no amount, order, item, store...
    rows.insert_rows(where, {"member": member[starts[at]], "time": moments, "gtime": moments,
                             "type": np.where(qualified, REFERRAL_QUALIFIED, REFERRED).astype(rows.type.dtype),
                             "added_rule": np.array(rule, dtype=np.int64)})
