"""One module per mechanic, each holding its meaning once (docs/design.md, "Where a mechanic lives").

Importing this package registers every rule mechanic (by the compiled action types it runs) and lists
the program-wide ones, in the order the vectorised kernel's reasons are reported."""

from __future__ import annotations

import importlib
import pkgutil

from loyalty.runtime.mechanics.adjustments import Adjustments
from loyalty.runtime.mechanics.codes import Codes
from loyalty.runtime.mechanics.draws import Draws
from loyalty.runtime.mechanics.enrolment import Enrolment
from loyalty.runtime.mechanics.fees import Fees
from loyalty.runtime.mechanics.goals import Goals
from loyalty.runtime.mechanics.limits import Budgets
from loyalty.runtime.mechanics.moments import Moments
from loyalty.runtime.mechanics.offers import Offers
from loyalty.runtime.mechanics.points import PointsOverTime
from loyalty.runtime.mechanics.redeem import Redemptions
from loyalty.runtime.mechanics.referral import Referral
from loyalty.runtime.mechanics.registry import (MODIFIER, PROGRAM_MECHANICS, PURCHASE_PHASES, RULE_MECHANICS,
                                                Mechanic, PlanError, mechanic_for, register_program)
from loyalty.runtime.mechanics.stacking import Stacking
from loyalty.runtime.mechanics.stock import Stock
from loyalty.runtime.mechanics.tiers import Tiers
from loyalty.runtime.mechanics.winback import WinBack

# every module of this package: a rule mechanic registers itself when its module is imported, so a new
# mechanic is one new module here and nothing else in this package
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
for _m in (Budgets(), Stock(), Codes(), Adjustments(), Fees(), Draws(), Redemptions(), PointsOverTime(), Tiers(),
           WinBack(), Offers(), Moments(), Goals(), Referral(), Enrolment(), Stacking()):
    register_program(_m)

__all__ = ["MODIFIER", "PROGRAM_MECHANICS", "PURCHASE_PHASES", "RULE_MECHANICS", "Mechanic", "PlanError",
           "mechanic_for"]
