"""pmrecon: reconstruct an incident from its telemetry and draft the post-mortem."""

__version__ = "0.1.0"
