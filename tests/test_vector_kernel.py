"""The vectorised kernel equals the scalar evaluator exactly: differential tests on generated histories,
member routing, the --kernel option, and the small exact building blocks."""

import datetime as dt
import json
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings, strategies as st

from loyalty.cli import cli as main
from loyalty.simulate.engine import make_plan, program_info, simulate
from loyalty.simulate.history import MemberAttributes, ReadOptions, build_history
from loyalty.simulate.render import to_json
from loyalty.simulate.report import HistoryInfo, build_report
from loyalty.simulate.run import load_program
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector import Unsupported, simulate_vector, supports
from loyalty.runtime.arrays import (moments_in_earning_order, row_any, row_sums, segment_ids, segmented_cummax,
                                    segmented_cumsum)

ROOT = Path(__file__).resolve().parent.parent

WIDE = """
program "Wide" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03 to 2024-05-30
}
points "stars" {
  cost 0.02 NOK each
  expire 2 months after earning
  round half even per line
  balance stops at zero
}
catalog {
  category "washes"
  category "extras"
  item "basic wash" in category "washes" costing 35 NOK
  item "wash and wax" in category "washes" costing 55 NOK
  item "coffee" in category "extras" costing 6 NOK
}
rule "welcome" {
  earn 50 stars on signup
}
rule "stars on extras" {
  earn 3 stars per 2 NOK on category "extras"
}
rule "stars on all" {
  earn 1 star per 7 NOK
}
rule "double coffee" {
  earn 2x stars on "coffee"
}
rule "two free after four" {
  2 free "basic wash" after every 4 paid
}
tiers by lifetime spend {
  tier "silver" from 0 NOK
  tier "gold" from 300 NOK {
    earn 1.5x stars
  }
}
"""

# conditions on the event only (time window, weekdays, hours wrapping midnight, store, channel) on every kind
# of rule the kernel runs: per spend, multipliers, punch cards, fixed earns on signup, referrals
CONDITIONS = """
program "Conditions" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  expire 1 month after earning
  round down per order
  balance may go negative
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
store "North" in region "Up"
store "South" in region "Down"
rule "welcome in january" {
  earn 50 points on signup
  from 2024-01-01 to 2024-01-31
}
rule "referrals" {
  earn 20 points per referral
  in store "North"
}
rule "base" {
  earn 1 point per 1 NOK
  on mondays, tuesdays, saturdays
}
rule "night owls" {
  earn 3x points
  between 22:00 and 2:00
}
rule "north app" {
  earn 2x points
  in region "Up"
  on channel "app"
}
rule "free coffee" {
  1 free "coffee" after every 3 paid
  from 2024-02-01
}
"""

# draws of every period, with event conditions, after a punch card's discount (entries count what is paid)
DRAWS = """
program "Draws" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
store "North" in region "Up"
store "South" in region "Down"
rule "every 3rd wash free" {
  every 3rd "basic wash" is free
}
draw "daily" {
  held every day
  prize 100 NOK
  1 entry per 10 NOK
}
draw "weekly north" {
  held every week
  prize 500 NOK
  winners 2
  3 entry per 35 NOK
  in store "North"
}
draw "quarterly evenings" {
  held every quarter
  prize 2000 NOK
  winners 3
  1 entry per 1 NOK
  between 18:00 and 23:00
}
draw "yearly" {
  held every year
  prize 9000 NOK
  1 entry per 100 NOK
  from 2024-02-01 to 2024-12-31
}
"""

# simulated redemptions of two point kinds (each kind its own cheapest reward), with expiry, returns under
# both balance policies, a tier on points earned and a scenario cost for one reward
REDEEM = """
program "Redeem" {
  currency NOK
  timezone "Europe/Oslo"
}
points "stars" {
  cost 0.02 NOK each
  expire 2 months after earning
  balance stops at zero
}
points "miles" {
  cost 0.01 NOK each
  round half even per line
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
reward "free coffee" is a free "coffee"
reward "20 off" is 20 NOK off the next order
reward "big prize" is 500 NOK off the next order
redeem 150 stars for "free coffee"
redeem 900 stars for "big prize"
redeem 400 miles for "20 off"
rule "stars" {
  earn 1 star per 1 NOK
}
rule "miles" {
  earn 3 miles per 2 NOK
}
rule "welcome" {
  earn 200 miles on signup
}
tiers by lifetime stars earned {
  tier "gold" from 2000 stars {
    earn 2x stars
  }
}
"""

# rewards given by rules: a gift with purchase over an amount capped once a month, a gift every 3rd visit
# counted on what its conditions select (purchases and visits in a store), a first-purchase gift, a gift on
# the 2nd visit; and earning and punch cards under `when` expressions of the order alone
GIFTS = """
program "Gifts" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
}
points "points" {
  cost 0.01 NOK each
  expire 1 month after earning
}
catalog {
  category "washes"
  category "extras"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "extras" costing 6 NOK
}
store "North" in region "Up"
reward "mug" is a gift "mug" costing 20 NOK
reward "cloth" is a gift "cloth" costing 5 NOK
reward "cap" is a gift "cap"
rule "gift over 100" {
  give "mug"
  when order total >= 100 NOK
  at most once per member per month
}
rule "every 3rd visit up north" {
  give "cloth"
  after every 3 visits
  in store "North"
  when not (order has category "extras" and order items = 1)
}
rule "welcome gift" {
  give "cap"
  on first purchase
}
rule "second visit" {
  give "cloth"
  on the 2nd visit
}
rule "points on big orders" {
  earn 2 points per 1 NOK
  when order total > 50 NOK or order has "coffee"
}
rule "free wash" {
  every 4th "basic wash" is free
  when not first purchase
}
"""

# discount rules in rule order before a punch card: a percentage off some lines in the evening, an amount off
# each unit (more than some lines cost), a percentage off big orders; earning on what is left
DISCOUNTS = """
program "Discounts" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  round half even per line
}
catalog {
  category "washes"
  category "extras"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "extras" costing 6 NOK
}
rule "evening extras" {
  get 15% off
  on category "extras"
  between 17:00 and 23:00
}
rule "five off each wash" {
  get 5 NOK off each
  on "basic wash"
}
rule "big orders" {
  get 7.5% off
  when order total >= 200 NOK
}
rule "every 3rd wash free" {
  every 3rd "basic wash" is free
}
rule "points" {
  earn 1 point per 1 NOK
}
"""

# member prices, amounts off the order and bundles (fixed_price.py, order_discount.py, bundle.py) among the other
# discounts, in rule order: a price above some lines' prices and below others', one narrowed to some lines and to some hours, an
# amount off more than some orders still cost; earning on what is left, per line
# acceptance windows, rewards taken back by a whole return (gifts on purchases: by a condition, capped, for
# every purchase, on the first purchase; and one on visits, which no return takes back), points that last
# until the end of the next quarter
WINDOWS = """
program "Windows" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
  rewards are taken back on return
  returns accepted within 30 days
  late events accepted within 7 days
}
points "points" {
  cost 0.01 NOK each
  expire at the end of the next calendar quarter
  balance stops at zero
}
catalog {
  category "washes"
  category "extras"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "extras" costing 6 NOK
}
store "North" in region "Up"
reward "mug" is a gift "mug" costing 20 NOK
reward "cloth" is a gift "cloth" costing 5 NOK
reward "cap" is a gift "cap"
rule "gift over 100" {
  give "mug"
  when order total >= 100 NOK
  at most 2 times per member per month
}
rule "a cloth with every order" {
  give "cloth"
}
rule "welcome gift" {
  give "cap"
  on first purchase
}
rule "second visit" {
  give "cloth"
  on the 2nd visit
}
rule "points" {
  earn 2 points per 1 NOK
}
rule "a free coffee after 3" {
  1 free "coffee" after every 3 paid
}
tiers by spend in the calendar year {
  tier "gold" from 500 NOK {
    earn 1.5x points
  }
  downgrade at the end of each year
}
"""

OFFERS = """
program "Offers" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  round half even per line
}
catalog {
  category "washes"
  category "extras"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "extras" costing 6 NOK
}
rule "member wash price" {
  "basic wash" costs 40 NOK
}
rule "evening extras" {
  get 15% off
  on category "extras"
  between 17:00 and 23:00
}
rule "big orders" {
  get 50 NOK off orders over 100 NOK
}
rule "coffee orders" {
  get 2.50 NOK off orders over 0.99 NOK
  on "coffee"
  on weekends
}
rule "any item at one krone" {
  item costs 1 NOK
  on mondays
}
rule "wash bundle" {
  buy 2 item, get 1 free
  on weekdays
}
rule "coffee 3 for 2" {
  3 item in category "extras" for the price of 2
}
rule "points" {
  earn 1 point per 1 NOK
}
"""

# stacking (runtime/mechanics/stacking.py): an exclusive discount, priorities, a best-of campaign, a capped winner,
# and (STACKING_ONE) the program-wide one discount per order
STACKING = """
program "Stacking" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
}
catalog {
  category "washes"
  category "extras"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "extras" costing 6 NOK
}
rule "member" {
  get 5% off
  exclusive
}
rule "member wash price" {
  "basic wash" costs 40 NOK
  on weekdays
}
rule "evening extras" {
  get 15% off
  on category "extras"
  between 17:00 and 23:00
  priority 2
}
rule "coffee each" {
  get 1 NOK off each
  on "coffee"
  priority 1
  at most 3 times per member
}
rule "by spend" {
  get discount by lifetime spend {
    3% off from 0 NOK
    10% off from 500 NOK
  }
  priority 2
}
campaign "weekend" {
  on weekends
  best of
  rule "big orders" {
    get 50 NOK off orders over 100 NOK
  }
  rule "wash bundle" {
    buy 2 item, get 1 free
  }
}
rule "points" {
  earn 1 point per 1 NOK
}
"""
STACKING_ONE = STACKING.replace('timezone "Europe/Oslo"', 'timezone "Europe/Oslo"\n  at most one discount per order')
STACKING_LINE = STACKING.replace('timezone "Europe/Oslo"', 'timezone "Europe/Oslo"\n  at most one discount per line')
STACKING_LINE_ONLY = STACKING_LINE.replace("  exclusive\n", "")  # no exclusive discount: always per line

# conditions on what is known of the member (segments, birthday, birthday month; from the attributes file) on
# discounts, gifts, earning and a draw
MEMBERS = """
program "Members" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  category "drinks"
  item "coffee" in category "drinks" costing 6 NOK
}
segment "students"
segment "fleet"
reward "cake" is a gift "cake" costing 20 NOK
rule "fleet discount" {
  get 10% off
  for segment "fleet"
}
rule "birthday cake" {
  give "cake"
  on birthday
  at most once per member per year
}
rule "birthday month points" {
  earn 3 points per 1 NOK
  in birthday month
}
rule "students' points" {
  earn 1 point per 1 NOK
  for segment "students", "fleet"
  when order has "coffee"
}
draw "birthday draw" {
  held every month
  prize 500 NOK
  1 entry per 10 NOK
  in birthday month
}
"""

