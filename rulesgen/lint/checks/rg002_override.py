"""An environment override must name a known alert and fields of its kind, and its
value is validated like the original. Made while applying overrides, since an
environment whose overrides do not apply cannot be compiled."""

from rulesgen.lint import ERROR, builtin

CHECK = builtin("RG002", "override", ERROR, "an environment override names an unknown alert or field, or a bad value")
