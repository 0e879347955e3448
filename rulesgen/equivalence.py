"""Proofs that a mutant of an alert's rules cannot change what the alert does.

`rulesgen mutate` leaves a mutant out of the score only when one of these proofs
holds for every input, read from the deployed rules alone (plus the one assumption
stated below). Each proof is conservative: anything it does not recognise is not
equivalent, so a missing case costs score, never a false claim.

Assumption, from the OpenMetrics exposition format: series named `*_total`,
`*_bucket` and `*_count` are counters (or histogram counters), whose samples are
never negative.

1. A dropped `for` (halved or doubled) is equivalent when the alert still fires at
   the same evaluation. Prometheus evaluates a group at fixed multiples of its
   interval I; an alert that turns pending at evaluation t fires at the first
   evaluation t + nI with nI >= `for`, so after ceil(for / I) evaluations. If
   ceil(old / I) == ceil(new / I) the pending and firing evaluations are the same
   for every input. Restarts restore `for` state only for alerts whose `for` is at
   least the for-grace-period (10m by default), so both must be under it.

2. A dropped denominator guard (`N / (D > 0)` -> `N / D`) is equivalent when
   (a) every term of D and N is non-negative, (b) one term of D sums a superset
   of the series N sums (same metric and grouping, N's matchers implying the
   term's), so 0 <= N <= D, and (c) the quotient only ever meets a filtering
   comparison with a constant. Then where D > 0 both agree; where D = 0, N = 0
   and 0/0 is NaN, which no comparison keeps (NaN > x, NaN < x, NaN >= x and
   NaN <= x are all false), just as the guard dropped the sample; where D is
   NaN both yield NaN, dropped alike. D < 0 cannot happen by (a).

3. A dropped matcher is equivalent when the series it lets in can never reach the
   alert: the selector's series keep the matcher's label, unchanged, up to
   (a) a one-to-one arithmetic or comparison operator whose other operand only
   carries values of that label the matcher accepted (its series find no partner),
   or (b) the output of a recording rule that every reader selects with a matcher
   accepting no more values of that label than the dropped one did; or (c) the
   selector reads a recording rule whose own series only carry accepted values (the
   matchers a recording rule pushes down make its readers' matchers redundant).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any

# Prometheus's default --rules.alert.for-grace-period.
FOR_GRACE_PERIOD_MS = 10 * 60_000
COUNTER_SUFFIXES = ("_total", "_bucket", "_count")
LOOKBACK_DELTA = timedelta(minutes=5)  # Prometheus's default --query.lookback-delta
# Functions whose output series keep the labels of their input series.
_LABEL_PRESERVING = {"rate", "increase", "irate", "delta", "idelta", "abs", "ceil", "floor", "round", "sum_over_time"}
# Non-negative wherever their input is (`rate` and friends across counter resets too).
_NON_NEGATIVE_FUNCTIONS = {"rate", "increase", "irate", "sum_over_time"}
_COMPARISONS = {">", "<", ">=", "<=", "=="}
_LITERAL = re.compile(r"^[A-Za-z0-9_:/.\- ]*$")


def _parse(expr: str) -> Any:
    import promql_parser

    try:
        return promql_parser.parse(expr)
    except Exception:  # the parser raises plain exceptions
        return None


def _kind(node: Any) -> str:
    return type(node).__name__


def _children(node: Any) -> list[Any]:
    kind = _kind(node)
    if kind == "BinaryExpr":
        return [node.lhs, node.rhs]
    if kind in ("ParenExpr", "AggregateExpr", "UnaryExpr", "SubqueryExpr"):
        return [node.expr]
    if kind == "MatrixSelector":
        return [node.vector_selector] if hasattr(node, "vector_selector") else []
    if kind == "Call":
        return list(node.args)
    return []


Path = tuple[tuple[Any, int], ...]  # (parent, index of the child taken) from the root down


def _walk(node: Any, path: Path = ()) -> Iterator[tuple[Any, Path]]:
    """Every node with its path. The parser builds a fresh object on every attribute
    access, so a child is known by its index, never by identity."""
    yield node, path
    for index, child in enumerate(_children(node)):
        yield from _walk(child, (*path, (node, index)))


def _op(node: Any) -> str:
    return str(node.op).strip()


def _has_matching(node: Any) -> bool:
    """Whether a binary operator has `on`, `ignoring` or group modifiers, or `bool`."""
    mod = node.modifier
    if mod is None:
        return False
    one_to_one = mod.card is None or str(mod.card).endswith("OneToOne")
    return bool(mod.return_bool or mod.matching is not None or not one_to_one)


def _constant(node: Any) -> float | None:
    kind = _kind(node)
    if kind == "NumberLiteral":
        return float(node.val)
    if kind == "ParenExpr":
        return _constant(node.expr)
    if kind == "UnaryExpr":
        inner = _constant(node.expr)
        return None if inner is None else -inner
    if kind == "BinaryExpr":
        a, b = _constant(node.lhs), _constant(node.rhs)
        if a is None or b is None:
            return None
        op = _op(node)
        try:
            return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else math.nan}.get(op)
        except (OverflowError, ZeroDivisionError):
            return None
    return None


# --- matchers -------------------------------------------------------------------------


def _accepted(matcher: Any) -> frozenset[str] | None:
    """The finite set of values a positive matcher accepts, if it is one."""
    op, value = str(matcher.op), str(matcher.value)
    if op.endswith("Equal") and "Not" not in op:
        return frozenset({value})
    if op.endswith(".Re"):
        alternatives = value.split("|")
        if all(_LITERAL.match(a) for a in alternatives):
            return frozenset(alternatives)
    return None


def _matches(matcher: Any, value: str) -> bool:
    op, pattern = str(matcher.op), str(matcher.value)
    if op.endswith("NotEqual"):
        return value != pattern
    if op.endswith("NotRe"):
        return re.fullmatch(pattern, value) is None
    if op.endswith("Re"):
        return re.fullmatch(pattern, value) is not None
    return value == pattern


def _selector_matchers(node: Any) -> list[Any]:
    return [m for m in node.matchers.matchers if m.name != "__name__"]


def _values_on(node: Any, label: str, records: Mapping[str, Any] | None = None) -> frozenset[str] | None:
    """The values of `label` that `node`'s output series can carry, when provably finite;
    a selector of one of `records` (recording rules, defined once) carries only what
    the record's expression does."""
    kind = _kind(node)
    if kind == "VectorSelector":
        sets = [a for m in _selector_matchers(node) if m.name == label and (a := _accepted(m)) is not None]
        defined = (records or {}).get(str(node.name))
        if defined is not None and label != "__name__":
            rest = {**(records or {}), str(node.name): None}  # no cycles
            carried = _values_on(defined, label, rest)
            sets += [carried] if carried is not None else []
        return frozenset.intersection(*sets) if sets else None
    if kind == "MatrixSelector":
        return _values_on(_children(node)[0], label, records) if _children(node) else None
    if kind in ("ParenExpr", "SubqueryExpr"):
        return _values_on(node.expr, label, records)
    if kind == "AggregateExpr":
        mod = node.modifier
        keeps = mod is not None and "By" in str(mod.type) and label in mod.labels
        return _values_on(node.expr, label, records) if keeps else None
    if kind == "Call":
        name = node.func.name
        if name == "histogram_quantile" and label != "le" and len(node.args) == 2:
            return _values_on(node.args[1], label, records)
        return _values_on(node.args[0], label, records) if name in _LABEL_PRESERVING and node.args else None
    if kind == "BinaryExpr":
        op = _op(node)
        if op in ("and", "unless"):
            return _values_on(node.lhs, label, records)
        if op == "or":
            left, right = _values_on(node.lhs, label, records), _values_on(node.rhs, label, records)
            plain = node.modifier is None or node.modifier.matching is None
            return left | right if plain and left is not None and right is not None else None
        if _has_matching(node):
            return None
        if _constant(node.rhs) is not None:
            return _values_on(node.lhs, label, records)
        if _constant(node.lhs) is not None:
            return _values_on(node.rhs, label, records)
        known = [
            v for v in (_values_on(node.lhs, label, records), _values_on(node.rhs, label, records)) if v is not None
        ]
        return frozenset.intersection(*known) if known else None
    return None