# fixed earns on purchases and visits by every trigger the kernel runs (a counted one among them), taken back
# by returns under a balance policy that truncates, with expiry and a tier on points earned; conditions on
# the member's visits; points after every 100 NOK of net spend; for an action and per referral; caps in times
# and in points
FIXED = """
program "Fixed" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
}
points "points" {
  cost 0.01 NOK each
  expire 2 months after earning
  balance stops at zero
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  category "drinks"
  item "coffee" in category "drinks" costing 6 NOK
}
store "North" in region "Up"
tiers by points earned {
  tier "silver" from 300 points
}
rule "welcome" {
  earn 100 points
  on first purchase
}
rule "first wash" {
  earn 40 points
  on first purchase
  in store "North"
}
rule "third visit" {
  earn 25 points
  on the 3rd visit
}
rule "every 2nd visit up north" {
  earn 7 points
  after every 2 visits
  in store "North"
}
rule "coffee bonus" {
  earn 5 points
  when order has "coffee"
}
rule "a point per krone" {
  earn 1 point per 1 NOK
}
rule "regulars" {
  earn 2 points per 1 NOK
  when visits >= 4 and not visits = 7
}
rule "tenth visit" {
  earn 50 points
  when visits = 10
}
rule "bonus per 100 NOK" {
  earn 30 points
  after every 100 NOK spent
}
rule "rated" {
  earn 20 points
  on action "rated"
  at most 2 times per member per month
}
rule "referral" {
  earn 40 points per referral
  at most 100 points per member per month
}
rule "every 3rd visit, twice" {
  earn 15 points
  after every 3 visits
  at most 2 times per member
}
"""

# discounts that read the member's spend before the order (a condition, a scale), which is what was paid after
# them and the punch card, less returns; gifts (one after every 250 NOK spent) and points on top, tiers by spend
SPEND = """
program "Spend" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
}
points "points" {
  cost 0.01 NOK each
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  category "drinks"
  item "coffee" in category "drinks" costing 6 NOK
}
reward "mug" is a gift "mug" costing 20 NOK
reward "cloth" is a gift "cloth" costing 5 NOK
tiers by spend {
  tier "silver" from 1000 NOK
  tier "gold" from 5000 NOK
}
rule "newcomers get 5% off" {
  get 5% off
  when lifetime spend < 500 NOK
}
rule "coffee 1 NOK off each" {
  get 1 NOK off each
  on "coffee"
}
rule "scale" {
  get discount by lifetime spend {
    3% off from 100 NOK
    7% off from 2000 NOK
    10% off from 9000 NOK
  }
}
rule "every 4th wash free" {
  every 4th "basic wash" is free
}
rule "a cloth per 250 NOK" {
  give "cloth"
  after every 250 NOK spent
}
rule "a mug for regulars" {
  give "mug"
  when lifetime spend >= 3000 NOK and order total >= 50 NOK
}
rule "a point per krone" {
  earn 1 point per 1 NOK
}
"""

# gifts that look at a balance before the purchase (after what expired at its moment; what earlier returns
# took, to a debt under the default policy; what simulated redemptions spent), alone, with a cap, and mixed
# with conditions of the order
BALANCES = """
program "Balances" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  expire 1 month after earning
}
points "stamps" { }
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
reward "free wash" is a free "basic wash"
redeem 300 points for "free wash"
reward "express" is a perk costing 2 NOK
reward "mug" is a gift "mug" costing 20 NOK
rule "a point per krone" {
  earn 1 point per 1 NOK
}
rule "stamps" {
  earn 1 stamp per 10 NOK
}
rule "express for savers" {
  give "express"
  when points balance >= 150 points
}
rule "a mug, now and then" {
  give "mug"
  when not (stamps balance < 5 stamps or order total < 20 NOK) or points balance = 0 points
  at most 2 times per member per month
}
"""

# pending points (runtime/mechanics/points.py, the vectorised steps): purchases' points wait, signup, referral
# and action points do not; returns take back the order's own pending batch, or spend or owe; redemptions and a
# balance condition read only available points; expiry after earning on one kind, a negative balance on the
# other, a tier on points earned
PENDING = """
program "Pending" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  expire 2 months after earning
  available 3 days after purchase
  balance stops at zero
}
points "miles" {
  cost 0.01 NOK each
  available 1 week after purchase
  round half even per line
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
reward "free coffee" is a free "coffee"
reward "mug" is a gift "mug" costing 20 NOK
redeem 150 points for "free coffee"
redeem 400 miles for "free coffee"
rule "points" {
  earn 1 point per 1 NOK
}
rule "double coffee" {
  earn 2x points on "coffee"
}
rule "miles" {
  earn 3 miles per 2 NOK
}
rule "welcome" {
  earn 200 points on signup
}
rule "friends" {
  earn 30 miles per referral
}
rule "mug for savers" {
  give "mug"
  when miles balance >= 300 miles
}
tiers by lifetime points earned {
  tier "gold" from 2000 points {
    earn 2x points
  }
}
"""

# expiry after inactivity (points.py's vectorised steps): a running purchase restarts the clock; with pending
# points (whose batches mature before the deadline takes what is available), and without
INACTIVE = """
program "Inactive" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
}
points "points" {
  cost 0.01 NOK each
  expire after 3 weeks without a purchase
  available 2 days after purchase
}
points "stamps" {
  expire after 1 month without a purchase
  balance stops at zero
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
reward "free coffee" is a free "coffee"
redeem 120 points for "free coffee"
redeem 5 stamps for "free coffee"
rule "points" {
  earn 1 point per 1 NOK
}
rule "welcome" {
  earn 100 points on signup
}
rule "stamps" {
  earn 1 stamp per 10 NOK
}
"""

# tiers on a calendar window, reviewed at the end of each quarter with a grace period (down to no lower than what
# the quarter just ended met): spend (a return takes back what its order added only while the order's quarter is
# the return's), a start tier from 0
TIER_REVIEWS = """
program "Tier reviews" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  expire 3 months after earning
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
rule "a point per krone" {
  earn 1 point per 1 NOK
}
tiers by spend in the calendar quarter {
  tier "blue" from 0 NOK
  tier "silver" from 100 NOK {
    earn 1.5x points
  }
  tier "gold" from 2000 NOK {
    earn 2x points
  }
  downgrade at the end of each quarter with 2 weeks grace
}
"""

# points earned in the calendar month (clawbacks dated at their order), reviewed each month without grace, no
# tier from 0
TIER_EARNED = """
program "Tier earned" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  balance may go negative
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
rule "welcome" {
  earn 40 points on signup
}
rule "a point per krone" {
  earn 1 point per 1 NOK
}
tiers by points earned in the calendar month {
  tier "silver" from 50 points {
    earn 1.25x points
  }
  tier "gold" from 400 points {
    earn 2x points
  }
  downgrade at the end of each month
}
"""

# visits in the calendar quarter, no downgrade (a tier once reached is kept but for returns); and visits in
# the calendar week, reviewed each year with a month's grace
TIER_VISITS = """
program "Tier visits" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
}
rule "a point per krone" {
  earn 1 point per 1 NOK
}
tiers by visits in the calendar quarter {
  tier "regular" from 2 {
    earn 2x points
  }
  tier "devotee" from 6 {
    earn 3x points
  }
}
"""

TIER_WEEKS = TIER_VISITS.replace("in the calendar quarter", "in the calendar week").replace(
    "    earn 3x points\n  }\n}", "    earn 3x points\n  }\n  downgrade at the end of each year with 1 month grace\n}")

# what a tier gives at a purchase besides points: its discount (first, before the rules' and the punch card's),
# perks, and rules for some tiers only (a discount, an earn rule, a multiplier, a gift, a draw); tiers by spend
# in the calendar quarter (what the tier's discount leaves is the spend), reviewed each quarter; events after the
# run's end get nothing
TIER_BENEFITS = """
program "Tier benefits" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03 to 2024-09-30
}
points "points" {
  cost 0.01 NOK each
  expire 2 months after earning
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
reward "mug" is a gift "mug" costing 20 NOK
rule "a point per krone" {
  earn 1 point per 1 NOK
}
rule "gold coffee" {
  get 20% off
  on "coffee"
  for tier "gold"
}
rule "silver double" {
  earn 2x points
  for tier "silver"
}
rule "every 3rd wash free" {
  every 3rd "basic wash" is free
}
rule "a mug for the unranked" {
  give "mug"
  when order total >= 100 NOK
  for tier "blue"
}
draw "gold draw" {
  held every month
  prize 500 NOK
  winners 1
  1 entry per 100 NOK
  for tier "gold"
}
tiers by spend in the calendar quarter {
  tier "blue" from 0 NOK {
    perk "newsletter"
  }
  tier "silver" from 150 NOK {
    get 5% off
    perk "free vacuum" costing 3 NOK per order
  }
  tier "gold" from 1500 NOK {
    get 12.5% off
    earn 1.5x points
    perk "free vacuum" costing 3 NOK per order
    perk "towel" costing 0.50 NOK per order
  }
  downgrade at the end of each quarter with 1 month grace
}
"""

# discounts under a cap of their own: money per member and week (the order's total cut, taken from its first
# lines on), times per month, money per year on a scale; after a tier's discount, with a punch card after them
DISCOUNT_CAPS = """
program "Discount caps" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
rule "a point per krone" {
  earn 1 point per 1 NOK
}
rule "students" {
  get 20% off
  at most 100 NOK per member per week
}
rule "coffee 1 NOK off each" {
  get 1 NOK off each
  on "coffee"
  at most 2 times per member per month
}
rule "scale" {
  get discount by lifetime spend {
    3% off from 100 NOK
    10% off from 2000 NOK
  }
  at most 250 NOK per member per year
}
rule "every 4th wash free" {
  every 4th "basic wash" is free
}
tiers by lifetime spend {
  tier "silver" from 500 NOK {
    get 5% off
  }
}
"""

# tiers over rolling windows: spend in the last 3 months (a return takes back what its order added while the
# order is in the window), reviewed each month with grace; points earned in the last 30 days (clawbacks dated
# at their orders), no downgrade
TIER_ROLLING = TIER_REVIEWS.replace("tiers by spend in the calendar quarter", "tiers by spend in the last 3 months")
TIER_ROLLING_EARNED = TIER_EARNED.replace("tiers by points earned in the calendar month",
                                          "tiers by points earned in the last 30 days").replace(
    "  downgrade at the end of each month\n", "")

# timers that fire gifts between events (win-back lapses, birthdays, anniversaries, tiers reached) and offers
# with a lifetime given by them and by purchases (mechanics/winback.py, moments.py, offers.py)
TIMERS = """
program "Timers" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-05 to 2024-09-30
}
points "points" {
  cost 0.01 NOK each
  expire after 3 months without a purchase
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
reward "free coffee" is a free "coffee" valid for 20 days
reward "birthday card" is a 50 NOK gift card costing 50 NOK valid for 30 days
reward "summer bag" is a gift "bag" costing 40 NOK valid until 2024-06-30
reward "thank you" is a 10 NOK gift card costing 10 NOK valid for 1 month
reward "comeback" is a 5 NOK gift card costing 5 NOK
rule "points" {
  earn 1 point per 1 NOK
}
rule "we miss you" {
  give "free coffee"
  after 30 days without a purchase
}
rule "still away" {
  give "comeback"
  after 60 days without a purchase
}
rule "birthday" {
  give "birthday card"
  on each birthday
}
rule "anniversary" {
  give "thank you"
  on each membership anniversary
}
rule "welcome to gold" {
  give "summer bag"
  on reaching tier "gold"
}
rule "coffee thanks" {
  give "thank you"
  when order has "coffee"
}
tiers by spend in the calendar month {
  tier "silver" from 100 NOK
  tier "gold" from 300 NOK
}
"""

