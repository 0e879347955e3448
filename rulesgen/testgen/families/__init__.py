"""Scenario families: registered functions over a small frozen context that kinds
select through their invariants, like the lint checks (`registry`). The core
families (`core`) register first, then the production faults (`faults`): the order
of the imports below is the order of every alert's scenarios."""

from rulesgen.testgen.families import core, faults
from rulesgen.testgen.families.registry import FAMILIES, FamilyContext, Registered, family, selected

__all__ = ["FAMILIES", "FamilyContext", "Registered", "core", "family", "faults", "selected"]
