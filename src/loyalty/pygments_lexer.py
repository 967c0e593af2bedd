"""A Pygments lexer for `.loyalty` programs, so docs, notebooks and anything else that uses
Pygments highlight them (registered as the `loyalty` lexer in pyproject.toml's
`pygments.lexers` entry point).

It highlights by the shape of each word, as an editor does, not by the parser's state: the
grammar's keywords are contextual, so a word such as `points` is a keyword in `points "stars"`
and a point kind's name in `earn 100 points`; both are shown as keywords. The keyword lists
below are checked against grammar/loyalty.lark by tests/test_pygments_lexer.py.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Literal, Name, Number, Operator, Punctuation, String, Whitespace

# words that start a declaration (a top-level block, or an entry of a catalog or tier ladder)
DECLARATION_KEYWORDS = (
    "program", "points", "catalog", "category", "item", "segment", "store", "reward", "redeem",
    "rule", "campaign", "tiers", "tier", "draw", "params", "code",
)
# the logic of `when` expressions
LOGICAL_KEYWORDS = ("and", "or", "not")
# every other word of the grammar
KEYWORDS = (
    "a", "action", "after", "are", "at", "available", "back", "balance", "between", "birthday", "budget",
    "by", "calendar", "card", "channel", "cost", "costing", "currency", "discount", "down", "downgrade",
    "each", "earn", "earned", "earning", "end", "entry", "even", "every", "expire", "first", "for", "free",
    "from", "get", "gift", "give", "go", "grace", "half", "has", "held", "in", "is", "items", "kept", "last",
    "lifetime", "line", "may", "member", "most", "negative", "next", "of", "off", "on", "once", "only",
    "order", "paid", "pending", "per", "perk", "prize", "purchase", "referral", "region", "return",
    "returns", "rewards", "round", "runs", "signup", "spend", "spent", "stops", "take", "taken", "the",
    "times", "timezone", "to", "total", "until", "up", "visit", "visits", "when", "winners", "with",
    "without", "zero",
    # parameters (`param "name"` where a literal stands), and how long returns and late events are accepted
    "param", "accepted", "within", "late", "events",
    # moments without a purchase and offers with a lifetime
    "membership", "anniversary", "reaching", "valid",
    # goals and streaks
    "consecutive", "different", "purchases", "quarters",
    # two-sided referral
    "referring", "friend", "who", "spends", "least", "being", "referred", "spending",
    # stock on rewards, codes' uses
    "limited", "uses",
    # enrolment (`members join at signup`, `purchases up to 30 days before signup count`)
    "members", "join", "before", "count",
    # fixed-price and amount-off offers, same-order bundles
    "orders", "over", "costs", "buy", "price",
    # stacking policy
    "one", "discounts", "stack", "exclusive", "priority", "best", "gifts",
    # paid tiers
    "fee",
    # periods and duration units
    "day", "days", "week", "weeks", "month", "months", "quarter", "year", "years",
    # weekdays
    "mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays", "weekdays", "weekends",
)

_NUMBER = r"-?\d+(?:\.\d+)?"


class LoyaltyLexer(RegexLexer):
    """Lexer for loyalty programs (`.loyalty` files)."""

    name = "Loyalty"
    aliases = ["loyalty"]
    filenames = ["*.loyalty"]
    mimetypes = ["text/x-loyalty"]

    tokens = {
        "root": [
            (r"[ \t\f\r\n]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"', String.Double, "string"),
            # the longer literals first, as in the grammar's terminal priorities
            (r"\d{4}-\d{2}-\d{2}\b", Literal.Date),
            (r"\d{1,2}:\d{2}\b", Literal.Date),  # a time of day
            (r"\d+(?:st|nd|rd|th)\b", Number.Integer),  # an ordinal: 6th
            (_NUMBER + r"x\b", Number),  # a multiplier: 1.5x
            (_NUMBER + "%", Number),  # a percentage
            # money: an amount and its currency code (35 NOK)
            (r"(" + _NUMBER + r")([ \t\f\r\n]+)([A-Z]{3})\b", bygroups(Number, Whitespace, Name.Constant)),
            (r"-?\d+\.\d+", Number.Float),
            (r"-?\d+", Number.Integer),
            (r"[A-Z]{3}\b", Name.Constant),  # a currency code on its own: currency NOK
            (words(DECLARATION_KEYWORDS, prefix=r"\b", suffix=r"\b"), Keyword.Declaration),
            (words(LOGICAL_KEYWORDS, prefix=r"\b", suffix=r"\b"), Operator.Word),
            (words(KEYWORDS, prefix=r"\b", suffix=r"\b"), Keyword),
            (r"[a-z][a-z_]*", Name.Variable),  # a point kind's name: stars, bonus_points
            (r">=|<=|!=|[<>=]", Operator),
            (r"[{}(),]", Punctuation),
        ],
        "string": [
            (r'[^"\\\n]+', String.Double),
            (r'\\(?:["\\ntr0]|u[0-9A-Fa-f]{4})', String.Escape),
            (r'"', String.Double, "#pop"),
            # an unknown escape (LOY004) and a string cut by the end of the line fall to Error
        ],
    }