# points timers credit between events (a lapse with a cap of its own, birthdays, anniversaries): the kernel's own
# events in the lockstep, with expiry after inactivity and after earning, redemptions, tiers by points earned and
# a gift on reaching one
TIMER_POINTS = """
program "Timer points" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-05 to 2024-11-30
}
points "points" {
  cost 0.01 NOK each
  expire after 2 months without a purchase
}
points "bonus" {
  cost 0.01 NOK each
  expire 1 month after earning
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
}
reward "free wash" is a free "basic wash"
reward "gold bag" is a gift "bag" costing 40 NOK valid for 10 days
redeem 400 points for "free wash"
rule "points" {
  earn 1 point per 1 NOK
}
rule "we miss you" {
  earn 300 points
  after 30 days without a purchase
  at most 2 times per member per month
}
rule "long gone" {
  earn 50 bonus
  after 45 days without a purchase
}
rule "birthday" {
  earn 500 points
  on each birthday
}
rule "anniversary" {
  earn 70 bonus
  on each membership anniversary
}
rule "welcome to gold" {
  give "gold bag"
  on reaching tier "gold"
}
tiers by points earned {
  tier "silver" from 500 points
  tier "gold" from 2000 points
}
"""

# discounts on a counted purchase or visit, of rules that count no purchases of their own (triggers.py
# vector_discount_trigger)
DISCOUNT_TRIGGERS = """
program "Discount triggers" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-05 to 2024-09-30
}
points "points" {
  cost 0.01 NOK each
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
rule "points" {
  earn 1 point per 1 NOK
}
rule "welcome" {
  get 10% off
  on first purchase
}
rule "fifth" {
  get 50% off
  on the 5th purchase
}
rule "second" {
  get 25% off
  on the 2nd purchase
}
"""

PROGRAMS = ["benchmarks/programs/reference.loyalty", "examples/programs/car_wash.loyalty",
            "examples/programs/shoe_shop.loyalty", "WIDE", "examples/programs/ice_cream.loyalty", "CONDITIONS",
            "DRAWS", "examples/programs/monthly_draw.loyalty", "REDEEM", "benchmarks/programs/points_redemption.loyalty",
            "GIFTS", "examples/programs/cosmetics_gift.loyalty", "examples/programs/pharmacy_partner_card.loyalty",
            "DISCOUNTS", "MEMBERS", "examples/programs/bakery.loyalty", "FIXED", "SPEND",
            "examples/programs/discount_card.loyalty", "BALANCES", "examples/programs/dry_cleaner.loyalty", "PENDING",
            "INACTIVE", "examples/programs/fuel_station.loyalty",
            "TIER_REVIEWS", "TIER_EARNED", "TIER_VISITS", "TIER_WEEKS", "TIER_BENEFITS", "DISCOUNT_CAPS",
            "TIER_ROLLING", "TIER_ROLLING_EARNED", "OFFERS", "WINDOWS", "examples/programs/bookstore.loyalty",
            "benchmarks/programs/tiered_returns.loyalty", "TIMERS", "TIMER_POINTS", "DISCOUNT_TRIGGERS",
            "examples/programs/comeback_cafe.loyalty", "examples/programs/member_moments.loyalty", "STACKING",
            "STACKING_ONE", "STACKING_LINE", "STACKING_LINE_ONLY", "examples/programs/farm_stand.loyalty",
            "examples/programs/sandwich_bar.loyalty"]
INLINE = {"WIDE": WIDE, "CONDITIONS": CONDITIONS, "DRAWS": DRAWS, "REDEEM": REDEEM, "GIFTS": GIFTS,
          "DISCOUNTS": DISCOUNTS, "MEMBERS": MEMBERS, "FIXED": FIXED, "SPEND": SPEND, "BALANCES": BALANCES,
          "PENDING": PENDING, "INACTIVE": INACTIVE,
          "TIER_REVIEWS": TIER_REVIEWS, "TIER_EARNED": TIER_EARNED, "TIER_VISITS": TIER_VISITS, "TIER_WEEKS": TIER_WEEKS,
          "TIER_BENEFITS": TIER_BENEFITS, "DISCOUNT_CAPS": DISCOUNT_CAPS, "TIER_ROLLING": TIER_ROLLING,
          "TIER_ROLLING_EARNED": TIER_ROLLING_EARNED, "OFFERS": OFFERS, "WINDOWS": WINDOWS,
          "TIMERS": TIMERS, "TIMER_POINTS": TIMER_POINTS, "DISCOUNT_TRIGGERS": DISCOUNT_TRIGGERS,
          "STACKING": STACKING, "STACKING_ONE": STACKING_ONE, "STACKING_LINE": STACKING_LINE,
          "STACKING_LINE_ONLY": STACKING_LINE_ONLY}


def _program(tmp_path_factory, name):
    if name in INLINE:
        path = tmp_path_factory.mktemp("inline") / f"{name.lower()}.loyalty"
        path.write_text(INLINE[name])
        name = str(path)
    else:
        name = str(ROOT / name)
    return name, load_program(name)


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    return [_program(tmp_path_factory, p) for p in PROGRAMS]


def test_every_test_program_is_supported(programs):
    for name, prog in programs:
        assert supports(prog, None) is None, name


# ------------------------------------------------------------------ generated histories

HEADER = ["member", "time", "type", "order", "item", "category", "quantity", "amount", "store", "channel"]


def _history(prog, seed: int, members: int, max_events: int, codes: tuple = (), adjustments: float = 0.0):
    """A random history: purchases of several lines (same-minute ties included), returns whole, by lines and by
    amount of earlier (and unknown, and later) orders, signups, referrals, visits, redemptions, amounts at edges.
    With `codes`, purchase rows carry some of them now and then (two at once, an unknown one, on one line of an
    order or on several), drawn from their own stream so the other rows are the same. With `adjustments`, that
    share of events is followed by an adjustment row (points added mostly; now and then a balance set, a tier,
    a punch card, a kind the program lacks), from a stream of its own too."""
    rnd = random.Random(seed)
    code_rnd = random.Random(seed + 1)
    adjust_rnd = random.Random(seed + 2)
    kinds = [k.name for k in prog.kinds]
    tiers = [t.name for t in prog.tiers.tiers] if prog.tiers else []
    items = sorted(prog.catalog) + ["mystery"]
    stores = sorted(prog.stores) + ["North", "Elsewhere", ""]
    channels = ["app", "web", "store", ""]
    start = prog.runs_from or dt.datetime(2024, 1, 1)
    rows = []
    n_order = 0
    for m in range(members):
        member = f"M{m:03d}"
        t = 60 * 24 * rnd.randrange(0, 30)  # minutes from the start (the program's, or 2024-01-01)
        bought = []
        for _ in range(rnd.randint(1, max_events)):
            t += rnd.choice([0, 0, 1, 60, 60 * 24, 60 * 24 * 20, 60 * 24 * 70, 60 * 23 + rnd.randrange(120)])
            store, channel = rnd.choice(stores), rnd.choice(channels)
            when = "2024-01-01T00:00"
            day, minute = divmod(t, 60 * 24)
            when = (start + dt.timedelta(days=day, minutes=minute)).strftime("%Y-%m-%dT%H:%M")
            kind = rnd.choices(["purchase", "return", "signup", "referral", "visit", "redemption", "custom"],
                               [12, 4, 1, 1, 1, 1, 1])[0]
            if kind == "purchase":
                n_order += 1
                order = f"O{n_order}"
                lines = []
                for _ in range(rnd.randint(1, 3)):
                    item = rnd.choice(items)
                    q = rnd.choice([1, 1, 2, 3, 7])
                    amount = rnd.choice([0, 1, 99, 100, 101, 3500, 5500, 12345, 999999]) * q
                    lines.append((item, q, amount))
                    rows.append([member, when, "purchase", order, item, "", str(q), f"{amount / 100:.2f}", store,
                                 channel])
                    if codes and code_rnd.random() < 0.3:
                        rows[-1].append(" ".join(code_rnd.sample(codes + ("BOGUS",), code_rnd.choice([1, 1, 1, 2]))))
                bought.append((order, lines))
            elif kind == "return":
                choice = rnd.random()
                if not bought or choice < 0.1:
                    order = rnd.choice(["O999999", ""])  # unknown, or without an order id
                    rows.append([member, when, "return", order, "", "", "", "10.00", "", ""])
                    continue
                order, lines = rnd.choice(bought)
                if choice < 0.4:  # whole
                    rows.append([member, when, "return", order, "", "", "", "0.00", "", ""])  # no lines/amount: whole
                elif choice < 0.7:  # by lines (sometimes more than bought, or an item not in the order)
                    item, q, amount = rnd.choice(lines)
                    item = item if rnd.random() < 0.9 else "coffee"
                    rows.append([member, when, "return", order, item, "", str(rnd.randint(1, q)), "1.00", "", ""])
                else:  # by amount
                    total = sum(a for _, _, a in lines)
                    part = rnd.randint(0, max(total, 1))
                    rows.append([member, when, "return", order, "", "", "", f"{part / 100:.2f}", "", ""])
            else:
                item = "free wash" if kind == "redemption" else ("rated" if kind == "custom" else "")
                rows.append([member, when, kind, "", item, "", "", "", store, channel])
            if adjustments and adjust_rnd.random() < adjustments:
                what = adjust_rnd.choices(["add", "add named", "set", "tier", "unknown kind"], [6, 2, 1, 1, 1])[0]
                item, adjust = "", f"points +{adjust_rnd.choice([1, 5, 120, 3000])}"
                if what == "add named" and kinds:
                    item = adjust_rnd.choice(kinds)
                elif what == "set":
                    adjust = f"points ={adjust_rnd.choice([0, 40])}"
                elif what == "tier":
                    adjust = f"tier ={adjust_rnd.choice(tiers + [''])}"
                elif what == "unknown kind":
                    item = "miles"
                rows.append([member, when, "adjustment", "", item, "", "", "", "", "", "", adjust,
                             adjust_rnd.choice(["opening balance", "goodwill"])])
    header = HEADER + ["codes"] if codes else HEADER
    if adjustments:
        header = HEADER + ["codes", "adjust", "reason"]
    cols = {h: [(r[i] if i < len(r) else "") or None for r in rows] for i, h in enumerate(header)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    return build_history(cols, "generated.csv", 2, options)


def _attributes(history, seed: int) -> dict:
    """Members' attributes: some without any, birthdays often on a day the member has an event (and 29 February,
    kept on 28 February in other years), segments from the programs' and others."""
    rnd = random.Random(seed)
    out = {}
    for member, start, end in history.member_slices():
        if rnd.random() < 0.2:
            continue
        day = (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=history.column("time")[rnd.randrange(start, end)])).date()
        birthday = rnd.choice([day.replace(year=1990) if (day.month, day.day) != (2, 29) else day,
                               dt.date(1992, 2, 29), dt.date(1985, day.month, 1), None])
        segments = tuple(sorted(rnd.sample(["students", "fleet", "retired"], rnd.randint(0, 2))))
        # a signup date (anniversaries count from it) for some, drawn from what is drawn already (same stream)
        signup = day - dt.timedelta(days=400 if birthday is None else 366) if "fleet" in segments else None
        out[member] = MemberAttributes(birthday=birthday, segments=segments, signup_date=signup)
    return out


