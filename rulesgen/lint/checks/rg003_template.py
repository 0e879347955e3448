"""`[[ ... ]]` templates in summaries and descriptions must render: known variables and
filters only. Made while compiling, where the variables are known."""

from rulesgen.lint import ERROR, builtin

CHECK = builtin("RG003", "template", ERROR, "a summary or description template does not render")
