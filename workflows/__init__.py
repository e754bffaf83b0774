"""Temporal workflow definitions: deterministic orchestration only, one module per behaviour."""