def _plan(path, prog, history, seed: int = 0):
    return make_plan(prog, program_info(prog, path), Scenario(), history, _attributes(history, seed))


def _both(path, prog, history, threshold=2000, seed: int = 0):
    """The vectorised and the scalar result; the vectorised one the same whether the lockstep finishes its
    last members one by one from the usual point, from the start (every member one by one), or never. Both with
    the budgets solved by passes: one kernel pass alone keeps its budget claims for the next pass, which the
    solved scalar run has dropped (simulate/budgets.py `solve_budgets`)."""
    plan = _plan(path, prog, history, seed)
    assert supports(prog, plan) is None
    vec = _vector_solved(plan, history, heavy_threshold=threshold)
    for tail in (0, 10**9):
        assert _vector_solved(plan, history, heavy_threshold=threshold, tail_members=tail).canonical() == \
            vec.canonical(), f"tail_members={tail}"
    return plan, vec, simulate(plan, history)


def figures(canonical: dict) -> dict:
    """A result's canonical form without the raw budget claims one kernel pass hands the next, which the solved
    scalar run has dropped (`_both`), and on some generated histories gym's kernel lists a January signup's claim
    the scalar plan does not (seen with tests/test_vector_pending_only.py, c629a7a): every figure is compared."""
    return {k: v for k, v in canonical.items() if k != "claims"}


def vector_and_scalar_on_generated(path, seed: int, members: int, max_events: int):
    """A program file's plan and generated history, and the kernel's and the scalar plan's canonical results on
    it, each asserted equal in every figure (`figures`): (plan, history, the kernel's result)."""
    from loyalty.simulate.run import load_program

    prog = load_program(str(path))
    history = _history(prog, seed, members, max_events)
    plan = _plan(str(path), prog, history, seed % 7)
    vec = simulate_vector(plan, history).canonical()
    assert figures(vec) == figures(simulate(plan, history).canonical())
    return plan, history, vec


def _vector_solved(plan, history, **options):
    """`simulate_vector`, with the budgets (if any: a rule's budget, a code's total uses, a reward's stock)
    solved by passes as the scalar `simulate` solves them (simulate/budgets.py)."""
    from loyalty.simulate.budgets import solve_budgets

    if not plan.program.budgets:
        return simulate_vector(plan, history, **options)
    return solve_budgets(plan.program.budgets, lambda known: simulate_vector(plan, history, known=known, **options))


def history_of(prog, rows, **read_options):
    """Generated history rows (event_strategies.history_rows) as the simulator's History, without event ids: the
    kernel sends members with ids to the scalar plan, and would then compare nothing."""
    from event_strategies import HISTORY_HEADER

    cols = {h: [str(r[h]) if r.get(h) not in (None, "") else None for r in rows] for h in HISTORY_HEADER if h != "event"}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone, **read_options)
    return build_history(cols, "generated.csv", 2, options)


def assert_member_by_member(plan, history, whole):
    """The kernel's result (budgets solved by passes, `whole` for the whole history) equals the scalar plan's for
    each member alone, every member in the lockstep (no one-by-one tail), and for the whole history."""
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert _vector_solved(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical(), member
    assert whole.canonical() == simulate(plan, history).canonical()


def _report(plan, history, result):
    info = HistoryInfo(history.file, len(history), {}, *history.time_range())
    return to_json(build_report(result, plan.info, info, {}, list(plan.months)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), which=st.integers(0, len(PROGRAMS) - 1), members=st.integers(1, 12),
       max_events=st.sampled_from([1, 3, 12, 40]))
# TIER_ROLLING: a batch earned 31 March 00:38 expires (3 months on, clamped to 30 June) before one earned
# 30 March 00:58, and a purchase at 30 June 00:38 sees it gone (test_expiry_out_of_earning_order_...)
@example(seed=30, which=PROGRAMS.index("TIER_ROLLING"), members=4, max_events=40)
# TIMER_POINTS: M000 reaches gold by a lapse's points in the end of the history's time passing: the bag gold
# gives lives from that moment (and lapses if its 10 days end before the history does)
@example(seed=12, which=PROGRAMS.index("TIMER_POINTS"), members=60, max_events=40)
# TIMER_POINTS: M005 reaches gold by a lapse's points on 16 August, in the time passing before her purchases of
# 25 September: the bag lapsed on 26 August, and none of those purchases uses it
@example(seed=8133, which=PROGRAMS.index("TIMER_POINTS"), members=6, max_events=12)
def test_vector_equals_scalar_on_generated_histories(programs, seed, which, members, max_events):
    path, prog = programs[which]
    history = _history(prog, seed, members, max_events)
    plan, vec, ref = _both(path, prog, history, seed=seed)
    assert vec.canonical() == ref.canonical()
    assert _report(plan, history, vec) == _report(plan, history, ref)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), which=st.integers(0, len(PROGRAMS) - 1), members=st.integers(2, 6),
       max_events=st.sampled_from([3, 12, 40]))
def test_vector_equals_scalar_member_by_member(programs, seed, which, members, max_events):
    """Each member alone: every cell of the result (per rule, tier, month and cost type), the member's row,
    counts and histograms, the kernel's against the scalar plan's, so an error in one member cannot hide
    behind another's in a total."""
    path, prog = programs[which]
    history = _history(prog, seed, members, max_events)
    plan = _plan(path, prog, history, seed)
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        vec = simulate_vector(plan, alone, tail_members=0)
        ref = simulate(plan, alone)
        assert vec.canonical() == ref.canonical(), member


def test_points_credited_while_a_purchase_waits_stay_on_the_kernel(programs):
    """PENDING's points expire after earning: a signup while a purchase's points wait puts available points
    behind waiting ones in earning order; the kernel spends them oldest first as the scalar does
    (points.vector_spend), so that member stays on the kernel (none routed) and the result is exact. (Under
    `balance may go negative` such a member is still routed: tests/test_kernel_pending_order.py.)"""
    from loyalty.simulate.vector import kernel

    path, prog = programs[PROGRAMS.index("PENDING")]
    rows = [["early", "2024-02-01T10:00", "signup", "", "", "", "", "", "", ""],  # signup first: the kernel's
            ["early", "2024-02-01T11:00", "purchase", "E1", "coffee", "", "1", "60.00", "", ""],
            ["early", "2024-02-09T11:00", "purchase", "E2", "coffee", "", "1", "60.00", "", ""],
            ["late", "2024-02-01T11:00", "purchase", "L1", "coffee", "", "1", "60.00", "", ""],
            ["late", "2024-02-02T10:00", "signup", "", "", "", "", "", "", ""],  # while L1's points wait
            ["late", "2024-02-09T11:00", "purchase", "L2", "coffee", "", "1", "60.00", "", ""],
            ["late", "2024-05-09T11:00", "purchase", "L3", "coffee", "", "1", "60.00", "", ""]]
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    history = build_history(cols, "routed.csv", 2, options)
    plan = _plan(path, prog, history)
    before = kernel.ROUTED["pending points out of earning order"]
    vec = simulate_vector(plan, history)
    assert kernel.ROUTED["pending points out of earning order"] - before == 0
    assert vec.canonical() == simulate(plan, history).canonical()
    assert_member_by_member(plan, history, vec)


def _routed_run(path, prog, rows, reason):
    """The kernel's and the scalar plan's results on these rows, and how many members the kernel routed for
    `reason`."""
    from loyalty.simulate.vector import kernel

    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    history = build_history(cols, "swapped.csv", 2, options)
    plan = _plan(path, prog, history)
    before = kernel.ROUTED[reason]
    vec = simulate_vector(plan, history)
    return vec, simulate(plan, history), kernel.ROUTED[reason] - before


SWAPPED = "expiry or pending moments out of earning order"


@pytest.mark.parametrize("rows, routed, holds", [
    # A buys in the gap: at 09:30 the 31 March batch is gone, not the 30 March one (the kernel once lost track
    # of the latter: it never expired)
    ([["A", "2024-06-30T09:30", "purchase", "A3", "coffee", "", "1", "7.00", "", ""],
      ["B", "2024-07-02T12:00", "visit", "", "", "", "", "", "", ""]], 0, "10"),
    ([["A", "2024-07-02T12:00", "purchase", "A3", "coffee", "", "1", "7.00", "", ""]], 0, "10"),  # none between
    ([["B", "2024-06-30T09:30", "visit", "", "", "", "", "", "", ""]], 0, "100"),  # the history ends between
])
def test_expiry_out_of_earning_order_routes_only_members_who_see_it(programs, rows, routed, holds):
    """`expire 3 months after earning` keeps the time of day and clamps the day: 30 March 10:00 expires on
    30 June 10:00, 31 March 09:00 (earned later) on 30 June 09:00, earlier. The kernel expires from the front
    of the stream in earning order, so it moves the second to 10:00, and where a member has an event (or the
    history its end) in between, expires the second there as a hole (points.expire_out_of_order): no member is
    routed (a kind with pending points still routes such a member, counted in ROUTED: tests/
    test_kernel_expiry_holes.py); the result is the scalar's."""
    path, prog = programs[PROGRAMS.index("TIER_ROLLING")]
    rows = [["A", "2024-03-30T10:00", "purchase", "A1", "coffee", "", "1", "100.00", "", ""],
            ["A", "2024-03-31T09:00", "purchase", "A2", "coffee", "", "1", "50.00", "", ""]] + rows
    vec, ref, n = _routed_run(path, prog, rows, SWAPPED)
    assert vec.canonical() == ref.canonical()
    assert n == routed
    # what A holds at the end: the 10 points of 7 NOK at silver (1.5x) once both batches expired; at 09:30
    # the 100 of 30 March, not the 75 of 31 March
    assert {row[0]: row[5] for row in ref.canonical()["members"]}["A"] == holds


PENDING_MONTH = """
program "Pending a month" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  available 1 month after purchase
}
catalog {
  category "drinks"
  item "coffee" in category "drinks" costing 6 NOK
}
reward "free coffee" is a free "coffee"
redeem 120 points for "free coffee"
rule "points" {
  earn 1 point per 1 NOK
}
"""


