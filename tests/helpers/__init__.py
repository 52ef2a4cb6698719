"""Helpers shared by the test modules: generated audio, tiny corpora in the real on-disk layouts,
tiny model configs, recipe copies and process utilities.  ``tests/conftest.py`` re-exports them
(and holds the shared fixtures), so that a test module imports them from ``conftest`` and never
from another test module."""
