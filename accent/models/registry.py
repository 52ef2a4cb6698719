"""A tiny name -> class registry (as WeSpeaker's model/pooling/projection tables).

Every configurable part of the model library (encoders, poolings, heads, fusions) is registered
under a short name and built from a plain dict such as ``{"name": "jasper", "dropout": 0.1}``::

    from accent.models import ENCODERS
    enc = ENCODERS.build("jasper", input_dim=40, blocks=...)
    enc = ENCODERS.build_from_config({"name": "jasper", ...}, input_dim=40)
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Dict, List, Mapping, Optional, Union


class Registry:
    """Maps names (and optional aliases) to classes."""

    def __init__(self, kind: str):
        self.kind = kind
        self._classes: Dict[str, type] = {}
        self._aliases: Dict[str, str] = {}

    # -- registration -------------------------------------------------------------------------
    def register(self, name: str, aliases: Optional[List[str]] = None) -> Callable[[type], type]:
        """Class decorator: ``@ENCODERS.register("jasper")``."""

        def deco(cls: type) -> type:
            for key in [name] + list(aliases or []):
                key = key.lower()
                if key in self._classes or key in self._aliases:
                    raise KeyError(f"{self.kind} {key!r} is already registered")
            self._classes[name.lower()] = cls
            for alias in aliases or []:
                self._aliases[alias.lower()] = name.lower()
            return cls

        return deco

    # -- look-up --------------------------------------------------------------------------------
    def names(self) -> List[str]:
        """Canonical names, sorted."""
        return sorted(self._classes)

    def get(self, name: str) -> type:
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a string, got {type(name).__name__}")
        key = name.lower()
        key = self._aliases.get(key, key)
        if key in self._classes:
            return self._classes[key]
        known = self.names() + sorted(self._aliases)
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(
            f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {', '.join(self.names())}"
            + (f" (aliases: {', '.join(sorted(self._aliases))})" if self._aliases else "")
        )

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Instantiate the class registered as ``name`` with the given arguments."""
        cls = self.get(name)
        try:
            return cls(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"building {self.kind} {name!r} ({cls.__name__}): {e}") from e

    def build_from_config(self, config: Union[str, Mapping[str, Any]], *args: Any, **overrides: Any) -> Any:
        """Build from ``"name"`` or ``{"name": ..., **kwargs}``; ``overrides`` win over the dict."""
        if isinstance(config, str):
            name, kwargs = config, {}
        elif isinstance(config, Mapping):
            if "name" not in config:
                raise KeyError(f"{self.kind} config needs a 'name' key (one of {', '.join(self.names())}): {dict(config)}")
            kwargs = {k: v for k, v in config.items() if k != "name"}
            name = config["name"]
        else:
            raise TypeError(f"{self.kind} config must be a name or a dict, got {type(config).__name__}")
        kwargs.update(overrides)
        return self.build(name, *args, **kwargs)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"


ENCODERS = Registry("encoder")
POOLINGS = Registry("pooling")
HEADS = Registry("head")
FUSIONS = Registry("fusion")
