"""Test generation: scenario plans per alert (`planner`, running the scenario
`families` each kind selects, and `examples`), the evaluation model they are predicted
with (`model`), and their expansion per environment into plain-data tests (`generate`)."""
