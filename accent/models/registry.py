"""A tiny name -> class registry (as WeSpeaker's model/pooling/projection tables).

Every configurable part of the model library (encoders, poolings, heads, fusions) is registered
under a short name and built from a plain dict such as ``{"name": "jasper", "dropout": 0.1}``::

    from accent.models import ENCODERS
    enc = ENCODERS.build("jasper", input_dim=40, blocks=...)
    enc = ENCODERS.build_from_config({"name": "jasper", ...}, input_dim=40)
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Union


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the known words closest to a misspelt one (else empty)."""
    close = difflib.get_close_matches(str(word).lower(), sorted(known), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def unknown_keys_message(what: str, unknown: Iterable[str], known: Iterable[str]) -> str:
    """``unknown <what> 'x'. Did you mean 'y'? Known: ...``, one clause per unknown key."""
    known = sorted(known)
    parts = [f"unknown {what} {k!r}.{did_you_mean(k, known)}" for k in sorted(unknown)]
    return " ".join(parts) + f" Known: {', '.join(known)}"


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

    def name_of(self, obj: Any) -> str:
        """The canonical name ``obj``'s class is registered under."""
        for name, cls in self._classes.items():
            if type(obj) is cls:
                return name
        raise KeyError(f"{type(obj).__name__} is not a registered {self.kind}")

    def get(self, name: str) -> type:
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a string, got {type(name).__name__}")
        key = name.lower()
        key = self._aliases.get(key, key)
        if key in self._classes:
            return self._classes[key]
        hint = did_you_mean(key, self.names() + sorted(self._aliases))
        raise KeyError(
            f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {', '.join(self.names())}"
            + (f" (aliases: {', '.join(sorted(self._aliases))})" if self._aliases else "")
        )

    def options(self, name: str) -> Optional[List[str]]:
        """The keyword options a config may give the class ``name`` (None: it takes any)."""
        params = inspect.signature(self.get(name).__init__).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]

    def check_options(self, name: str, kwargs: Iterable[str]) -> None:
        """KeyError naming the options of ``name`` that its class does not take, with the nearest."""
        known = self.options(name)
        unknown = sorted(set(kwargs) - set(known)) if known is not None else []
        if unknown:
            raise KeyError(unknown_keys_message(f"{self.kind} {name!r} option", unknown, known))

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Instantiate the class registered as ``name`` with the given arguments."""
        cls = self.get(name)
        self.check_options(name, kwargs)
        try:
            return cls(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"building {self.kind} {name!r} ({cls.__name__}): {e}") from e

    def _split(self, config: Union[str, Mapping[str, Any]]):
        if isinstance(config, str):
            return config, {}
        if isinstance(config, Mapping):
            if "name" not in config:
                raise KeyError(f"{self.kind} config needs a 'name' key (one of {', '.join(self.names())}): {dict(config)}")
            return config["name"], {k: v for k, v in config.items() if k != "name"}
        raise TypeError(f"{self.kind} config must be a name or a dict, got {type(config).__name__}")

    def check_config(self, config: Union[str, Mapping[str, Any]]) -> None:
        """The checks of :meth:`build_from_config` (name, option names) without building."""
        name, kwargs = self._split(config)
        self.check_options(name, kwargs)

    def build_from_config(self, config: Union[str, Mapping[str, Any]], *args: Any, **overrides: Any) -> Any:
        """Build from ``"name"`` or ``{"name": ..., **kwargs}``; ``overrides`` win over the dict."""
        name, kwargs = self._split(config)
        kwargs.update(overrides)
        return self.build(name, *args, **kwargs)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"


ENCODERS = Registry("encoder")
POOLINGS = Registry("pooling")
HEADS = Registry("head")
FUSIONS = Registry("fusion")
NORMALIZERS = Registry("normalizer")
