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

from rulesgen.mutate.mutants import Mutant, RuleMutation, alert_mutants, rule_mutations
from rulesgen.mutate.operators import (
    COMPARISONS,
    RATIO_UNIT,
    ExprMutant,
    Token,
    Units,
    expr_mutants,
    regex_alternatives,
    threshold_step,
    tokenize,
    unquote,
)
from rulesgen.mutate.report import format_mutations, mutations_json
from rulesgen.mutate.run import AlertScore, MutationReport, caught_elsewhere, run_mutations, verdict_signature

__all__ = [
    "COMPARISONS",
    "RATIO_UNIT",
    "AlertScore",
    "ExprMutant",
    "Mutant",
    "MutationReport",
    "RuleMutation",
    "Token",
    "Units",
    "alert_mutants",
    "caught_elsewhere",
    "expr_mutants",
    "format_mutations",
    "mutations_json",
    "regex_alternatives",
    "rule_mutations",
    "run_mutations",
    "threshold_step",
    "tokenize",
    "unquote",
    "verdict_signature",
]
