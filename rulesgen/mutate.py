"""`rulesgen mutate`: how sharp the generated tests are.

For every alert, mutation operators change one thing at a time in the deployed rules
the alert depends on (its alerting rules and the recording rules they read, the same
closure `rulesgen test` runs), and the alert's generated tests run against each
mutant with promtool. A mutant the tests fail is killed; one they pass survived: a
wrong rule that would have shipped unnoticed.

Mutations are made on the PromQL text, located with a small tokenizer (the parser
gives no positions), so the rest of an expression keeps its exact spelling; every
mutant must parse with promql_parser or it is discarded.

A mutant is reported as equivalent, and left out of the score, only when that is
provable from the rules alone:

- its expression is the original one after the parser's normalization, or
- `sum` became `max`, `min` or `avg` over a selector of a recording rule that is
  itself an aggregation `by (L)`, and every label of `L` not fixed by an `=` matcher
  of the selector is in the outer `by`: every group then holds exactly one series,
  on which all four aggregations agree.
- a `for` changed so little that the alert fires at the same evaluation of its
  group's interval; a denominator guard `/ (D > 0)` whose quotient is NaN, which
  no comparison keeps, wherever D is 0; a matcher whose extra series can never
  reach the alert (proofs in `rulesgen.equivalence`).

Everything else counts: score = killed / (mutants - equivalent).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import operator
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rulesgen.equivalence import Closure, for_mutant_equivalent, guard_drop_equivalent, matcher_drop_equivalent
from rulesgen.promql import Duration, escape_string, number
from rulesgen.targets.promtool_tests import TEST_SUFFIX, alert_of
from rulesgen.testrun import (
    AlertResult,
    ClosureGroup,
    describe,
    environments,
    load_deployed,
    read_test,
    rule_closure,
    run_promtool,
    write_run_files,
)

# ---------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class Token:
    kind: str  # string | duration | number | ident | op | punct
    text: str
    start: int
    end: int


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
    |(?P<duration>(?:\d+(?:ms|[smhdwy]))+(?![\w.]))
    |(?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:inf|nan)(?![\w:]))
    |(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    |(?P<op>=~|!~|==|!=|>=|<=|[-+*/%^<>=])
    |(?P<punct>[(){}\[\],:@])
    """,
    re.X,
)
_OPEN = {"(": ")", "[": "]", "{": "}"}
COMPARISONS = (">", "<", ">=", "<=")
_FLIP = {">": "<", "<": ">", ">=": "<=", "<=": ">="}
_BOUNDARY = {">": ">=", "<": "<=", ">=": ">", "<=": "<"}
_AGGREGATIONS = {"sum", "min", "max", "avg", "count", "stddev", "stdvar", "group", "topk", "bottomk", "quantile"}
_FUNCTION_SWAPS = {"rate": "irate", "increase": "delta"}


def tokenize(expr: str) -> list[Token]:
    """PromQL tokens with their offsets; ValueError on a character PromQL has no token for."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None or match.lastgroup is None:
            raise ValueError(f"unexpected character {expr[pos]!r} at {pos}")
        if match.lastgroup != "ws":
            tokens.append(Token(match.lastgroup, match.group(), match.start(), match.end()))
        pos = match.end()
    return tokens


class _Expr:
    """An expression's tokens, bracket pairs, and the text edits mutants are made of."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pair: dict[int, int] = {}
        self.in_braces: set[int] = set()
        stack: list[int] = []
        for i, token in enumerate(self.tokens):
            if token.text in _OPEN and token.kind == "punct":
                stack.append(i)
            elif token.text in (")", "]", "}") and token.kind == "punct":
                if not stack or _OPEN[self.tokens[stack[-1]].text] != token.text:
                    raise ValueError("unbalanced brackets")
                o = stack.pop()
                self.pair[o], self.pair[i] = i, o
                if token.text == "}":
                    self.in_braces.update(range(o + 1, i))
        if stack:
            raise ValueError("unbalanced brackets")

    def tok(self, i: int) -> Token | None:
        return self.tokens[i] if 0 <= i < len(self.tokens) else None

    def is_(self, i: int, kind: str, *texts: str) -> bool:
        t = self.tok(i)
        return t is not None and t.kind == kind and (not texts or t.text in texts) and i not in self.in_braces

    def span(self, first: int, last: int) -> str:
        return self.text[self.tokens[first].start : self.tokens[last].end]

    def edit(self, first: int, last: int, new: str) -> str:
        """The text with tokens `first..last` replaced by `new`."""
        return self.text[: self.tokens[first].start] + new + self.text[self.tokens[last].end :]


# ---------------------------------------------------------------------------
# Operators