@pytest.mark.parametrize("rows, routed, redeemed", [
    # at 29 February 09:30 only the 100 points of 31 January are available: no coffee (the kernel once
    # counted both batches and gave one)
    ([["A", "2024-02-29T09:30", "purchase", "A3", "coffee", "", "1", "1.00", "", ""]], 1, "0"),
    ([["A", "2024-02-29T09:30", "return", "A1", "", "", "", "0.00", "", ""],  # a return in between
      ["B", "2024-03-05T12:00", "visit", "", "", "", "", "", "", ""]], 1, "0"),
    ([["A", "2024-03-02T12:00", "purchase", "A3", "coffee", "", "1", "1.00", "", ""]], 0, "120"),  # after both
])
def test_pending_out_of_earning_order_routes_only_members_who_see_it(tmp_path, rows, routed, redeemed):
    """The same for points that wait `1 month`: 30 January 10:00's and 31 January 09:00's points are both
    available on 29 February, the later-earned first; a member with an event in between goes to the scalar
    plan, the others stay on the kernel; the result is the scalar's."""
    path = tmp_path / "pending_month.loyalty"
    path.write_text(PENDING_MONTH)
    prog = load_program(str(path))
    assert supports(prog, None) is None
    rows = [["A", "2024-01-30T10:00", "purchase", "A1", "coffee", "", "1", "50.00", "", ""],
            ["A", "2024-01-31T09:00", "purchase", "A2", "coffee", "", "1", "100.00", "", ""]] + rows
    vec, ref, n = _routed_run(str(path), prog, rows, SWAPPED)
    assert vec.canonical() == ref.canonical()
    assert n == routed
    assert {row[0]: row[4] for row in ref.canonical()["members"]}["A"] == redeemed


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_generated_programs_with_pending_points_and_inactivity_member_by_member(data):
    """Generated programs cut down to what the kernel runs, their point kinds' pending period, expiry and
    balance policy drawn again (event_strategies), whichever `supports` takes: each member's result (points
    issued, matured, clawed back, expired and redeemed per month; per rule; her row: earned, redeemed,
    outstanding) from the kernel equals the scalar plan's, and so does the whole history's."""
    _generated_member_by_member(data, pending=True)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_generated_programs_with_codes_stock_and_adjustments_member_by_member(data):
    """The same on generated programs with codes (their totals), rewards with a stock, or histories with
    adjustments (event_strategies draws all three), budgets solved by passes on both sides."""
    _generated_member_by_member(data, pending=False)


def _generated_member_by_member(data, pending: bool):
    from hypothesis import assume

    import loyalty
    from event_strategies import history_rows, member_histories, vectorisable, with_ledger_settings
    from loyalty.diagnostics import LoyaltyError
    from loyalty.syntax.formatter import format_program
    from strategies import valid_programs

    generated = vectorisable(data.draw(with_ledger_settings(data.draw(valid_programs(), label="program"))))
    text = format_program(generated)
    try:
        program = loyalty.compile_source(text, "generated.loyalty")
    except LoyaltyError:
        assume(False)  # cutting clauses out made it invalid (rare)
    prog = program.compiled
    assume(supports(prog) is None)
    if pending:
        assume(any(k.pending or k.expiry == "inactivity" for k in prog.kinds))
    else:
        assume(prog.codes or any(rw.stock is not None for rw in prog.rewards.values()) or prog.kinds)
    histories = [data.draw(member_histories(program, member=f"m{i}", max_events=14), label=f"m{i}")
                 for i in range(data.draw(st.integers(1, 4), label="members"))]
    rows = history_rows(histories, prog.exponent)
    assume(rows)
    if not pending:
        assume(any(r.get("codes") or r.get("type") == "adjustment" for r in rows)
               or any(rw.stock is not None for rw in prog.rewards.values()))
    history = history_of(prog, rows)
    plan = make_plan(prog, program_info(prog, "generated.loyalty"), Scenario(), history, {})
    try:
        whole = _vector_solved(plan, history)
    except Unsupported:  # figures past 64-bit arithmetic: the run goes to the scalar plan (parallel.py)
        assume(False)
    assert_member_by_member(plan, history, whole)


@pytest.mark.parametrize("which", range(len(PROGRAMS)))
def test_vector_equals_scalar_on_a_larger_history(programs, which):
    path, prog = programs[which]
    history = _history(prog, 7 + which, 150, 60)
    plan, vec, ref = _both(path, prog, history, seed=which)
    assert vec.canonical() == ref.canonical()
    # the by-store table (and by region, where the program has regions) is among what agrees
    tables = ref.tables
    assert sum(row.get("orders", 0) for row in tables["store"].values()) == ref.counts["orders"]
    assert ("region" in tables) == any(prog.stores.values())


def test_heavy_members_go_to_the_scalar_evaluator_and_merge_exactly(programs, monkeypatch):
    path, prog = programs[0]
    history = _history(prog, 11, 30, 40)
    routed = []
    import loyalty.simulate.engine as engine

    real = engine.replay_members

    def spy(plan, h, slices, *args, **kwargs):
        routed.extend(m for m, _, _ in slices)
        return real(plan, h, slices, *args, **kwargs)

    plan = make_plan(prog, program_info(prog, path), Scenario(), history)
    monkeypatch.setattr(engine, "replay_members", spy)
    vec = simulate_vector(plan, history, heavy_threshold=10)
    monkeypatch.undo()
    heavy = {m for m, s, e in history.member_slices() if len(engine.EventBuilder(history, {}).groups(s, e)) > 10}
    assert set(routed) == heavy and 0 < len(heavy) < 30  # exactly the members with more than 10 events
    assert vec.canonical() == simulate(plan, history).canonical()


def test_a_generated_benchmark_style_history_matches(programs, tmp_path):
    """20,000 rows from `loyalty generate` for the reference program: returns, several lines per
    order, skewed members, two years, as the benchmarks use (same generator, smaller)."""
    data = tmp_path / "history.csv"
    program = str(ROOT / "benchmarks/programs/reference.loyalty")
    made = CliRunner().invoke(main, ["generate", "--rows", "20000", "--seed", "1", "--days", "730",
                                     "--start", "2024-01-01", "--program", program, "-o", str(data)])
    assert made.exit_code == 0, made.output
    import csv

    with data.open() as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    path, prog = programs[0]
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(header)}
    history = build_history(cols, str(data), 2, ReadOptions(minor_units=2, currency="NOK", timezone="Europe/Oslo"))
    plan, vec, ref = _both(path, prog, history)
    assert vec.canonical() == ref.canonical()


# ------------------------------------------------------------------ the command


def test_kernel_option(tmp_path):
    program = str(ROOT / "benchmarks/programs/reference.loyalty")
    history = tmp_path / "h.csv"
    history.write_text("member,time,type,order,item,quantity,amount\n"
                       "A,2024-01-02T10:00,purchase,O1,basic wash,7,245.00\n"
                       "A,2024-01-03T10:00,return,O1,basic wash,1,35.00\n"
                       "B,2024-01-02T11:00,signup,,,,\n")
    runner = CliRunner()
    out = {}
    for kernel in ("auto", "vector", "python"):
        res = runner.invoke(main, ["simulate", program, str(history), "--format", "json", "--kernel", kernel,
                                   "--jobs", "1"])
        assert res.exit_code == 0, res.output
        out[kernel] = json.loads(res.output)
    assert out["auto"]["assumptions"]["kernel"] == "vector"
    assert out["python"]["assumptions"]["kernel"] == "python"
    assert out["python"]["assumptions"].pop("kernel_why") == "--kernel python"
    for doc in out.values():
        del doc["assumptions"]["kernel"]
    assert out["auto"] == out["vector"] == out["python"]


def test_kernel_vector_refuses_an_unsupported_program_with_the_reason(tmp_path):
    history = tmp_path / "h.csv"
    history.write_text("member,time,amount\nA,2024-01-02T10:00,10.00\n")
    program = tmp_path / "capped_budget.loyalty"  # a cap beside a budget: what the cap counts is what the budget grants
    program.write_text(GIFT_BUDGETS.replace('  earn 20 points\n  budget 200 NOK', '  earn 20 points\n  budget 200 NOK\n'
                                            '  at most 3 times per member'))
    res = CliRunner().invoke(main, ["simulate", str(program), str(history), "--kernel", "vector"])
    assert res.exit_code == 2
    assert "rule 'launch bonus': a budget on earn_fixed (or with a cap) needs the two-pass scalar replay" in res.output
    res = CliRunner().invoke(main, ["simulate", str(program), str(history), "--kernel", "auto", "--format", "json"])
    assert res.exit_code == 0
    assert json.loads(res.output)["assumptions"]["kernel"] == "python"


# ------------------------------------------------------------------ building blocks


@settings(max_examples=100, deadline=None)
@given(segments=st.lists(st.lists(st.integers(0, 1000), min_size=1, max_size=8), min_size=1, max_size=6))
def test_segmented_scans(segments):
    values = np.array([v for s in segments for v in s], dtype=np.int64)
    starts = np.cumsum([0] + [len(s) for s in segments[:-1]])
    seg = segment_ids(starts, len(values))
    sums, maxes = [], []
    for s in segments:
        total, best = 0, 0
        for v in s:
            total += v
            best = max(best, v)
            sums.append(total)
            maxes.append(best)
    assert segmented_cumsum(values, seg, starts).tolist() == sums
    assert segmented_cummax(values, seg).tolist() == maxes


@settings(max_examples=100, deadline=None)
@given(table=st.integers(1, 5).flatmap(lambda width: st.lists(
    st.lists(st.integers(-2**62, 2**62), min_size=width, max_size=width), max_size=8)))
def test_row_sums_and_row_any(table):
    """The per-event sums over a few rule slots, column by column, as numpy's reduction along each row (int64
    wrapping alike) and its any."""
    width = len(table[0]) if table else 3
    values = np.array(table, dtype=np.int64).reshape(len(table), width)
    assert row_sums(values).tolist() == values.sum(axis=1).tolist()
    assert row_any(values > 0).tolist() == (values > 0).any(axis=1).tolist()


@settings(max_examples=100, deadline=None)
@given(segments=st.lists(st.lists(st.integers(-2 * 10**17, 2 * 10**17), min_size=1, max_size=8), min_size=1,
                         max_size=6))
def test_moments_in_earning_order(segments):
    """Per segment the running max of µs moments (negative ones, before 1970, too), at magnitudes whose
    (segment, moment) would not pack into an int64."""
    moments = np.array([v for s in segments for v in s], dtype=np.int64)
    seg = segment_ids(np.cumsum([0] + [len(s) for s in segments[:-1]]), len(moments))
    assert moments_in_earning_order(moments, seg).tolist() == [
        max(s[:i + 1]) for s in segments for i in range(len(s))]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32))
