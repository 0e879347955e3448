"""The user-facing spec: YAML loading with positions, models, validation (`rulesgen.spec.validate`)."""