@dataclass(frozen=True)
class ExprMutant:
    """One changed expression, named by its operator, with what its survival would mean."""

    operator: str
    expr: str
    explanation: str
    at: int = -1  # token index of the change, where equivalence needs it


Units = Sequence[tuple[float, str]]  # the alert's thresholds: (value, unit)


def _guards(e: _Expr) -> dict[int, tuple[int, int]]:
    """Denominator guards `/ (x > 0)`: comparison index -> (open, close) of its parentheses."""
    found: dict[int, tuple[int, int]] = {}
    for o, c in e.pair.items():
        opens_guard = o < c and e.tokens[o].text == "(" and e.is_(o - 1, "op", "/") and c - o >= 4
        if opens_guard and e.is_(c - 1, "number") and _value(e.tokens[c - 1].text) == 0 and e.is_(c - 2, "op", ">"):
            found[c - 2] = (o, c)
    return found


def _value(text: str) -> float:
    try:
        return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
    except ValueError:
        return math.nan


_ARITH: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


def _constant(text: str) -> float | None:
    """The value of a constant arithmetic expression such as `(14.4 * (1 - 0.99))`."""

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = value(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            return _ARITH[type(node.op)](value(node.left), value(node.right))
        raise ValueError(text)

    try:
        return value(ast.parse(text.replace("^", "**"), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
        return None


def _threshold_operand(e: _Expr, i: int) -> tuple[int, int] | None:
    """Token span of the constant right of comparison `i`, if it is one."""
    j = i + 1
    if e.is_(j, "ident", "bool"):
        j += 1

    def operand(k: int) -> int | None:
        if e.is_(k, "number"):
            return k
        if e.is_(k, "punct", "(") and all(
            t.kind == "number" or t.text in "()+-*/%^" for t in e.tokens[k : e.pair[k] + 1]
        ):
            return e.pair[k]
        return None

    end = operand(j)
    if end is None:
        return None
    while e.is_(end + 1, "op", "+", "-", "*", "/", "%", "^") and (nxt := operand(end + 2)) is not None:
        end = nxt
    return j, end


# The unit (not the alert kind of the same name) of a quantity between 0 and 1.
RATIO_UNIT = "ratio"


def threshold_step(value: float, unit: str | None) -> float:
    """One step of a threshold: counts 1, ratios 0.01 (a tenth of the value below 0.1),
    anything else (seconds, bytes, factors) 1% of the value. Without a known unit,
    integers below 1000 are counts and values in (0, 1) ratios."""
    value = float(value)
    if unit is None:
        unit = "count" if value.is_integer() and abs(value) < 1000 else RATIO_UNIT if 0 < value < 1 else "other"
    if unit == "count":
        return 1.0
    if unit == RATIO_UNIT:
        return min(0.01, abs(value) / 10) or 0.01
    return abs(value) / 100 or 1.0


def _unit(value: float, units: Units) -> str | None:
    for known, unit in units:
        if math.isclose(known, value, rel_tol=1e-9, abs_tol=1e-12):
            return unit
    return None


def _comparisons(e: _Expr, units: Units) -> Iterator[ExprMutant]:
    guards = _guards(e)
    for i, t in enumerate(e.tokens):
        if not e.is_(i, "op", *COMPARISONS) or i in guards:
            continue
        yield ExprMutant(
            "comparison-flipped",
            e.edit(i, i, _FLIP[t.text]),
            f"tests pass with `{t.text}` reversed to `{_FLIP[t.text]}`",
        )
        yield ExprMutant(
            "comparison-boundary",
            e.edit(i, i, _BOUNDARY[t.text]),
            f"no scenario puts the value exactly on the threshold, where `{t.text}` and `{_BOUNDARY[t.text]}` differ",
        )
        operand = _threshold_operand(e, i)
        if operand is None:
            continue
        value = _constant(e.span(*operand))
        if value is None or not math.isfinite(value):
            continue
        step = threshold_step(value, _unit(value, units))
        down = t.text in (">", ">=")  # lowering a `>` threshold makes the alert fire sooner
        for name, new, what in (
            ("threshold-toward-firing", value - step if down else value + step, "healthy scenario sits"),
            ("threshold-toward-silence", value + step if down else value - step, "breach scenario goes"),
        ):
            side = "safe side" if name.endswith("firing") else "far"
            text = number(round(new, 12))
            yield ExprMutant(
                name,
                e.edit(operand[0], operand[1], text),
                f"no {what} within one step ({number(round(step, 12))}) of the threshold"
                f" {number(round(value, 12))} ({side}): {e.span(*operand)} -> {text}",
            )


def _durations(e: _Expr) -> Iterator[ExprMutant]:
    for i, t in enumerate(e.tokens):
        if t.kind != "duration" or i in e.in_braces:
            continue
        if e.is_(i - 1, "punct", "[") and (e.is_(i + 1, "punct", "]") or e.is_(i + 1, "punct", ":")):
            kind, why = "range", "no scenario's outcome depends on the window length"
        elif e.is_(i - 1, "ident", "offset") or (e.is_(i - 1, "op", "-") and e.is_(i - 2, "ident", "offset")):
            kind, why = "offset", "no scenario's outcome depends on how far back the offset looks"
        else:
            continue
        ms = Duration.parse(t.text).ms
        for name, new in (("halved", Duration(ms // 2)), ("doubled", Duration(ms * 2))):
            if new.ms and new.ms != ms:
                yield ExprMutant(f"{kind}-{name}", e.edit(i, i, str(new)), f"{why}: {t.text} -> {new}")


def _aggregations(e: _Expr) -> Iterator[ExprMutant]:
    for i in range(len(e.tokens)):
        if e.is_(i, "ident", "sum") and (e.is_(i + 1, "punct", "(") or e.is_(i + 1, "ident", "by", "without")):
            for other in ("max", "min", "avg"):
                yield ExprMutant(
                    f"sum-to-{other}",
                    e.edit(i, i, other),
                    f"every alert group holds one series in every scenario, so sum and {other} agree",
                    i,
                )
        if not (e.is_(i, "ident", "by") and e.is_(i + 1, "punct", "(")):
            continue
        # `sum by (a) (x)`, or the clause after the argument: `sum(x) by (a)`
        before_args = e.is_(i - 1, "ident", *_AGGREGATIONS)
        after_args = e.is_(i - 1, "punct", ")") and e.is_(e.pair[i - 1] - 1, "ident", *_AGGREGATIONS)
        if not (before_args or after_args):
            continue
        close = e.pair[i + 1]
        labels = [x.text for x in e.tokens[i + 2 : close] if x.kind == "ident"]
        for label in labels:
            rest = ", ".join(x for x in labels if x != label)
            yield ExprMutant(
                "by-label-dropped",
                e.edit(i + 1, close, f"({rest})"),
                f"no scenario has series that differ in `{label}` within one alert group",
            )


def unquote(text: str) -> str:
    """The value of a PromQL string literal."""
    if text.startswith("`"):
        return text[1:-1]
    out, i, body = [], 0, text[1:-1]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(escapes.get(body[i + 1], body[i : i + 2]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def regex_alternatives(regex: str) -> list[str]:
    """The top-level alternatives of an RE2 regex (`a|b(c|d)` -> `a`, `b(c|d)`)."""
    parts, current, depth, in_class, i = [], [], 0, False, 0
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            current.append(regex[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append("".join(current))
            current = []
            i += 1
            continue
        current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def _matchers(e: _Expr) -> Iterator[ExprMutant]:
    for o, c in sorted(e.pair.items()):
        if o > c or e.tokens[o].text != "{":
            continue
        segments: list[tuple[int, int]] = []
        start = o + 1
        for k in range(o + 1, c + 1):
            if k == c or e.tokens[k].text == ",":
                if k > start:
                    segments.append((start, k - 1))
                start = k + 1
        texts = [e.span(a, b) for a, b in segments]
        for n, (a, b) in enumerate(segments):
            rest = ",".join(texts[:n] + texts[n + 1 :])
            yield ExprMutant(
                "matcher-dropped",
                e.text[: e.tokens[o].start] + "{" + rest + "}" + e.text[e.tokens[c].end :],
                f"no scenario has series that `{texts[n]}` excludes",
            )
            if b - a == 2 and e.tokens[a + 1].text in ("=~", "!~") and e.tokens[b].kind == "string":
                alternatives = regex_alternatives(unquote(e.tokens[b].text))
                if len(alternatives) < 2:
                    continue
                for k, alternative in enumerate(alternatives):
                    kept = "|".join(alternatives[:k] + alternatives[k + 1 :])
                    yield ExprMutant(
                        "regex-alternative-removed",
                        e.edit(b, b, escape_string(kept)),
                        f"no scenario tells `{e.tokens[a].text}` value `{alternative}` apart from the others",
                    )


def _guard_mutants(e: _Expr) -> Iterator[ExprMutant]:
    for cmp_index, (_, close) in sorted(_guards(e).items()):
        kept = e.text[: e.tokens[cmp_index].start].rstrip() + e.text[e.tokens[close].start :]
        yield ExprMutant(
            "denominator-guard-dropped",
            kept,
            "no scenario has a zero denominator (zero traffic or a zero limit) that the guard keeps from paging",
        )


def _operand_start(e: _Expr, i: int) -> int:
    """First token of the left operand of the `and` at `i`: back to an `or`, a comma or
    the enclosing bracket, at the same nesting level (`and` binds tighter than `or`)."""
    k = i - 1
    while k >= 0:
        t = e.tokens[k]
        if t.kind == "punct" and t.text in (")", "]", "}"):
            k = e.pair[k] - 1
            continue
        if (t.kind == "punct" and t.text in ("(", "[", "{", ",")) or e.is_(k, "ident", "or"):
            break
        k -= 1
    return k + 1


def _operand_end(e: _Expr, i: int) -> tuple[int, int]:
    """(first, last) token of the right operand of the `and` at `i`, after its modifiers;
    it ends at the next `and`, `unless` or `or` (left associative) or the enclosing bracket."""
    k = i + 1
    if e.is_(k, "ident", "on", "ignoring") and e.is_(k + 1, "punct", "("):
        k = e.pair[k + 1] + 1
    first = k
    while k < len(e.tokens):
        t = e.tokens[k]
        if t.kind == "punct" and t.text in _OPEN:
            k = e.pair[k] + 1
            continue
        if (t.kind == "punct" and t.text in (")", "]", "}", ",")) or e.is_(k, "ident", "and", "or", "unless"):
            break
        k += 1
    return first, k - 1


def _and_mutants(e: _Expr) -> Iterator[ExprMutant]:
    for i in range(len(e.tokens)):
        if not e.is_(i, "ident", "and"):
            continue
        start = _operand_start(e, i)
        first, end = _operand_end(e, i)
        if start >= i or first > end:
            continue
        left, right = e.span(start, i - 1), e.span(first, end)
        yield ExprMutant(
            "and-dropped-keep-left",
            e.edit(start, end, left),
            f"no scenario where `{left}` holds is silenced by `{right}`",
        )
        yield ExprMutant(
            "and-dropped-keep-right",
            e.edit(start, end, right),
            f"no scenario where `{right}` holds is silenced by `{left}`",
        )
        yield ExprMutant("and-to-or", e.edit(i, i, "or"), "no scenario has exactly one side of `and` true")


def _function_swaps(e: _Expr) -> Iterator[ExprMutant]:
    for i, t in enumerate(e.tokens):
        if e.is_(i, "ident", *_FUNCTION_SWAPS) and e.is_(i + 1, "punct", "("):
            new = _FUNCTION_SWAPS[t.text]
            why = (
                "the scenarios' rates are steady, so the last two samples give the same rate"
                if new == "irate"
                else "no counter in the scenarios resets, so delta equals increase"
            )
            yield ExprMutant(f"{t.text}-to-{new}", e.edit(i, i, new), why)


OPERATORS: tuple[Callable[[_Expr], Iterator[ExprMutant]], ...] = (
    _durations,
    _aggregations,
    _matchers,
    _guard_mutants,
    _and_mutants,
    _function_swaps,
)


def _parses(expr: str) -> Any:
    import promql_parser

    try:
        return promql_parser.parse(expr)
    except Exception:  # the parser raises plain exceptions with its message
        return None


def expr_mutants(expr: str, units: Units = ()) -> list[ExprMutant]:
    """Every mutant of `expr` that still parses, in a fixed order, duplicates dropped."""
    try:
        e = _Expr(expr)
    except ValueError:
        return []
    out: list[ExprMutant] = []
    seen = {expr}
    for mutant in [*_comparisons(e, units), *(m for op in OPERATORS for m in op(e))]:
        if mutant.expr in seen or _parses(mutant.expr) is None:
            continue
        seen.add(mutant.expr)
        out.append(mutant)
    return out


# ---------------------------------------------------------------------------
# Equivalence


def _normalized(expr: str) -> str | None:
    tree = _parses(expr)
    return None if tree is None else str(tree.prettify())


def _record_groupings(closure: Iterable[ClosureGroup]) -> dict[str, frozenset[str]]:
    """Recording rules defined once as an aggregation `by (L)`: record -> L."""
    import promql_parser

    seen: dict[str, int] = {}
    grouping: dict[str, frozenset[str]] = {}
    for group in closure:
        for rule in group.rules:
            if "record" not in rule:
                continue
            name = str(rule["record"])
            seen[name] = seen.get(name, 0) + 1
            tree = _parses(str(rule.get("expr", "")))
            modifier = getattr(tree, "modifier", None) if isinstance(tree, promql_parser.AggregateExpr) else None
            if modifier is not None and modifier.type == promql_parser.AggModifierType.By:
                grouping[name] = frozenset(modifier.labels)
            elif isinstance(tree, promql_parser.AggregateExpr) and modifier is None:
                grouping[name] = frozenset()
    return {name: labels for name, labels in grouping.items() if seen[name] == 1}


def _one_series_per_group(expr: str, at: int, groupings: Mapping[str, frozenset[str]]) -> bool:
    """Whether the `sum` at token `at` is `sum [by (M)] (R{...})` with every group
    provably one series of the recording rule R."""
    try:
        e = _Expr(expr)
    except ValueError:
        return False
    for i in (at,):
        if not e.is_(i, "ident", "sum"):
            continue
        outer: set[str] = set()
        k = i + 1
        if e.is_(k, "ident", "by") and e.is_(k + 1, "punct", "("):
            outer = {t.text for t in e.tokens[k + 2 : e.pair[k + 1]] if t.kind == "ident"}
            k = e.pair[k + 1] + 1
        if not e.is_(k, "punct", "("):
            continue
        close = e.pair[k]
        inner = e.tokens[k + 1 : close]
        if not inner or inner[0].kind != "ident" or inner[0].text not in groupings:
            continue
        fixed: set[str] = set()
        if len(inner) > 1:
            if inner[1].text != "{" or e.pair[k + 2] != close - 1:
                continue
            fixed = {
                inner[n].text
                for n in range(2, len(inner) - 2)
                if inner[n].kind == "ident" and inner[n + 1].text == "=" and inner[n + 2].kind == "string"
            }
        if groupings[inner[0].text] - fixed <= outer:
            return True
    return False


# ---------------------------------------------------------------------------
# Mutants of an alert's rules


@dataclass
class Mutant:
    """One mutation of one rule in an alert's closure, and what the tests made of it."""

    env: str
    alert: str
    operator: str
    rule: str  # `alert Name` or `record name`
    field: str  # expr | for
    before: str
    after: str
    explanation: str
    status: str = "pending"  # killed | survived | equivalent | invalid | error
    result: AlertResult | None = None
    killed_by: tuple[str, ...] = ()  # the scenarios that failed


def _rule_name(rule: Mapping[str, Any]) -> str:
    return f"alert {rule['alert']}" if "alert" in rule else f"record {rule.get('record', '?')}"


@dataclass(frozen=True)
class RuleMutation:
    operator: str
    field: str  # expr | for
    before: str
    after: str  # "" drops the field
    explanation: str
    at: int = -1


def rule_mutations(rule: Mapping[str, Any], units: Units = ()) -> list[RuleMutation]:
    """Every mutation of one rule: its expression's, and its `for` halved, doubled, dropped."""
    expr = str(rule.get("expr", ""))
    out = [
        RuleMutation(m.operator, "expr", expr, m.expr, m.explanation, m.at)
        for m in expr_mutants(expr, units if "alert" in rule else ())
    ]
    if "alert" in rule and rule.get("for"):
        before = str(rule["for"])
        ms = Duration.parse(before).ms
        if ms:
            out += [
                RuleMutation(
                    "for-halved",
                    "for",
                    before,
                    str(Duration(ms // 2)),
                    "no check that it is still pending at half its `for`",
                ),
                RuleMutation(
                    "for-doubled",
                    "for",
                    before,
                    str(Duration(ms * 2)),
                    "no check that it fires as soon as `for` has elapsed",
                ),
                RuleMutation(
                    "for-dropped", "for", before, "", "no check that a breach shorter than `for` stays silent"
                ),
            ]
    return out


def _mutated(closure: list[ClosureGroup], g: int, r: int, field: str, after: str) -> list[ClosureGroup]:
    rule = dict(closure[g].rules[r])
    if field == "for" and not after:
        rule.pop("for", None)
    else:
        rule[field] = after
    rules = (*closure[g].rules[:r], rule, *closure[g].rules[r + 1 :])
    return [*closure[:g], replace(closure[g], rules=rules), *closure[g + 1 :]]


def alert_mutants(
    env: str, alert: str, closure: list[ClosureGroup], units: Units = ()
) -> list[tuple[Mutant, list[ClosureGroup]]]:
    """Every mutant of an alert's closure with the closure it makes; equivalent ones marked."""
    groupings = _record_groupings(closure)
    parsed = Closure(rule for group in closure for rule in group.rules)
    out: list[tuple[Mutant, list[ClosureGroup]]] = []
    for g, group in enumerate(closure):
        for r, rule in enumerate(group.rules):
            for m in rule_mutations(rule, units):
                mutant = Mutant(env, alert, m.operator, _rule_name(rule), m.field, m.before, m.after, m.explanation)
                proof = _equivalence(m, rule, group, parsed, groupings)
                if proof is not None:
                    mutant.status, mutant.explanation = "equivalent", proof
                out.append((mutant, _mutated(closure, g, r, m.field, m.after)))
    return out


def _equivalence(
    m: RuleMutation,
    rule: Mapping[str, Any],
    group: ClosureGroup,
    closure: Closure,
    groupings: Mapping[str, frozenset[str]],
) -> str | None:
    """Why the mutant cannot change the alert, or None (see rulesgen.equivalence)."""
    if m.field == "for":
        return for_mutant_equivalent(m.before, m.after, group.interval) if m.operator != "for-dropped" else None
    if _normalized(m.before) == _normalized(m.after):
        return "the same expression after normalization"
    if m.operator.startswith("sum-to-") and _one_series_per_group(m.before, m.at, groupings):
        return "every group is one series of a recording rule: sum, max, min, avg agree"
    if m.operator == "denominator-guard-dropped":
        return guard_drop_equivalent(m.before, rule, closure)
    if m.operator in ("matcher-dropped", "regex-alternative-removed"):
        return matcher_drop_equivalent(m.before, m.after, rule, closure)
    return None


# ---------------------------------------------------------------------------
# Running


@dataclass
class AlertScore:
    env: str
    alert: str
    mutants: list[Mutant] = field(default_factory=list)
    baseline_ok: bool = True
    baseline_output: str = ""
    baselines: list[AlertResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(m.status == status for m in self.mutants)

    @property
    def scored(self) -> int:
        """Mutants that count: all but the equivalent and those promtool could not load."""
        return len(self.mutants) - self.count("equivalent") - self.count("invalid")

    @property
    def score(self) -> float | None:
        return self.count("killed") / self.scored if self.scored else None


@dataclass
class MutationReport:
    alerts: list[AlertScore]

    def env_score(self, env: str) -> float | None:
        scored = sum(a.scored for a in self.alerts if a.env == env)
        killed = sum(a.count("killed") for a in self.alerts if a.env == env)
        return killed / scored if scored else None

    @property
    def envs(self) -> list[str]:
        return sorted({a.env for a in self.alerts})

    @property
    def baseline_ok(self) -> bool:
        return all(a.baseline_ok for a in self.alerts)


# A scenario of an alert's tests: its estimated promtool cost, the evaluation interval
# of the file it came from, and its test group.
_Scenario = tuple[int, str, dict[str, Any]]


def _scenarios(doc: Mapping[str, Any], rules: int) -> list[_Scenario]:
    """The test document's scenarios with their estimated cost and evaluation interval."""
    interval = str(doc.get("evaluation_interval", "1m"))
    return [(describe("", Path("x"), {**doc, "tests": [t]}, rules).cost, interval, t) for t in doc.get("tests") or []]


@dataclass
class _Pending:
    mutant: Mutant
    closure: list[ClosureGroup]
    described: AlertResult
    left: list[_Scenario]  # scenarios not run yet
    stem: Path


class _Kills:
    """Which scenarios have killed mutants so far, per alert and per mutated rule: a
    scenario that killed mutants of a rule is the likeliest to kill its next ones."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, ...], int] = {}

    def record(self, p: _Pending) -> None:
        m = p.mutant
        for name in m.killed_by:
            for key in ((m.env, m.alert, name), (m.env, m.alert, m.rule, name)):
                self.counts[key] = self.counts.get(key, 0) + 1

    def reorder(self, p: _Pending) -> None:
        m = p.mutant

        def power(scenario: _Scenario) -> tuple[int, int]:
            name = str(scenario[2].get("name", "")).split("/", 1)[-1]
            kills = 3 * self.counts.get((m.env, m.alert, m.rule, name), 0)
            return -(kills + self.counts.get((m.env, m.alert, name), 0)), scenario[0]

        p.left.sort(key=power)


def _run_stages(pending: list[_Pending], jobs: int, timeout: float) -> None:
    """Rounds of scenarios for all live mutants at once: one scenario each at first (a
    different one for each mutant of an alert), then twice as many per round; a failing
    scenario kills, and after each round every survivor's remaining scenarios are
    reordered by what has killed mutants so far, cheapest first among equals.

    Most mutants die on one scenario, so the costly multi-day scenarios run only for
    the few that nothing cheaper (or likelier) kills."""
    kills, size, round_ = _Kills(), 1, 0
    while pending:
        runs: list[AlertResult] = []
        parts: list[list[AlertResult]] = []
        for p in pending:
            taken, p.left = p.left[:size], p.left[size:]
            by_interval: dict[str, list[dict[str, Any]]] = {}
            for _, interval, test in taken:
                by_interval.setdefault(interval, []).append(test)
            parts.append([])
            for n, (interval, tests) in enumerate(sorted(by_interval.items())):
                doc = {"evaluation_interval": interval, "tests": tests}
                result = replace(p.described, failed=[], output="", ok=True, scenarios=[])
                result.scenarios = [str(t.get("name", "")) for t in tests]
                stem = f"{p.stem.name}.r{round_}.{n}"
                _, result.run_file = write_run_files(doc, p.closure, p.stem.parent, stem)
                parts[-1].append(result)
                runs.append(result)
        run_promtool(runs, jobs, timeout, max_files=24)
        for p, results in zip(pending, parts, strict=True):
            p.mutant.result = _merged(results)
            _verdict(p.mutant)
            if p.mutant.status == "killed":
                kills.record(p)
        pending = [p for p in pending if p.mutant.status == "survived" and p.left]
        for p in pending:
            p.mutant.status = "pending"
            kills.reorder(p)
        size, round_ = size * 2 if round_ else size, round_ + 1


def _merged(results: list[AlertResult]) -> AlertResult:
    """One verdict of a round's files: a failing scenario anywhere kills."""
    failed = sorted({name for r in results for name in r.failed})
    named = [name for name in failed if not name.startswith("(")]
    return replace(
        results[0],
        ok=all(r.ok for r in results),
        failed=named or failed,
        output="\n".join(r.output for r in results if r.output),
    )


def _verdict(mutant: Mutant) -> None:
    r = mutant.result
    if r is None:
        return
    if r.ok:
        mutant.status = "survived"
    elif r.failed == ["(timeout)"]:
        mutant.status = "error"
    elif r.failed == ["(file)"]:
        mutant.status, mutant.explanation = "invalid", f"promtool cannot load it: {r.output.strip()[:200]}"
    else:
        mutant.status, mutant.killed_by = "killed", tuple(r.failed)


def verdict_signature(closure: list[ClosureGroup], docs: Sequence[Mapping[str, Any]]) -> str:
    """What decides a mutant's fate, without the alert rules' static labels and
    annotations (env, cluster, links, severity): mutants never touch those, and the
    baseline proves they match in each environment. Environments whose alert is equal
    in this (staging without overrides) have the same mutants with the same fates."""
    static: set[str] = set()
    dynamic: set[str] = set()
    for group in closure:
        for rule in group.rules:
            static |= {k for k, v in (rule.get("labels") or {}).items() if "{{" not in str(v)}
            for k, v in (rule.get("annotations") or {}).items():
                (dynamic if "{{" in str(v) else static).add(k)
    static -= dynamic

    def bare(values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if k not in static}

    rules = [
        [g.name, g.interval, [{**r, **{k: bare(r[k]) for k in ("labels", "annotations") if k in r}} for r in g.rules]]
        for g in closure
    ]
    tests = [
        {
            **doc,
            "tests": [
                {
                    **t,
                    "alert_rule_test": [
                        {
                            **case,
                            "exp_alerts": [{k: bare(v) for k, v in e.items()} for e in case.get("exp_alerts") or []],
                        }
                        for case in t.get("alert_rule_test") or []
                    ],
                }
                for t in doc.get("tests") or []
            ],
        }
        for doc in docs
    ]
    return hashlib.sha256(json.dumps([rules, tests], sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class _Run:
    """Everything one `rulesgen mutate` run sends to promtool."""

    jobs: int
    timeout: float
    baselines: list[AlertResult] = field(default_factory=list)
    pending: list[_Pending] = field(default_factory=list)
    # Alerts equal to one already mutated (see verdict_signature): (copy, original).
    shared: list[tuple[AlertScore, AlertScore]] = field(default_factory=list)
    seen: dict[str, AlertScore] = field(default_factory=dict)


def _prepare(
    run: _Run, score: AlertScore, paths: list[Path], closure: list[ClosureGroup], work: Path, units: Units
) -> None:
    """Queue an alert's baselines and mutants (or note the alert it shares them with)."""
    rules = sum(len(g.rules) for g in closure)
    scenarios: list[_Scenario] = []
    docs = []
    for path in paths:
        doc = read_test(path)
        docs.append(doc)
        described = describe(score.env, path, doc, rules)
        baseline = replace(described, failed=[], output="", ok=True)
        stem = path.name.removesuffix(TEST_SUFFIX)
        _, baseline.run_file = write_run_files(doc, closure, work, f"{stem}.baseline")
        score.baselines.append(baseline)
        run.baselines.append(baseline)
        scenarios += _scenarios(doc, rules)
    scenarios.sort(key=lambda s: s[0])
    mutants = alert_mutants(score.env, score.alert, closure, units)
    score.mutants = [mutant for mutant, _ in mutants]
    signature = verdict_signature(closure, docs)
    if signature in run.seen:
        run.shared.append((score, run.seen[signature]))
        return
    run.seen[signature] = score
    for n, (mutant, mutated) in enumerate(mutants):
        if mutant.status == "pending":
            # The first round probes: each mutant of the alert starts with another
            # scenario, so every scenario's killing power is known after one round.
            first = n % max(len(scenarios), 1)
            left = scenarios[first:] + scenarios[:first]
            run.pending.append(_Pending(mutant, mutated, described, left, work / f"{score.alert}.m{n:04d}"))


def run_mutations(
    output: Path,
    envs: Sequence[str] | None = None,
    alerts: Sequence[str] | None = None,
    jobs: int = 2,
    units: Mapping[tuple[str, str], Units] | None = None,
    timeout: float = 600,
) -> MutationReport:
    """Mutate every selected alert's deployed rules and run its tests against each mutant.

    Each alert's unmutated baseline runs all its tests; mutants run them in rounds,
    stopping at the first failure (see `_run_stages`). All alerts' files of a round go
    to promtool together: many files per process, balanced by cost. An alert equal in
    another environment but for its static labels shares that one's verdicts."""
    scores: list[AlertScore] = []
    run = _Run(jobs, timeout)
    with tempfile.TemporaryDirectory(prefix="rulesgen-mutate-") as tmp:
        for env in environments(output):
            if envs and env not in envs:
                continue
            deployed = load_deployed(output / env)
            work = Path(tmp) / env
            work.mkdir()
            files: dict[str, list[Path]] = {}
            for path in sorted((output / env / "tests").glob(f"*{TEST_SUFFIX}")):
                files.setdefault(alert_of(path.name), []).append(path)
            for alert, paths in files.items():
                if alerts and alert not in alerts:
                    continue
                closure = rule_closure(deployed, alert)
                score = AlertScore(env, alert)
                scores.append(score)
                if not any("alert" in rule for g in closure for rule in g.rules):
                    score.baseline_ok, score.baseline_output = False, f"no alerting rule {alert} deployed"
                    continue
                _prepare(run, score, paths, closure, work, (units or {}).get((env, alert), ()))
        run_promtool(run.baselines, jobs, timeout, max_files=24)
        _run_stages(run.pending, jobs, timeout)
    for copy, original in run.shared:
        for mine, theirs in zip(copy.mutants, original.mutants, strict=True):
            if mine.status == "pending":
                mine.status, mine.killed_by, mine.result = theirs.status, theirs.killed_by, theirs.result
                mine.explanation = theirs.explanation
    for score in scores:
        failing = [b for b in score.baselines if not b.ok]
        if failing:
            score.baseline_ok, score.baseline_output = False, "\n".join(b.output for b in failing)
    return MutationReport(scores)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def format_mutations(report: MutationReport) -> str:
    """Per alert: mutants, killed, survived, equivalent and score; then every survivor."""
    lines = [f"{'env':<10} {'alert':<40} {'mutants':>7} {'killed':>6} {'survived':>8} {'equiv':>5} {'score':>7}"]
    for a in report.alerts:
        lines.append(
            f"{a.env:<10} {a.alert:<40} {len(a.mutants):>7} {a.count('killed'):>6} {a.count('survived'):>8}"
            f" {a.count('equivalent'):>5} {_pct(a.score):>7}"
        )
    for env in report.envs:
        lines.append(f"\n{env}: mutation score {_pct(report.env_score(env))}")
    for a in report.alerts:
        if not a.baseline_ok:
            lines.append(
                f"\n--- {a.env}/{a.alert}: its tests fail on the unmutated rules; fix that first:\n{a.baseline_output}"
            )
        survivors = [m for m in a.mutants if m.status in ("survived", "error")]
        if survivors:
            lines.append(f"\n--- {a.env}/{a.alert}: {len(survivors)} survivor(s)")
        for m in survivors:
            lines.append(f"  {m.operator} in {m.rule} ({m.field}): {m.explanation}")
            lines.append(f"      {m.before or '(none)'}")
            lines.append(f"   -> {m.after or '(none)'}")
    return "\n".join(lines)


def mutations_json(report: MutationReport) -> dict[str, Any]:
    """The report for CI; every mutant with its status, survivors first per alert."""
    order = {"survived": 0, "error": 1, "killed": 2, "equivalent": 3, "invalid": 4}
    return {
        "ok": report.baseline_ok,
        "envs": {env: {"score": report.env_score(env)} for env in report.envs},
        "alerts": [
            {
                "env": a.env,
                "alert": a.alert,
                "baseline_ok": a.baseline_ok,
                "mutants": len(a.mutants),
                "killed": a.count("killed"),
                "survived": a.count("survived"),
                "equivalent": a.count("equivalent"),
                "invalid": a.count("invalid"),
                "errors": a.count("error"),
                "score": a.score,
                "details": [
                    {
                        "operator": m.operator,
                        "rule": m.rule,
                        "field": m.field,
                        "before": m.before,
                        "after": m.after,
                        "status": m.status,
                        "explanation": m.explanation,
                        "killed_by": list(m.killed_by),
                    }
                    for m in sorted(a.mutants, key=lambda m: order.get(m.status, 5))
                ],
            }
            for a in report.alerts
        ],
    }
