"""The spec's structure: YAML syntax, required keys, types, ranges, unknown keys (with a
"did you mean" for typos), durations, names, and secrets that must live in files.
Made by the parser: nothing else can run on a document that does not have this shape."""

from rulesgen.lint import ERROR, builtin

CHECK = builtin("RG001", "schema", ERROR, "the spec does not have the shape rulesgen reads")