def test_irregular_grouping_routes_the_same_members_and_matches_the_scalar(programs, seed):
    """Order ids reused at another time, two orders' lines interleaved at one time, two returns of one order at
    one time: the members the scalar groups by key. The one-key sort finds the same members as the four-key
    lexsort, and the merged result equals the scalar one."""
    from loyalty.simulate.vector.kernel import _irregular_members, _irregular_members_by_lexsort, _Rows

    path, prog = programs[0]
    rnd = random.Random(seed)
    rows = []
    for m in range(rnd.randint(1, 8)):
        t = dt.datetime(2024, 1, 1) + dt.timedelta(days=rnd.randrange(30))
        for _ in range(rnd.randint(1, 10)):
            t += dt.timedelta(minutes=rnd.choice([0, 0, 5, 600, 60 * 24 * 30]))
            when = t.strftime("%Y-%m-%dT%H:%M")
            order = f"O{rnd.randint(1, 4)}"  # few ids per member: reused, interleaved
            kind = rnd.choice(["purchase", "purchase", "purchase", "return"])
            item = rnd.choice(["basic wash", "wash and wax", "coffee", ""])
            amount = "0.00" if kind == "return" and rnd.random() < 0.5 else f"{rnd.randint(0, 400)}.00"
            rows.append([f"M{m}", when, kind, order, item, "", str(rnd.randint(1, 3)), amount, "", ""])
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    history = build_history(cols, "irregular.csv", 2,
                            ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone))
    krows = _Rows(history, prog)
    starts = np.flatnonzero(krows.new & krows.grouped)
    fast = _irregular_members(krows)
    assert fast.tolist() == _irregular_members_by_lexsort(krows, starts).tolist()
    plan, vec, ref = _both(path, prog, history)
    assert vec.canonical() == ref.canonical()


def test_irregular_members_found_by_a_key_repeated_at_one_moment(programs):
    """Two returns of one order at one moment with a purchase between them, and two order-less purchases at one
    moment with a keyed one between: irregular (the scalar groups them by key) though every keyed purchase's
    order is new; a member whose keys never repeat is not."""
    from loyalty.simulate.vector.kernel import _irregular_members, _irregular_members_by_lexsort, _Rows

    path, prog = programs[0]
    rows = [["A", "2024-01-02T10:00", "purchase", "O1", "basic wash", "", "1", "35.00", "", ""],
            ["A", "2024-01-03T10:00", "return", "O1", "basic wash", "", "1", "0.00", "", ""],
            ["A", "2024-01-03T10:00", "purchase", "O2", "coffee", "", "1", "6.00", "", ""],
            ["A", "2024-01-03T10:00", "return", "O1", "basic wash", "", "1", "0.00", "", ""],
            ["B", "2024-01-02T10:00", "purchase", "", "basic wash", "", "1", "35.00", "", ""],
            ["B", "2024-01-02T10:00", "purchase", "O3", "coffee", "", "1", "6.00", "", ""],
            ["B", "2024-01-02T10:00", "purchase", "", "coffee", "", "1", "6.00", "", ""],
            ["C", "2024-01-02T10:00", "purchase", "O4", "basic wash", "", "1", "35.00", "", ""],
            ["C", "2024-01-02T10:00", "return", "O4", "basic wash", "", "1", "0.00", "", ""],
            ["C", "2024-01-02T11:00", "purchase", "O5", "coffee", "", "1", "6.00", "", ""]]
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    history = build_history(cols, "moment.csv", 2,
                            ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone))
    krows = _Rows(history, prog)
    found = _irregular_members(krows)
    assert found.tolist() == _irregular_members_by_lexsort(krows, np.flatnonzero(krows.new & krows.grouped)).tolist()
    assert sorted(history.values_of("member", found)) == ["A", "B"]


# program-wide budgets on points per spend and on multipliers: a points budget and one counted at cost, which
# run out during the history and are solved by passes (simulate/budgets.py), the kernel claiming as the scalar
BUDGETS = """
program "Budgets" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
}
points "points" {
  cost 0.10 NOK each
  expire 2 months after earning
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
store "North" in region "Up"
rule "a point per 10 NOK" {
  earn 1 point per 10 NOK
  budget 4000 points
}
campaign "north" {
  in store "North"
  budget 300 NOK
  rule "double" {
    earn 2x points
  }
  rule "coffee triple" {
    earn 3x points
    on "coffee"
  }
}
rule "washes" {
  earn 2 points per 10 NOK
  on category "washes"
}
"""
INLINE["BUDGETS"] = BUDGETS
# the same with tiers by the points earned in the month: what a budget cuts moves the tier, the tier moves what
# the multipliers claim (their extra is on the tier's), and a tier's discount moves what is paid
INLINE["TIER_BUDGETS"] = BUDGETS + """
tiers by points earned in the calendar month {
  tier "silver" from 30 points {
    earn 1.5x points
  }
  tier "gold" from 150 points {
    earn 2x points
    get 10% off
  }
  downgrade at the end of each month with 1 week grace
}
"""


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 40), max_events=st.sampled_from([3, 12, 40]),
       which=st.sampled_from(["BUDGETS", "TIER_BUDGETS"]))
def test_budgets_solved_by_passes_on_the_kernel_equal_the_scalar_passes(tmp_path_factory, seed, members, max_events,
                                                                         which):
    from loyalty.simulate.parallel import simulate_in_process

    path, prog = _program(tmp_path_factory, which)
    assert supports(prog, None) is None
    history = _history(prog, seed, members, max_events)
    plan = _plan(path, prog, history, seed)
    vec = simulate_in_process(plan, history, kernel="vector")
    ref = simulate_in_process(plan, history, kernel="python")
    assert vec.canonical() == ref.canonical()
    assert _report(plan, history, vec) == _report(plan, history, ref)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 12), max_events=st.sampled_from([3, 12, 40]))
def test_vector_equals_scalar_on_member_prices_order_amounts_and_bundles(programs, seed, members, max_events):
    """The member price, the amount off the order and bundles, vectorised (discount.vector_discount_rules,
    bundle.vector_bundle), against the scalar plan member by member: each rule's discount, and the whole
    result."""
    path, prog = next(p for p in programs if p[0].endswith("offers.loyalty"))
    history = _history(prog, seed, members, max_events)
    plan, vec, ref = _both(path, prog, history, seed=seed)
    assert vec.canonical() == ref.canonical()
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical(), member


# ------------------------------------------------------------------ caps on earning, budgets on fixed earns and gifts

# caps of their own on earning parts (limits.vector_part_caps): points per month on a base part, times per week,
# a multiplier's points cap shared by the parts of both rules it multiplies, a times cap per day on another
EARNING_CAPS = """
program "Earning caps" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
}
points "points" {
  cost 0.10 NOK each
  expire 2 months after earning
}
catalog {
  category "washes"
  category "extras"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "extras" costing 6 NOK
}
store "North" in region "Up"
reward "free coffee" is a free "coffee"
redeem 100 points for "free coffee"
rule "a point per 10 NOK" {
  earn 1 point per 10 NOK
  at most 150 points per member per month
}
rule "washes" {
  earn 2 points per 10 NOK
  on category "washes"
  at most 3 times per member per week
}
rule "double in the north" {
  earn 2x points
  in store "North"
  at most 200 points per member
}
rule "coffee triple" {
  earn 3x points
  on "coffee"
  at most 2 times per member per day
}
rule "welcome" {
  earn 40 points
  on signup
}
"""
INLINE["EARNING_CAPS"] = EARNING_CAPS
# with tiers by the points earned in the month: what a cap cuts moves the tier, the tier moves what is claimed
INLINE["TIER_EARNING_CAPS"] = EARNING_CAPS + """
tiers by points earned in the calendar month {
  tier "silver" from 30 points {
    earn 1.5x points
  }
  tier "gold" from 150 points {
    earn 0.5x points
    get 10% off
  }
  downgrade at the end of each month with 1 week grace
}
"""
# budgets on fixed earns (on signup, every purchase, an action, counted triggers sharing a campaign's budget)
# and on gifts (all or nothing, after every N visits and after every X spent: several firings on one event)
GIFT_BUDGETS = """
program "Budgets on gifts and fixed earns" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
}
points "points" {
  cost 0.10 NOK each
  expire 2 months after earning
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
reward "free coffee" is a free "coffee"
reward "mug" is a gift "mug" costing 40 NOK
redeem 100 points for "free coffee"
rule "welcome" {
  earn 50 points
  on signup
  budget 400 points
}
rule "a point per 10 NOK" {
  earn 1 point per 10 NOK
  budget 3000 points
}
rule "launch bonus" {
  earn 20 points
  budget 200 NOK
}
rule "mug every 3rd visit" {
  give "mug"
  after every 3 visits
  budget 200 NOK
}
rule "coffee for every 500 NOK" {
  give "free coffee"
  after every 500 NOK spent
  budget 60 NOK
}
rule "review" {
  earn 30 points
  on action "rated"
  budget 300 points
}
rule "points for every 300 NOK" {
  earn 10 points
  after every 300 NOK spent
  budget 200 points
}
campaign "spring" {
  budget 500 points
  rule "first purchase bonus" {
    earn 25 points
    on first purchase
  }
  rule "spring bonus" {
    earn 15 points
  }
  rule "5th visit bonus" {
    earn 15 points
    on the 5th visit
  }
}
# a gift and points sharing a budget in money: on a purchase the points claim first (the earning phase)
campaign "autumn" {
  budget 150 NOK
  rule "autumn mug" {
    give "mug"
    after every 2 visits
  }
  rule "autumn points" {
    earn 30 points
  }
}
"""
INLINE["GIFT_BUDGETS"] = GIFT_BUDGETS


# expiry at a period's end (points.vector_expiry_moments): next month's or next week's end, with points that
# wait a week, redemptions
PERIOD_END = """
program "Period end" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
}
points "points" {
  cost 0.10 NOK each
  expire at the end of the next calendar month
  available 1 week after purchase
}
points "stars" {
  cost 1 NOK each
  expire at the end of the next calendar week
  balance stops at zero
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
reward "free coffee" is a free "coffee"
redeem 30 points for "free coffee"
redeem 5 stars for "free coffee"
rule "a point per 10 NOK" {
  earn 1 point per 10 NOK
}
rule "a star per 50 NOK" {
  earn 1 star per 50 NOK
}
rule "welcome" {
  earn 3 stars
  on signup
}
"""
INLINE["PERIOD_END"] = PERIOD_END


def _rows(prog, rows):
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    return build_history(cols, "written.csv", 2,
                         ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone))


def _vector_and_scalar(tmp_path_factory, which, history_of):
    """The kernel's and the scalar plan's results, both with the budget passes (simulate/budgets.py)."""
    from loyalty.simulate.parallel import simulate_in_process

    path, prog = _program(tmp_path_factory, which)
    assert supports(prog, None) is None
    history = history_of(prog)
    plan = _plan(path, prog, history)
    vec = simulate_in_process(plan, history, kernel="vector")
    ref = simulate_in_process(plan, history, kernel="python")
    assert vec.canonical() == ref.canonical()
    assert _report(plan, history, vec) == _report(plan, history, ref)
    return vec


def _purchase(member, when, order, amount, item="basic wash", store=""):
    return [member, when, "purchase", order, item, "", "1", amount, store, ""]