def _keeps_label(index: int, parent: Any, label: str) -> bool:
    """Whether `parent` passes each series of its child `index` on with `label` unchanged."""
    kind = _kind(parent)
    if kind in ("ParenExpr", "MatrixSelector", "SubqueryExpr"):
        return True
    if kind == "Call":
        if str(parent.func.name) == "histogram_quantile":
            return index == 1 and label != "le"
        return str(parent.func.name) in _LABEL_PRESERVING
    if kind == "AggregateExpr":
        mod = parent.modifier
        return mod is not None and "By" in str(mod.type) and label in mod.labels
    if kind == "BinaryExpr":
        op = _op(parent)
        if op in ("and", "unless"):
            return index == 0  # the right side only decides which left series stay
        if op == "or":
            # Set operators are many-to-many by nature; only `on`/`ignoring` could let
            # an extra left series shadow a right one with other labels.
            return parent.modifier is None or parent.modifier.matching is None
        return not _has_matching(parent)
    return False


# --- proofs ---------------------------------------------------------------------------


def for_mutant_equivalent(before: str, after: str, interval: str | None) -> str | None:
    """Proof 1; the reason, or None."""
    from rulesgen.promql import Duration

    if not interval or not after:
        return None
    i, old, new = Duration.parse(interval).ms, Duration.parse(before).ms, Duration.parse(after).ms
    if i <= 0 or max(old, new) >= FOR_GRACE_PERIOD_MS:
        return None
    if -(-old // i) == -(-new // i):
        return f"at a {interval} evaluation interval `for: {before}` and `for: {after}` fire at the same evaluation"
    return None


class Closure:
    """The rules of an alert's closure, parsed once, with who reads each record."""

    def __init__(self, rules: Iterable[Mapping[str, Any]]) -> None:
        self.records: dict[str, Any] = {}
        self.trees: list[tuple[Mapping[str, Any], Any]] = []
        for rule in rules:
            tree = _parse(str(rule.get("expr", "")))
            self.trees.append((rule, tree))
            if "record" in rule and tree is not None:
                name = str(rule["record"])
                # A record defined twice cannot be reasoned about from one definition.
                self.records[name] = None if name in self.records else tree

    def reading_rules(self, record: str) -> Iterator[tuple[Mapping[str, Any], Any, Path]]:
        """Every selector of `record` in the closure, with its rule and its parents."""
        for rule, tree in self.trees:
            if tree is None:
                continue
            for node, parents in _walk(tree):
                if _kind(node) == "VectorSelector" and node.name == record:
                    yield rule, node, parents

    def readers(self, record: str) -> Iterator[tuple[Any, Path]]:
        """Every selector of `record` in the closure, with its parents."""
        for _, node, parents in self.reading_rules(record):
            yield node, parents

    def non_negative(self, node: Any, seen: frozenset[str] = frozenset()) -> bool:
        kind = _kind(node)
        if kind == "NumberLiteral":
            return float(node.val) >= 0
        if kind == "VectorSelector":
            name = str(node.name)
            if name.endswith(COUNTER_SUFFIXES):
                return True
            tree = self.records.get(name)
            return tree is not None and name not in seen and self.non_negative(tree, seen | {name})
        if kind in ("ParenExpr", "MatrixSelector", "SubqueryExpr"):
            children = _children(node)
            return bool(children) and self.non_negative(children[0], seen)
        if kind == "AggregateExpr":
            return _op(node) in ("sum", "max", "min", "avg") and self.non_negative(node.expr, seen)
        if kind == "Call":
            return str(node.func.name) in _NON_NEGATIVE_FUNCTIONS and all(self.non_negative(a, seen) for a in node.args)
        if kind == "BinaryExpr":
            op = _op(node)
            if op in (">", ">=") and not _has_matching(node):
                bound = _constant(node.rhs)
                return bound is not None and bound >= 0  # a filter keeps only values above it
            if op == "unless" and self._reset_free_difference(node):
                return True
            if op in ("and", "unless"):
                return self.non_negative(node.lhs, seen)
            if op in ("or", "+", "*"):
                return self.non_negative(node.lhs, seen) and self.non_negative(node.rhs, seen)
        return False

    def _reset_free_difference(self, node: Any) -> bool:
        """`(x - x offset W) unless resets(x[W + 5m]) > 0` of a counter: a counter that did
        not reset since the sample `x offset W` read (at most a lookback before the
        window) did not go down since. A shorter range leaves a restart hidden between
        that sample and the range, and the difference of two lives can be negative."""
        diff = _strip(node.lhs)
        if _kind(diff) != "BinaryExpr" or _op(diff) != "-" or _has_matching(diff):
            return False
        left, right = _strip(diff.lhs), _strip(diff.rhs)
        same = _kind(left) == _kind(right) == "VectorSelector" and str(left.name) == str(right.name)
        guard = _strip(node.rhs)
        resets = _kind(guard) == "BinaryExpr" and _kind(_strip(guard.lhs)) == "Call"
        return (
            same
            and str(left.name).endswith(COUNTER_SUFFIXES)
            and resets
            and str(_strip(guard.lhs).func.name) == "resets"
            and _constant(guard.rhs) == 0
            and _reaches_before(right, _strip(guard.lhs))
        )

    def only_compared(self, record: str) -> bool:
        """Whether every reader of `record` feeds it straight into a filtering comparison
        with a constant (where NaN and no sample are the same: dropped)."""
        found = False
        for _, path in self.readers(record):
            found = True
            if not path or not _filtering_comparison(*path[-1]):
                return False
        return found


def _reaches_before(before: Any, resets: Any) -> bool:
    """Whether `resets(...)` reads back to every sample `before` (`x offset W`) can be."""
    if not resets.args or before.offset is None:
        return False
    matrix = _strip(resets.args[0])
    return _kind(matrix) == "MatrixSelector" and bool(matrix.range >= before.offset + LOOKBACK_DELTA)


def _filtering_comparison(parent: Any, index: int) -> bool:
    """Whether `parent` compares its child `index` with a constant, keeping the samples."""
    if _kind(parent) != "BinaryExpr" or _op(parent) not in _COMPARISONS or _has_matching(parent):
        return False
    return _constant(parent.rhs if index == 0 else parent.lhs) is not None


def _terms(node: Any) -> list[Any]:
    """`a + b + c` as its terms (parentheses looked through)."""
    while _kind(node) == "ParenExpr":
        node = node.expr
    if _kind(node) == "BinaryExpr" and _op(node) == "+" and not _has_matching(node):
        return _terms(node.lhs) + _terms(node.rhs)
    return [node]


def _strip(node: Any) -> Any:
    while _kind(node) == "ParenExpr":
        node = node.expr
    return node


def _sums_subset(small: Any, big: Any) -> bool:
    """Whether `small` sums a subset of the series `big` sums, grouped alike."""
    small, big = _strip(small), _strip(big)
    if str(small) == str(big):
        return True
    if _kind(small) == "AggregateExpr" and _kind(big) == "AggregateExpr":
        if _op(small) != "sum" or _op(big) != "sum" or str(small.modifier) != str(big.modifier):
            return False
        small, big = _strip(small.expr), _strip(big.expr)
    if _kind(small) != "VectorSelector" or _kind(big) != "VectorSelector" or small.name != big.name:
        return False
    if str(small.offset) != str(big.offset):
        return False
    own = _selector_matchers(small)
    for matcher in _selector_matchers(big):
        implied = False
        for mine in own:
            values = _accepted(mine)
            if str(mine) == str(matcher) or (
                mine.name == matcher.name and values is not None and all(_matches(matcher, v) for v in values)
            ):
                implied = True
                break
        if not implied:
            return False
    return True


def guard_drop_equivalent(before: str, rule: Mapping[str, Any], closure: Closure) -> str | None:
    """Proof 2 for the guard `N / (D > 0)` of `before` (the unmutated expression)."""
    tree = _parse(before)
    if tree is None:
        return None
    for node, path in _walk(tree):
        if _kind(node) != "BinaryExpr" or _op(node) != "/" or _has_matching(node):
            continue
        guard = _strip(node.rhs)
        if _kind(guard) != "BinaryExpr" or _op(guard) != ">" or _constant(guard.rhs) != 0:
            continue
        terms = _terms(guard.lhs)
        if not (closure.non_negative(node.lhs) and all(closure.non_negative(t) for t in terms)):
            continue
        if not any(_sums_subset(node.lhs, t) for t in terms):
            continue
        # The quotient must meet a filtering comparison, here or in every reader of the record.
        if path and _filtering_comparison(*path[-1]):
            return "N <= D for non-negative counts: where D is 0, N/D is NaN, which no comparison keeps"
        if not path and "record" in rule and closure.only_compared(str(rule["record"])):
            return "N <= D for non-negative counts: where D is 0, N/D is NaN, which every reader's comparison drops"
    return None


def _changed_matcher(a: Any, b: Any) -> tuple[str, Callable[[frozenset[str]], bool]] | None:
    """The label of the one matcher that differs between selectors `a` and `b`, and a
    test of whether a finite set of that label's values avoids every value the change
    lets in or keeps out."""
    old = {str(m.name): m for m in _selector_matchers(a)}
    new = {str(m.name): m for m in _selector_matchers(b)}
    changed = [name for name in old.keys() | new.keys() if str(old.get(name)) != str(new.get(name))]
    if len(changed) != 1 or changed[0] not in old:
        return None
    label = changed[0]
    accepted = _accepted(old[label])
    if accepted is None:
        return None
    if label not in new:  # dropped: every value outside `accepted` gets in
        return label, lambda values: values <= accepted
    narrowed = _accepted(new[label])
    if narrowed is None or not narrowed <= accepted:
        return None
    removed = accepted - narrowed
    return label, lambda values: not values & removed


def matcher_drop_equivalent(before: str, after: str, rule: Mapping[str, Any], closure: Closure) -> str | None:
    """Proof 3: `after` is `before` with one matcher of one selector dropped, or narrowed
    to fewer alternatives; the series that lets in or keeps out never reach the alert."""
    old, new = _parse(before), _parse(after)
    if old is None or new is None:
        return None
    old_nodes, new_nodes = list(_walk(old)), list(_walk(new))
    if len(old_nodes) != len(new_nodes):
        return None
    for (a, path), (b, _) in zip(old_nodes, new_nodes, strict=True):
        if _kind(a) != "VectorSelector" or str(a) == str(b):
            continue
        change = _changed_matcher(a, b)
        if change is None:
            return None
        label, untouched = change
        matcher = next(m for m in _selector_matchers(a) if str(m.name) == label)
        # (c) the selector reads a recording rule whose series only carry untouched values.
        record = closure.records.get(str(a.name))
        # The mutated rule's own record is left out: its original definition is what changed.
        others = {**closure.records, str(rule.get("record", "")): None}
        carried = _values_on(record, label, others) if record is not None else None
        if carried is not None and untouched(carried):
            return f"{a.name} only carries values of `{label}` the change to `{matcher}` does not touch"
        for parent, index in reversed(path):
            if _kind(parent) == "BinaryExpr" and _op(parent) not in ("and", "or", "unless"):
                values = _values_on(parent.rhs if index == 0 else parent.lhs, label)
                if not _has_matching(parent) and values is not None and untouched(values):
                    return f"the series the change to `{matcher}` touches find no partner across `{_op(parent)}`"
            if not _keeps_label(index, parent, label):
                return None
        if "record" in rule and _readers_filter(closure, str(rule["record"]), label, untouched):
            return (
                f"every reader of {rule['record']} selects values of `{label}` the change to `{matcher}` does not touch"
            )
        return None
    return None


def _readers_filter(
    closure: Closure, record: str, label: str, untouched: Callable[[frozenset[str]], bool], depth: int = 0
) -> bool:
    """Whether every reader of `record` keeps only untouched values of `label`: by its
    own matchers, or by passing the label on unchanged into a recording rule whose
    readers do (a quantile of a bucket record, read with a filter on routes)."""
    readers = list(closure.reading_rules(record))
    if not readers or depth > 8:
        return False
    for rule, node, path in readers:
        values = _values_on(node, label)
        if values is not None and untouched(values):
            continue
        through = all(_keeps_label(index, parent, label) for parent, index in path)
        if not (through and "record" in rule):
            return False
        if not _readers_filter(closure, str(rule["record"]), label, untouched, depth + 1):
            return False
    return True
