"""User-facing commands (console scripts): ``accent-id``."""