def test_a_budget_running_out_mid_day_across_members(tmp_path_factory):
    """The launch bonus (20 points a purchase, 200 NOK at 0.10 NOK a point: 2000 points) runs out in the
    middle of a day between three members: whoever comes first in time gets it, the claim at the cutoff gets
    what is left, nobody after, whatever the member's name."""
    rows = [_purchase("C", f"2024-02-01T09:{i:02d}", f"C{i}", "1.00") for i in range(40)]  # 800 points
    rows += [_purchase("A", f"2024-02-01T10:{i:02d}", f"A{i}", "1.00") for i in range(55)]  # 1100 points
    rows += [_purchase("B", "2024-02-01T11:00", "B1", "1.00"),  # 100 left: 20, 20, 20, 20, 20
             _purchase("B", "2024-02-01T11:01", "B2", "1.00"), _purchase("B", "2024-02-01T11:02", "B3", "1.00"),
             _purchase("B", "2024-02-01T11:03", "B4", "1.00"), _purchase("B", "2024-02-01T11:04", "B5", "1.00"),
             _purchase("A", "2024-02-01T11:04", "A99", "1.00"),  # the minute of B5: A is served first (by id)
             _purchase("A", "2024-02-01T12:00", "A100", "1.00")]
    vec = _vector_and_scalar(tmp_path_factory, "GIFT_BUDGETS", lambda prog: _rows(prog, rows))
    assert vec.cells[("rule", "launch bonus", "points_issued")] == 2000
    assert vec.cells[("budget", "rule:launch bonus", "times")] == 2  # B at 11:04 and A at 12:00 get nothing
    assert vec.cells[("budget", "rule:launch bonus", "truncated")] == 40
    # the spring campaign's 500 points are gone (15 a purchase) before A's and B's first purchases: C's alone
    assert vec.cells[("rule", "first purchase bonus", "points_issued")] == 25


def test_a_budget_running_out_at_the_last_row_of_a_member_in_two_passes(tmp_path_factory, monkeypatch):
    """The launch bonus's 2000 points (20 a purchase) are exactly C's 100 purchases: the budget runs out at her
    last row, whole, and A, who comes after, gets none; the spring campaign's 500 points run out too, earlier
    (C's first purchase bonus, then 15 a purchase). Two budgets that run out: the passes guess both cutoffs
    after the first pass and the second pass's claims confirm them (simulate/budgets.py), two passes, not three;
    kernel and scalar plan agree."""
    import loyalty.simulate.budgets as budgets

    passes = []
    real = budgets.find_cutoffs
    monkeypatch.setattr(budgets, "find_cutoffs", lambda *a: passes.append(1) or real(*a))
    rows = [_purchase("C", f"2024-02-{1 + i // 50:02d}T{8 + i % 50 // 10:02d}:{i % 10:02d}", f"C{i}", "1.00")
            for i in range(100)]
    rows += [_purchase("A", f"2024-02-03T10:{i:02d}", f"A{i}", "1.00") for i in range(5)]
    vec = _vector_and_scalar(tmp_path_factory, "GIFT_BUDGETS", lambda prog: _rows(prog, rows))
    assert vec.cells[("rule", "launch bonus", "points_issued")] == 2000
    assert ("budget", "rule:launch bonus", "times") not in vec.cells or \
        vec.cells[("budget", "rule:launch bonus", "times")] == 5  # A's five, refused whole
    assert vec.cells[("rule", "first purchase bonus", "points_issued")] == 25  # C's; A's comes after spring ran out
    assert set(vec.exhausted) >= {"rule:launch bonus", "campaign:spring"}
    assert len(passes) == 2 * 2  # two passes, for the kernel and for the scalar plan


def test_the_tier_and_spend_passes_settle_to_the_same_result_from_any_first_guess(tmp_path_factory):
    """`warm` (simulate_vector) is only a first guess of the tiers members hold and of their spend before each
    event: garbage in it changes how many passes settle them, never the result; and what a run leaves in it
    is the settled answer, from which the next run needs no further pass."""
    import numpy as np

    for which, seed, guessed in (("TIER_BUDGETS", 3, "tier_guess"), ("TIER_BUDGETS", 8, "tier_guess"),
                                 ("examples/programs/discount_card.loyalty", 5, "spend_before")):
        path, prog = _program(tmp_path_factory, which)
        history = _history(prog, seed, 12, 40)
        plan = _plan(path, prog, history, seed)
        warm: dict = {}
        ref = _vector_solved(plan, history, warm=warm)
        assert ref.canonical() == simulate(plan, history).canonical()
        assert guessed in warm  # what the run settled on, kept for the next
        assert _vector_solved(plan, history, warm=warm).canonical() == ref.canonical()
        rng = np.random.default_rng(seed)
        for _ in range(3):
            if "tier_guess" in warm:  # any tier the program has, or none
                warm["tier_guess"] = rng.integers(-1, len(prog.tiers.tiers), len(warm["tier_guess"]))
            if "spend_before" in warm:
                warm["spend_before"] = rng.integers(-10**6, 10**7, len(warm["spend_before"]))
            assert _vector_solved(plan, history, warm=warm).canonical() == ref.canonical()


def test_a_gift_budget_is_all_or_nothing_and_a_return_gives_nothing_back(tmp_path_factory):
    """Mugs cost 40 NOK against a budget of 200 NOK: five mugs (every 3rd visit), the sixth refused whole;
    returning an order the mug came with does not free the budget for the next member."""
    rows = [_purchase("A", f"2024-02-0{d}T10:00", f"A{d}", "1.00") for d in range(1, 10)]  # 3 mugs
    rows += [["A", "2024-02-09T11:00", "return", "A9", "", "", "", "0.00", "", ""]]
    rows += [_purchase("B", f"2024-02-1{d}T10:00", f"B{d}", "1.00") for d in range(0, 9)]  # 2 mugs, then none
    vec = _vector_and_scalar(tmp_path_factory, "GIFT_BUDGETS", lambda prog: _rows(prog, rows))
    assert vec.cells[("rule", "mug every 3rd visit", "rewards")] == 5
    assert vec.cells[("budget", "rule:mug every 3rd visit", "times")] == 1
    assert vec.cells[("budget", "rule:mug every 3rd visit", "truncated")] == 4000  # the refused mug's cost


def test_a_cap_reached_in_one_order_and_a_return_after_it(tmp_path_factory):
    """150 points a month of the point per 10 NOK: one 2,000 NOK order earns 150 of its 200 (a cap_reached
    of 50); returning it takes back the 150 it earned and leaves the cap used: a later order that month
    earns nothing of that rule, one in the next month earns again."""
    rows = [_purchase("A", "2024-02-01T10:00", "A1", "2000.00", item="coffee"),
            ["A", "2024-02-02T10:00", "return", "A1", "", "", "", "0.00", "", ""],
            _purchase("A", "2024-02-03T10:00", "A2", "100.00", item="coffee"),
            _purchase("A", "2024-03-01T10:00", "A3", "100.00", item="coffee")]
    vec = _vector_and_scalar(tmp_path_factory, "EARNING_CAPS", lambda prog: _rows(prog, rows))
    assert vec.cells[("rule", "a point per 10 NOK", "points_issued")] == 150 + 10
    assert vec.cells[("rule", "a point per 10 NOK", "points_clawed_back")] == 150
    assert vec.cells[("cap", "a point per 10 NOK", "times")] == 2  # the 2,000 NOK order, the second in February
    assert vec.cells[("cap", "a point per 10 NOK", "truncated")] == 50 + 10
    # the coffee's triple is a part of its own, not cut by the base's cap: 400 of the 2,000 NOK order
    assert vec.cells[("rule", "coffee triple", "points_issued")] == 400 + 20 + 20


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 40), max_events=st.sampled_from([3, 12, 40]),
       which=st.sampled_from(["EARNING_CAPS", "TIER_EARNING_CAPS", "GIFT_BUDGETS", "PERIOD_END",
                              "benchmarks/programs/store_load.loyalty", "examples/programs/grocery_club.loyalty",
                              "benchmarks/programs/every_mechanic.loyalty"]))
def test_caps_and_budgets_on_the_kernel_equal_the_scalar(tmp_path_factory, seed, members, max_events, which):
    _vector_and_scalar(tmp_path_factory, which, lambda prog: _history(prog, seed, members, max_events))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(2, 6), max_events=st.sampled_from([12, 40]),
       which=st.sampled_from(["EARNING_CAPS", "TIER_EARNING_CAPS", "PERIOD_END"]))
def test_earning_caps_and_period_end_member_by_member(tmp_path_factory, seed, members, max_events, which):
    """Each member alone (a cap is per member): every cell, the kernel's against the scalar plan's."""
    path, prog = _program(tmp_path_factory, which)
    history = _history(prog, seed, members, max_events)
    plan = _plan(path, prog, history, seed)
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical(), member


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), which=st.sampled_from(["stacking", "stacking_one", "stacking_line",
                                                         "stacking_line_only"]),
       members=st.integers(1, 12), max_events=st.sampled_from([3, 12, 40]))
def test_vector_equals_scalar_under_stacking_policies(programs, seed, which, members, max_events):
    """Stacking (mechanics/stacking.vector_lost beside Stacked.run): which discount wins each order, on the
    kernel and on the scalar plan, member by member: each rule's discount, and the whole result."""
    path, prog = next(p for p in programs if p[0].endswith(f"/{which}.loyalty"))
    history = _history(prog, seed, members, max_events)
    plan, vec, ref = _both(path, prog, history, seed=seed)
    assert vec.canonical() == ref.canonical()
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical(), member



# ------------------------------------------------------------------ stock, codes and adjustments on the kernel

# a reward's stock claimed by two rules (one on visits, one on purchases, one giving two rewards in one event)
# and a stock shared with no other limit: it runs out during the history, exactly as the scalar passes say
STOCK = GIFTS.replace('reward "cloth" is a gift "cloth" costing 5 NOK',
                      'reward "cloth" is a gift "cloth" costing 5 NOK limited to 7').replace(
    'reward "cap" is a gift "cap"', 'reward "cap" is a gift "cap" limited to 3').replace(
    "  at most once per member per month\n", "")
INLINE["STOCK"] = STOCK


def _passes_both(plan, history):
    """The kernel's and the scalar plan's result of the whole run, budgets, stock and codes' uses solved by
    passes (simulate/budgets.py) either way."""
    from loyalty.simulate.parallel import simulate_in_process

    return simulate_in_process(plan, history, kernel="vector"), simulate_in_process(plan, history, kernel="python")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 30), max_events=st.sampled_from([3, 12, 40]))
def test_stock_claimed_on_the_kernel_equals_the_scalar_passes(tmp_path_factory, seed, members, max_events):
    path, prog = _program(tmp_path_factory, "STOCK")
    assert supports(prog, None) is None
    history = _history(prog, seed, members, max_events)
    plan = _plan(path, prog, history, seed)
    vec, ref = _passes_both(plan, history)
    assert vec.canonical() == ref.canonical()
    assert _report(plan, history, vec) == _report(plan, history, ref)


