"""Mutation operators on PromQL text: a small tokenizer locates what to change (the
parser gives no positions), so the rest of an expression keeps its exact spelling;
every mutant must parse with promql_parser or it is discarded."""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rulesgen.promql import Duration, escape_string, number

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


class Expr:
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


def _guards(e: Expr) -> dict[int, tuple[int, int]]:
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


def _threshold_operand(e: Expr, i: int) -> tuple[int, int] | None:
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


def _comparisons(e: Expr, units: Units) -> Iterator[ExprMutant]:
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


def _durations(e: Expr) -> Iterator[ExprMutant]:
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


def _aggregations(e: Expr) -> Iterator[ExprMutant]:
    for i in range(len(e.tokens)):
        if e.is_(i, "ident", "sum") and (e.is_(i + 1, "punct", "(") or e.is_(i + 1, "ident", "by", "without")):
            for other in ("max", "min", "avg"):
                yield ExprMutant(
                    f"sum-to-{other}",
                    e.edit(i, i, other),
                    f"every alert group holds one series in every scenario, so sum and {other} agree",
                    i,
                )
        if e.is_(i, "ident", "max") and e.is_(i + 1, "ident", "without"):
            yield ExprMutant(
                "max-without-to-sum",
                e.edit(i, i, "sum"),
                "no scenario has high-availability copies of one series, which a sum counts twice",
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


def _selectors(e: Expr) -> dict[str, list[tuple[int, int]]]:
    """Each distinct selector (metric and matchers, as written) with the (open, close)
    brace tokens of every place it stands, in order."""
    out: dict[str, list[tuple[int, int]]] = {}
    for o, c in sorted(e.pair.items()):
        if o > c or e.tokens[o].text != "{":
            continue
        name = e.tokens[o - 1].text if o > 0 and e.tokens[o - 1].kind == "ident" else ""
        out.setdefault(name + e.span(o, c), []).append((o, c))
    return out


def _everywhere(e: Expr, places: Sequence[tuple[int, int]], braces: str) -> str:
    """The text with the braces of every place replaced by `braces`."""
    text = e.text
    for o, c in sorted(places, reverse=True):
        text = text[: e.tokens[o].start] + braces + text[e.tokens[c].end :]
    return text


def _matchers(e: Expr) -> Iterator[ExprMutant]:
    """A matcher dropped or a regex alternative removed from a selector everywhere it
    stands: rulesgen writes a selector once and places it in every clause that reads the
    metric (the counting rule reads it five times), so a wrong matcher is wrong in all."""
    for places in _selectors(e).values():
        o, c = places[0]
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
                _everywhere(e, places, "{" + rest + "}"),
                f"no scenario has series that `{texts[n]}` excludes",
            )
            if b - a == 2 and e.tokens[a + 1].text in ("=~", "!~") and e.tokens[b].kind == "string":
                alternatives = regex_alternatives(unquote(e.tokens[b].text))
                if len(alternatives) < 2:
                    continue
                for k, alternative in enumerate(alternatives):
                    kept = [
                        *texts[:n],
                        e.span(a, a + 1) + escape_string("|".join(alternatives[:k] + alternatives[k + 1 :])),
                        *texts[n + 1 :],
                    ]
                    yield ExprMutant(
                        "regex-alternative-removed",
                        _everywhere(e, places, "{" + ",".join(kept) + "}"),
                        f"no scenario tells `{e.tokens[a].text}` value `{alternative}` apart from the others",
                    )


def _guard_mutants(e: Expr) -> Iterator[ExprMutant]:
    for cmp_index, (_, close) in sorted(_guards(e).items()):
        kept = e.text[: e.tokens[cmp_index].start].rstrip() + e.text[e.tokens[close].start :]
        yield ExprMutant(
            "denominator-guard-dropped",
            kept,
            "no scenario has a zero denominator (zero traffic or a zero limit) that the guard keeps from paging",
        )


def _operand_start(e: Expr, i: int) -> int:
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


def _operand_end(e: Expr, i: int) -> tuple[int, int]:
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


def _set_op_mutants(e: Expr, keyword: str) -> Iterator[ExprMutant]:
    """`a and b` / `a unless b` with either side alone, and the operator turned to `or`:
    the guard of a birth, of a reset, of a zero denominator gone or widened."""
    for i in range(len(e.tokens)):
        if not e.is_(i, "ident", keyword):
            continue
        start = _operand_start(e, i)
        first, end = _operand_end(e, i)
        if start >= i or first > end:
            continue
        left, right = e.span(start, i - 1), e.span(first, end)
        yield ExprMutant(
            f"{keyword}-dropped-keep-left",
            e.edit(start, end, left),
            f"no scenario where `{left}` holds is changed by `{keyword} {right}`",
        )
        if keyword == "and":
            yield ExprMutant(
                "and-dropped-keep-right",
                e.edit(start, end, right),
                f"no scenario where `{right}` holds is silenced by `{left}`",
            )
        yield ExprMutant(
            f"{keyword}-to-or",
            e.edit(i, i, "or"),
            f"no scenario has exactly one side of `{keyword}` returning a series",
        )


def _and_mutants(e: Expr) -> Iterator[ExprMutant]:
    return _set_op_mutants(e, "and")


def _unless_mutants(e: Expr) -> Iterator[ExprMutant]:
    return _set_op_mutants(e, "unless")


def _matching_mutants(e: Expr) -> Iterator[ExprMutant]:
    """`on(job, instance)` widened to `on()`: a guard per scrape target made family-wide."""
    for i in range(len(e.tokens)):
        if e.is_(i, "ident", "on") and e.is_(i + 1, "punct", "(") and e.pair[i + 1] > i + 2:
            yield ExprMutant(
                "on-labels-dropped",
                e.edit(i + 1, e.pair[i + 1], "()"),
                "no scenario has a series matched on one scrape target but not on another",
            )


def _function_swaps(e: Expr) -> Iterator[ExprMutant]:
    for i, t in enumerate(e.tokens):
        if e.is_(i, "ident", *_FUNCTION_SWAPS) and e.is_(i + 1, "punct", "("):
            new = _FUNCTION_SWAPS[t.text]
            why = (
                "the scenarios' rates are steady, so the last two samples give the same rate"
                if new == "irate"
                else "no counter in the scenarios resets, so delta equals increase"
            )
            yield ExprMutant(f"{t.text}-to-{new}", e.edit(i, i, new), why)


OPERATORS: tuple[Callable[[Expr], Iterator[ExprMutant]], ...] = (
    _durations,
    _aggregations,
    _matchers,
    _guard_mutants,
    _and_mutants,
    _unless_mutants,
    _matching_mutants,
    _function_swaps,
)


def parses(expr: str) -> Any:
    import promql_parser

    try:
        return promql_parser.parse(expr)
    except Exception:  # the parser raises plain exceptions with its message
        return None


def expr_mutants(expr: str, units: Units = ()) -> list[ExprMutant]:
    """Every mutant of `expr` that still parses, in a fixed order, duplicates dropped."""
    try:
        e = Expr(expr)
    except ValueError:
        return []
    out: list[ExprMutant] = []
    seen = {expr}
    for mutant in [*_comparisons(e, units), *(m for op in OPERATORS for m in op(e))]:
        if mutant.expr in seen or parses(mutant.expr) is None:
            continue
        seen.add(mutant.expr)
        out.append(mutant)
    return out
