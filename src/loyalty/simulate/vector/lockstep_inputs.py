"""What a kernel's lockstep read, kept so that the next tier pass can skip a lockstep that would repeat it.

The tiers a member holds are settled by passes (kernel `_Kernel.run`): each pass runs the state-free steps on
the tiers guessed, then the lockstep. The lockstep is a function of the kernel attributes it reads; most of
them do not depend on the guess at all, and the points table (`ptab`) and the tier metric are read only at the
tier the lockstep finds each event at. So when the pass after a lockstep reads, for every attribute, what that
lockstep read (the points table and the metric compared at the tiers it found: `same_inputs`), it would
compute the same thing again: its outputs are kept (`reuse`) and only the state-free steps, which the report
reads at the settled tiers, are new. Typically the pass that confirms a good first guess (the tier-by-tier
guess of tiers by spend or points earned, or tiers by visits that nothing the tier changes moves).

The record is made while the lockstep runs (`recorded`): the first read of each attribute of the kernel is
copied before the lockstep can change it in place, and what it writes is its output. Anything the record
cannot compare by value (an object other than arrays, containers and plain values) compares by identity where
its type is registered as read-only during a kernel's life (`READ_ONLY_TYPES`), and is unequal otherwise.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from loyalty.runtime.arrays import RETURN, fits

# read only at the tier the lockstep found each event at (compared there, `same_inputs`); the lockstep of the
# tier-by-tier first guess reads the metric per tier from `free_by_tier` (what `_free_metric` gives from
# `spend_deltas` is then replaced by it, VectorTiers.free_by_tier)
_AT_TIERS = ("ptab", "free_by_tier", "spend_deltas")


_PLAIN = {type(None), bool, int, float, str, bytes}

# The types of the objects a lockstep reads that never change during a kernel's life, compared by identity;
# registered by the kernel (simulate/vector/kernel.py). A lockstep reading an object of any other type (not an
# array, a container or a plain value) is never reused.
READ_ONLY_TYPES: set = set()


def _plain(values) -> bool:
    """Whether a list or tuple holds plain values only (the members' names: compared and copied at C speed)."""
    return set(map(type, values)) <= _PLAIN


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(value) if _plain(value) else type(value)(_copy(v) for v in value)
    return value


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if type(a) in (list, tuple):
        if type(b) is not type(a) or len(a) != len(b):
            return False
        if _plain(a) and _plain(b):
            return list(map(type, a)) == list(map(type, b)) and a == b  # (1 == 1.0 == True)
        return all(_equal(x, y) for x, y in zip(a, b))
    if a is None or isinstance(a, (bool, int, float, str, bytes, np.generic)):
        return type(a) is type(b) and bool(a == b)
    # any other object: the same one, and only of a type that does not change once a kernel is built (the
    # program, the plan, the rows, the earning slots, the enrolment); a change inside another could not be
    # seen, so it is unequal
    return a is b and type(a) in READ_ONLY_TYPES


class LockstepRecord:
    """A lockstep's inputs (the first read of each kernel attribute, copied), how often `spend_deltas` was
    read, and the kernel's attributes just after it (`after`: its outputs, and its inputs as it left them)."""

    def __init__(self):
        self.read: dict[str, Any] = {}
        self.written: set = set()
        self.spend_reads = 0
        self.after: dict[str, Any] = {}


_RECORD = "_lockstep_record_being_made"  # the record, in the kernel's own attributes while its lockstep runs
_recording_classes: dict = {}


def _recording(base):
    """`base` (the kernel's class) with every attribute read and write passing through the record: made once
    per class (a class made per lockstep would hold its record, a copy of the lockstep's inputs, until the
    collector finds the class's cycles)."""
    if base not in _recording_classes:
        class Recording(base):
            def __getattribute__(self, name):
                attrs = object.__getattribute__(self, "__dict__")
                value = object.__getattribute__(self, name)
                record = attrs[_RECORD]
                if name == "spend_deltas":
                    record.spend_reads += 1
                if name not in record.read and name not in record.written and name in attrs:
                    # the tables read per tier (which the lockstep never writes): kept as they are, cut to the
                    # rows it read once it is done (`cut_to_rows_read`), not copied whole
                    record.read[name] = dict(value) if name == "ptab" else value if name == "free_by_tier" \
                        else _copy(value)
                return value

            def __setattr__(self, name, value):
                object.__getattribute__(self, "__dict__")[_RECORD].written.add(name)
                object.__setattr__(self, name, value)

        _recording_classes[base] = Recording
    return _recording_classes[base]


def recorded(kern, lockstep) -> LockstepRecord:
    """Run `lockstep` (the kernel's `_lockstep`) recording what it reads of the kernel and what it writes."""
    record = LockstepRecord()
    base = type(kern)
    kern.__dict__[_RECORD] = record
    kern.__class__ = _recording(base)
    try:
        lockstep()
    finally:
        kern.__class__ = base
        del kern.__dict__[_RECORD]
    # (only what `reuse` restores: the next pass's state-free steps let go of the rest)
    record.after = {name: value for name, value in kern.__dict__.items() if name in record.read or name in record.written}
    cut_to_rows_read(kern, record)
    return record


def cut_to_rows_read(kern, record: LockstepRecord) -> None:
    """The tables read per tier, cut to what the lockstep read of them: the row of the tier it found at each
    event (`tier_before`), for the metric a return's the row of its order's tier."""
    found = record.after.get("tier_before")
    if found is None or len(found) != kern.nev:
        return
    cols = np.arange(kern.nev)
    if record.read.get("ptab") is not None:
        record.read["ptab"] = {key: table[found + 1, cols] for key, table in record.read["ptab"].items()}
    if record.read.get("free_by_tier") is not None:
        record.read["free_by_tier"] = record.read["free_by_tier"][_metric_rows(kern, found), cols]


def _metric_rows(kern, found):
    """The row of the tier-by-tier metric (`free_by_tier`) each event read: its tier's, a return's order's
    (VectorTiers.after)."""
    returns = kern.e_valid & kern.e_counted & (kern.e_type == RETURN)
    return np.where(returns, found[np.maximum(kern.ret_order_ev, 0)], found) + 1


def same_inputs(kern, record: Optional[LockstepRecord], free_metric) -> bool:
    """Whether the kernel's lockstep, run now (after a new pass's state-free steps), would read what the recorded
    one read: every attribute equal, the points table and the tier metric at the tiers it found. Then it would
    compute what that one did: the tier before each event depends only on what it read at earlier events."""
    if record is None or "tier_before" not in record.after:
        return False
    found = record.after["tier_before"]
    if len(found) != kern.nev:
        return False
    cols = np.arange(kern.nev)
    for name, then in record.read.items():
        if name in _AT_TIERS:
            continue
        if not _equal(then, kern.__dict__.get(name, getattr(type(kern), name, None))):
            return False
    old_tables, new_tables = record.read.get("ptab"), kern.__dict__.get("ptab")
    if old_tables is not None:
        if new_tables is None or old_tables.keys() != new_tables.keys():
            return False
        for key, old in old_tables.items():  # (the rows the lockstep read: `cut_to_rows_read`)
            new = new_tables[key]
            if new.ndim != 2 or new.shape[1] != kern.nev or not np.array_equal(new[found + 1, cols], old):
                return False
        # the lockstep's check that its clawback arithmetic fits in 64 bits reads every row
        top = max([int(t.max(initial=0)) for t in new_tables.values()] + [0])
        if not fits(top + 1, int(kern.ret_G.max(initial=0)) + 1):
            return False
    by_tier = record.read.get("free_by_tier")
    if by_tier is not None:
        # the metric per tier: an event reads its own tier's row, a return its order's (VectorTiers.after)
        if record.spend_reads > 1:  # read other than for the metric (`_free_metric`, once): compare as is
            return False
        if not np.array_equal(free_metric(), by_tier):  # (the rows read: `cut_to_rows_read`)
            return False
    elif "spend_deltas" in record.read and not _equal(record.read["spend_deltas"], kern.__dict__.get("spend_deltas")):
        return False
    return True


def reuse(kern, record: LockstepRecord) -> None:
    """The kernel as the lockstep `same_inputs` approved would leave it: the recorded lockstep's outputs and
    inputs (as it left them) over this pass's state-free results; the points table and the metric this pass's."""
    keep = {name: kern.__dict__[name] for name in _AT_TIERS if name in kern.__dict__}
    for name, value in record.after.items():
        if (name in record.written or name in record.read) and name != "__class__":
            kern.__dict__[name] = value
    kern.__dict__.update(keep)