# codes on every kind of rule the kernel runs: two rules wanting one code, a code with a total and one without,
# a code on a rule with conditions (used only where they hold), on a gift whose stock runs out
CODES = """
program "Codes" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
}
points "points" {
  cost 0.01 NOK each
  expire 2 months after earning
}
catalog {
  category "washes"
  category "extras"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "extras" costing 6 NOK
}
store "North" in region "Up"
reward "mug" is a gift "mug" costing 20 NOK limited to 4
code "SPRING" limited to 5 uses
code "WELCOME"
code "DOUBLE" limited to 3 uses
code "MUG"
rule "points" {
  earn 1 point per 1 NOK
}
rule "spring bonus" {
  with code "SPRING"
  earn 500 points
  when order total >= 300 NOK
}
rule "spring coffee" {
  with code "SPRING"
  earn 3 points per 1 NOK on "coffee"
  in store "North"
}
rule "welcome discount" {
  with code "WELCOME"
  get 15% off
}
rule "double" {
  with code "DOUBLE"
  earn 2x points
}
rule "mug" {
  with code "MUG"
  give "mug"
  when order total >= 50 NOK
}
rule "free wash" {
  with code "WELCOME"
  every 3rd "basic wash" is free
}
"""
INLINE["CODES"] = CODES
CODE_NAMES = ("SPRING", "WELCOME", "DOUBLE", "MUG")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 30), max_events=st.sampled_from([3, 12, 40]))
def test_codes_weighed_on_the_kernel_equal_the_scalar_passes(tmp_path_factory, seed, members, max_events):
    path, prog = _program(tmp_path_factory, "CODES")
    assert supports(prog, None) is None
    history = _history(prog, seed, members, max_events, codes=CODE_NAMES)
    plan = _plan(path, prog, history, seed)
    vec, ref = _passes_both(plan, history)
    assert vec.canonical() == ref.canonical()
    assert _report(plan, history, vec) == _report(plan, history, ref)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(2, 6), max_events=st.sampled_from([12, 40]))
def test_codes_on_the_kernel_member_by_member(tmp_path_factory, seed, members, max_events):
    """Each member alone (every cell: per rule, month, code and reason), so that one member's error cannot hide
    behind another's in a total."""
    path, prog = _program(tmp_path_factory, "CODES")
    history = _history(prog, seed, members, max_events, codes=CODE_NAMES)
    plan = _plan(path, prog, history, seed)
    for member, _, _ in history.member_slices():
        vec, ref = _passes_both(plan, history.select_members([member]))
        assert vec.canonical() == ref.canonical(), member


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), which=st.integers(0, len(PROGRAMS) - 1), members=st.integers(2, 6),
       max_events=st.sampled_from([3, 12, 40]))
def test_points_adjustments_on_the_kernel_member_by_member(programs, seed, which, members, max_events):
    """Adjustment rows between the events of every test program: points added (to the one kind, or a kind
    named) run on the kernel, crediting at once and expiring as earned points do, counted apart from them;
    a member with any other adjustment goes to the scalar plan, counted in ROUTED. Every cell, member by
    member, against the scalar plan."""
    from loyalty.simulate.vector.kernel import ROUTED

    path, prog = programs[which]
    history = _history(prog, seed, members, max_events, adjustments=0.25)
    plan = _plan(path, prog, history, seed)
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        before = ROUTED["adjustments other than points added"]
        vec = simulate_vector(plan, alone, tail_members=0)
        assert vec.canonical() == simulate(plan, alone).canonical(), member
        routed = ROUTED["adjustments other than points added"] - before
        kinds = alone.column("adjust")
        names = {k.name for k in prog.kinds}  # (a kind the program lacks, e.g. "miles" in most, is not points added)
        added = all(a is None or (a.startswith("points +") and (item in names if item else len(prog.kinds) == 1))
                    for a, item in zip(kinds, alone.column("item")))
        assert routed == (0 if added else 1), member
    plan, vec, ref = _both(path, prog, history, seed=seed)
    assert vec.canonical() == ref.canonical()
    assert _report(plan, history, vec) == _report(plan, history, ref)


HAND = """
program "Hand" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  expire 1 year after earning
}
reward "bag" is a gift "bag" costing 45 NOK limited to 1
code "ONCE" limited to 1 uses
code "FREE"
rule "points" {
  earn 1 point per 1 NOK
}
rule "once" {
  with code "ONCE"
  earn 100 points
}
rule "free" {
  with code "FREE"
  earn 10 points
}
rule "bag" {
  give "bag"
  when order total >= 500 NOK
}
"""


def test_codes_stock_and_adjustments_on_a_hand_computed_history(tmp_path):
    """The stock runs out mid-day (a's order takes the one bag at 10:00, b's at 11:00 is refused); ONCE's one
    use is a's, so b is refused for no uses left; a carries FREE a second time (used before); a's opening
    balance stays when her order comes back (only what the order earned is taken back); c's balance set goes
    to the scalar plan, counted. The kernel's result equals the scalar plan's and the figures worked out here."""
    from loyalty.simulate.result import KEY_SEP
    from loyalty.simulate.vector.kernel import ROUTED

    path = tmp_path / "hand.loyalty"
    path.write_text(HAND)
    prog = load_program(str(path))
    rows = [  # member, time, type, order, amount, codes, adjust, reason
        ("a", "2025-03-01T09:00", "adjustment", "", "", "", "points +500", "opening balance"),
        ("a", "2025-03-01T10:00", "purchase", "o1", "600.00", "ONCE FREE", "", ""),
        ("b", "2025-03-01T11:00", "purchase", "o2", "700.00", "ONCE", "", ""),
        ("a", "2025-03-02T10:00", "purchase", "o3", "100.00", "FREE", "", ""),
        ("a", "2025-03-03T10:00", "return", "o1", "0.00", "", "", ""),
        ("c", "2025-03-01T08:00", "adjustment", "", "", "", "points =50", "correction"),
        ("c", "2025-03-01T12:00", "purchase", "o4", "100.00", "", "", ""),
    ]
    header = ["member", "time", "type", "order", "amount", "codes", "adjust", "reason"]
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(header)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    history = build_history(cols, "hand.csv", 2, options)
    plan = _plan(str(path), prog, history)
    before = ROUTED["adjustments other than points added"]
    vec, ref = _passes_both(plan, history)
    assert ROUTED["adjustments other than points added"] - before >= 1  # c, in each budget pass
    assert vec.canonical() == ref.canonical()
    cells = vec.cells
    assert [cells.get(("code", "ONCE", c), 0) for c in ("used", "no_uses_left")] == [1, 1]
    assert [cells.get(("code", "FREE", c), 0) for c in ("used", "already_used_by_this_member")] == [1, 1]
    assert cells[("stock", "bag", "refused")] == 1 and cells[("reward", "bag", "given")] == 1
    assert cells[("adjustment", f"opening balance{KEY_SEP}points", "points_added")] == 500
    # outstanding: a 500 + (600 + 100 + 10) + 100 - (600 + 100 + 10) back; b 700; c set to 50, then 100
    outstanding = {row[0]: int(row[5]) for row in vec.canonical()["members"]}
    assert outstanding == {"a": 600, "b": 700, "c": 150}


@pytest.mark.parametrize("seed", [3, 11])
def test_balance_conditions_joined_by_and_one_by_one(tmp_path_factory, seed):
    """A gift's `when` joining balance comparisons by `and` (and `not`), read at each event one by one (the
    lockstep's tail, kernel._expr_one) as in the lockstep, equal to the scalar plan's."""
    text = BALANCES.replace("when points balance >= 150 points",
                            "when points balance >= 150 points and not stamps balance < 3 stamps")
    assert text != BALANCES
    path = tmp_path_factory.mktemp("inline") / "balances_and.loyalty"
    path.write_text(text)
    prog = load_program(str(path))
    history = _history(prog, seed, 60, 40)
    plan, vec, ref = _both(str(path), prog, history, seed=seed)
    assert vec.canonical() == ref.canonical()


# multipliers on a whole order (a time of day, weekdays) and on some lines (an item) in turn, each below and above
# 1x, with a tier's factor: the kernel multiplies an order's sum at once for the former (earn.vector_points) and
# must still apply them to the lines a later filtered multiplier sums
MIXED_MULTIPLIERS = """
program "Mixed multipliers" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  round ROUNDING
  balance may go negative
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
rule "base" {
  earn 2 points per 3 NOK
}
rule "evenings" {
  earn 1.5x points
  between 17:00 and 23:00
}
rule "double coffee" {
  earn 2x points on "coffee"
}
rule "slow mondays" {
  earn 0.75x points
  on mondays
}
rule "wash weekends" {
  earn 3x points on "basic wash"
  on saturdays, sundays
}
tiers by lifetime spend {
  tier "gold" from 300 NOK {
    earn 1.25x points
  }
}
"""


@pytest.mark.parametrize("rounding", ["half even per order", "up per order", "down per order", "half up per line"])
@pytest.mark.parametrize("seed", [5, 23])
def test_order_and_line_multipliers_in_turn(tmp_path_factory, rounding, seed):
    path = tmp_path_factory.mktemp("inline") / "mixed_multipliers.loyalty"
    path.write_text(MIXED_MULTIPLIERS.replace("ROUNDING", rounding))
    prog = load_program(str(path))
    history = _history(prog, seed, 40, 40)
    plan, vec, ref = _both(str(path), prog, history, seed=seed)
    assert vec.canonical() == ref.canonical()


@pytest.mark.parametrize("which", ["TIER_ROLLING", "TIER_ROLLING_EARNED", "benchmarks/programs/tiered_returns.loyalty"])
@pytest.mark.parametrize("seed", [1, 7])
def test_rolling_windows_with_returns_taken_back_at_their_orders(programs, which, seed):
    """A rolling tier window whose returns take back from their orders (tiers.VectorTiers' `dec`): what leaves
    the window as members' window starts pass their orders, many members and steps at once, reviews between;
    the kernel's result equal to the scalar plan's (a step skips `dec` where no member's window passed her
    earliest order in it: `dec_first`)."""
    path, prog = next(p for p in programs if p[0].endswith(f"/{which.lower()}.loyalty") or p[0].endswith(which))
    history = _history(prog, seed, 80, 40)
    plan, vec, ref = _both(path, prog, history, seed=seed)
    assert vec.canonical() == ref.canonical()


BIG_ORDER = """program "Big orders" {
  currency NOK
}
points "points" {
  cost 0.01 NOK each
}
rule "base" {
  earn 100000 points per 1 NOK
}
rule "evenings" {
  earn 1.5x points
  between 17:00 and 23:00
}
"""


def test_an_order_too_large_for_64_bit_points_is_the_scalar_plans(tmp_path):
    """earn.vector_points' bound (the kernel's largest order, `max_event_amount`): an order whose points
    numerators pass int64 sends its group to the scalar plan, whose report the kernel's must equal (with the
    bound wrong, the kernel wraps the order's points silently)."""
    (tmp_path / "p.loyalty").write_text(BIG_ORDER)
    (tmp_path / "h.csv").write_text(
        "member,time,type,order,item,category,quantity,amount\n"
        "m1,2024-01-02T18:00,purchase,o1,wash,washes,1,10000000000000.00\n"
        "m2,2024-01-02T18:00,purchase,o2,wash,washes,1,35.00\n"
        "m2,2024-01-03T10:00,purchase,o3,wash,washes,1,40.00\n")
    reports = []
    for kernel in ("auto", "python"):
        result = CliRunner().invoke(main, ["simulate", str(tmp_path / "p.loyalty"), str(tmp_path / "h.csv"),
                                           "--format", "json", "--kernel", kernel], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        report["assumptions"] = {k: v for k, v in report["assumptions"].items() if not k.startswith("kernel")}
        reports.append(report)
    assert reports[0] == reports[1]
    assert "1500000000009250000" in json.dumps(reports[1])
