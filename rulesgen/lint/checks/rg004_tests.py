"""Every alert must be testable: rulesgen must be able to synthesize series that make
it fire and stay silent, its annotations must be predictable, and every example
written in the spec must agree with the thresholds. Made by the test generator."""

from rulesgen.lint import ERROR, builtin

CHECK = builtin("RG004", "untestable", ERROR, "tests cannot be generated, or an example disagrees with the thresholds")
