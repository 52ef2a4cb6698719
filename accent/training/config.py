"""Experiment configs: YAML with inheritance (``base:``), dotted keys, overrides and defaults.

A config may name a ``base:`` config (a path relative to its own file, or a list of them, merged
in order); its own keys are deep-merged on top.  Keys with dots are paths into the nested dicts,
so a table row of a paper is a few lines::

    # conf/hybrid/mtl_l0.2.yaml
    base: base.yaml
    method: mtl
    model.ctc_weight: 0.2

Merge rules: dicts merge key by key; anything else (lists, scalars, a component given by its bare
name) replaces.  Below the top-level sections, a component dict whose ``name`` differs from the
one it overrides replaces it whole (``model.head: {name: softmax}`` over a circle head drops the
circle's ``scale``/``margin``, which belong to the other class).

``resolve_config`` fills the defaults below and checks the sections, so the resolved config (as
written to ``exp/<name>/config.yaml`` and stored in checkpoints) is complete and explicit.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import yaml

from accent.models import NORMALIZERS
from accent.models.registry import unknown_keys_message
from accent.utils.naming import experiment_name  # noqa: F401  (re-exported)

from .optim import OPTIMIZERS

TASKS = ("asr", "accent")
FEATURES = ("precomputed", "online", "waveform")
METHODS = ("scratch", "asr_init", "mtl", "hybrid")

DEFAULTS: Dict[str, Any] = {
    "task": "accent",
    "method": "scratch",
    "asr_checkpoint": None,        # accent: the AM to start from; asr: continue training this model
    "reference_checkpoint": None,  # hybrid: the frozen reference AM (default: asr_checkpoint)
    "lang_dir": None,              # CTC units: data/lang_phn (default, phones) or data/lang_bpe_<N> (BPE)
    "seed": 777,
    "data": {
        "features": "precomputed", # precomputed (feats.scp of stage 2) | online (crops of wav.scp, FBank on the fly)
                                   # | waveform (crops of wav.scp as samples, for the ssl encoder; dev: whole wav.scp)
        "crop": None,              # online/waveform: {min_s: 2, max_s: 4, passes: 1, batch_size: 32} (accent.dataset.crops)
        "augment": None,           # online/waveform: {speed, reverb, noise, band_limit} (accent.dataset.augment)
        "cmvn": "global",          # global | utterance | none (waveform: none, the encoder normalises)
        "max_frames": 20000,       # padded frames per batch (dynamic batching)
        "max_batch_size": 128,
        "dev_max_frames": None,    # default: 2 x max_frames (no gradients at dev time)
        "num_workers": 2,          # DataLoader workers (on 2 CPU cores, 2 beat 0: data wait 3% vs 7%)
        "prefetch_factor": None,
        "frame_shift_ms": 10.0,    # for audio-seconds throughput
        "specaug": {
            "num_freq_masks": 2, "freq_mask_width": 8,
            "num_time_masks": 2, "time_mask_width": 40, "time_mask_ratio": 0.2, "mask_value": "zero",
        },
    },
    "model": {},
    "optim": {
        "name": "adam",            # adam | adamw
        "lr": 1.0e-3,
        "weight_decay": 0.0,
        "betas": [0.9, 0.98],
        "eps": 1.0e-8,
        "clip_grad": 5.0,          # max gradient norm; 0 or null disables clipping
        # the warm-up: warmup_steps, or warmup_epochs / warmup_ratio (accent.training.scheduler)
        "scheduler": {"name": "warmup_cosine", "warmup_steps": 500, "final_lr_ratio": 0.01},
    },
    "train": {
        "epochs": 30,
        "amp": "bf16",             # bf16 | fp16 | none (CUDA only; CPU trains in float32)
        "keep_checkpoints": 5,     # epoch_N.pt kept (the newest); best.pt is always kept
        "save_interval_steps": 0,  # > 0: also save last.pt every N steps (mid-epoch resume)
        "log_interval_steps": 50,
        "margin_ramp": None,       # {start_epoch, end_epoch, initial} for margin heads
        "average_last": 0,         # > 0: write avg_N.pt (average of the last N epochs) at the end
    },
}

SECTION_KEYS = {
    "data": set(DEFAULTS["data"]),
    "optim": set(DEFAULTS["optim"]),
    "train": set(DEFAULTS["train"]),
}
TOP_KEYS = set(DEFAULTS) | {"description"}

# Numbers: the smallest allowed value (inclusive unless the bound is in EXCLUSIVE).  Their type
# comes from the default (an int default wants an int; a float one any number).
MINIMA: Dict[str, float] = {
    "seed": 0, "data.max_frames": 1, "data.max_batch_size": 1, "data.dev_max_frames": 1, "data.num_workers": 0,
    "data.prefetch_factor": 1, "data.frame_shift_ms": 0, "optim.lr": 0, "optim.weight_decay": 0, "optim.eps": 0,
    "optim.clip_grad": 0, "train.epochs": 1, "train.keep_checkpoints": 0, "train.save_interval_steps": 0,
    "train.log_interval_steps": 0, "train.average_last": 0,
}
EXCLUSIVE = {"data.frame_shift_ms", "optim.lr", "optim.eps"}
INTEGERS = {"seed", "data.dev_max_frames", "data.prefetch_factor"}  # their default is None
NULLABLE = {"optim.clip_grad"}  # null disables clipping


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file or key."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.2; PyYAML's 1.1 needs ``1.0e-3``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _yaml_load(text: str):
    return yaml.load(text, Loader=_Loader)


# ------------------------------------------------------------------------------------------------
# Loading and merging


def expand_dotted(cfg: Mapping[str, Any], where: str = "config") -> Dict[str, Any]:
    """``{"model.ctc_weight": 0.2}`` -> ``{"model": {"ctc_weight": 0.2}}`` (recursively, merged)."""
    out: Dict[str, Any] = {}
    for key, value in cfg.items():
        if not isinstance(key, str):
            raise ConfigError(f"{where}: keys must be strings, got {key!r}")
        if isinstance(value, Mapping):
            value = expand_dotted(value, where)
        parts = key.split(".")
        if any(not p for p in parts):
            raise ConfigError(f"{where}: bad key {key!r}")
        node = {parts[-1]: value}
        for p in reversed(parts[:-1]):
            node = {p: node}
        out = deep_merge(out, node)
    return out


def _component_name(value: Any) -> Optional[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return value.get("name")
    return None


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any], _depth: int = 0) -> Dict[str, Any]:
    """``override`` on top of ``base`` (new dicts; the inputs are left untouched)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            new_name, old_name = value.get("name"), old.get("name")
            if _depth > 0 and new_name is not None and old_name is not None and new_name != old_name:
                out[key] = copy.deepcopy(dict(value))  # another component: its options only
            else:
                out[key] = deep_merge(old, value, _depth + 1)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: Union[str, os.PathLike], _seen: Optional[List[Path]] = None) -> Dict[str, Any]:
    """Read a YAML config, following ``base:`` (relative to the file) and expanding dotted keys."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config not found")
    real = path.resolve()
    seen = list(_seen or [])
    if real in seen:
        chain = " -> ".join(str(p) for p in seen + [real])
        raise ConfigError(f"{path}: circular 'base:' chain: {chain}")
    seen.append(real)
    try:
        with open(path, encoding="utf-8") as f:
            raw = _yaml_load(f.read())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: a config must be a mapping, got {type(raw).__name__}")
    raw = dict(raw)
    bases = raw.pop("base", None)
    merged: Dict[str, Any] = {}
    if bases:
        for b in [bases] if isinstance(bases, str) else list(bases):
            merged = deep_merge(merged, load_config(path.parent / b, seen))
    return deep_merge(merged, expand_dotted(raw, str(path)))


def parse_overrides(items: Iterable[str]) -> Dict[str, Any]:
    """``["optim.lr=1e-3", "model.head={name: softmax}"]`` -> a nested dict (values are YAML)."""
    out: Dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r}: expected key.path=value")
        try:
            parsed = _yaml_load(value)
        except yaml.YAMLError as e:
            raise ConfigError(f"override {item!r}: invalid YAML value: {e}") from None
        out = deep_merge(out, expand_dotted({key.strip(): parsed}, f"override {item!r}"))
    return out


# ------------------------------------------------------------------------------------------------
# Resolution


def resolve_config(cfg: Mapping[str, Any], where: str = "config") -> Dict[str, Any]:
    """Defaults filled in, sections checked, method-dependent settings made explicit."""
    user_sched = ((cfg.get("optim") or {}).get("scheduler")) if isinstance(cfg.get("optim"), Mapping) else None
    user_data = cfg.get("data") if isinstance(cfg.get("data"), Mapping) else {}
    cfg = deep_merge(DEFAULTS, cfg)
    if isinstance(user_sched, Mapping) and "warmup_steps" not in user_sched and (
            "warmup_epochs" in user_sched or "warmup_ratio" in user_sched):
        # a warm-up in epochs or as a fraction replaces the default one in steps
        cfg["optim"]["scheduler"].pop("warmup_steps", None)
    unknown = set(cfg) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}: {unknown_keys_message('top-level key', unknown, TOP_KEYS)}")
    for section, keys in SECTION_KEYS.items():
        if not isinstance(cfg[section], Mapping):
            raise ConfigError(f"{where}: '{section}' must be a mapping")
        bad = set(cfg[section]) - keys
        if bad:
            raise ConfigError(f"{where}: {unknown_keys_message(section + ' key', bad, keys)}")
    _check_numbers(cfg, where)
    if cfg["task"] not in TASKS:
        raise ConfigError(f"{where}: task must be one of {TASKS}, got {cfg['task']!r}")
    model = cfg["model"]
    if not isinstance(model, Mapping) or "encoder" not in model:
        raise ConfigError(f"{where}: model needs an 'encoder'")
    check_model_config(model, where)
    if cfg["data"]["features"] not in FEATURES:
        raise ConfigError(f"{where}: data.features must be one of {', '.join(FEATURES)}, got {cfg['data']['features']!r}")
    if cfg["data"]["features"] == "precomputed" and (cfg["data"]["crop"] or cfg["data"]["augment"]):
        raise ConfigError(f"{where}: data.crop and data.augment need data.features: online or waveform "
                          "(they act on the audio)")
    if cfg["data"]["features"] == "waveform":
        # samples have no CMVN statistics; an SSL model normalises its input itself
        if user_data.get("cmvn") not in (None, "none"):
            raise ConfigError(f"{where}: data.features: waveform takes data.cmvn: none (got {user_data['cmvn']!r}); "
                              "the encoder normalises the waveform (model.encoder.normalize_waveform)")
        cfg["data"]["cmvn"] = "none"
    if cfg["data"]["cmvn"] not in NORMALIZERS.names():
        raise ConfigError(f"{where}: data.cmvn must be one of {', '.join(NORMALIZERS.names())}")
    if cfg["train"]["amp"] not in ("bf16", "fp16", "none", None, False):
        raise ConfigError(f"{where}: train.amp must be bf16, fp16 or none")
    if cfg["optim"]["name"] not in OPTIMIZERS.names():
        raise ConfigError(f"{where}: optim.name must be one of {', '.join(OPTIMIZERS.names())}")
    if cfg["task"] == "accent":
        method = cfg["method"]
        if method not in METHODS:
            raise ConfigError(f"{where}: method must be one of {METHODS}, got {method!r}")
        # the method supplies the CTC weight's default: no CTC for scratch/asr_init, 0.1 otherwise
        if "ctc_weight" not in model:
            model["ctc_weight"] = 0.1 if method in ("mtl", "hybrid") else 0.0
        if method in ("mtl", "hybrid") and not float(model["ctc_weight"]) > 0:
            raise ConfigError(f"{where}: method {method} is multi-task: it needs model.ctc_weight > 0")
        has_ref = model.get("reference_encoder") is not None
        if method == "hybrid" and not has_ref:
            raise ConfigError(f"{where}: method hybrid needs model.reference_encoder (e.g. 'same') and a fusion")
        if method != "hybrid" and has_ref:
            raise ConfigError(f"{where}: model.reference_encoder is only used by method hybrid (got {method})")
    else:
        cfg["method"] = None
    return cfg


def _check_numbers(cfg: Mapping[str, Any], where: str) -> None:
    """Types and ranges of the numeric settings (``train.epochs: four``, ``optim.lr: -1``, ...)."""
    for key, low in MINIMA.items():
        section, _, name = key.rpartition(".")
        value = (cfg[section] if section else cfg).get(name)
        default = (DEFAULTS[section] if section else DEFAULTS).get(name)
        if value is None and (default is None or key in NULLABLE):
            continue
        integer = isinstance(default, int) or key in INTEGERS
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type or (value != value):  # NaN fails every range
            kind = "an integer" if integer else "a number"
            raise ConfigError(f"{where}: {key} must be {kind}, got {value!r}")
        if value < low or (key in EXCLUSIVE and value == low):
            bound = f"> {low:g}" if key in EXCLUSIVE else f">= {low:g}"
            raise ConfigError(f"{where}: {key} must be {bound}, got {value!r}")


def check_model_config(model: Mapping[str, Any], where: str) -> None:
    """Key names of the model section and of each component (encoder, pooling, head, fusion),
    checked against the registries and the classes' options, with the nearest valid names."""
    from accent.models import ENCODERS, FUSIONS, HEADS, POOLINGS
    from accent.models.accent_model import MODEL_KEYS

    bad = set(model) - MODEL_KEYS
    if bad:
        raise ConfigError(f"{where}: {unknown_keys_message('model key', bad, MODEL_KEYS)}")
    parts = {"encoder": ENCODERS, "reference_encoder": ENCODERS, "pooling": POOLINGS, "head": HEADS,
             "fusion": FUSIONS}
    for key, registry in parts.items():
        value = model.get(key)
        if value is None or (key == "reference_encoder" and value == "same"):
            continue
        try:
            registry.check_config(value)
        except (KeyError, TypeError) as e:
            message = e.args[0] if e.args else str(e)
            raise ConfigError(f"{where}: model.{key}: {message}") from None


def needs_asr_checkpoint(cfg: Mapping[str, Any]) -> bool:
    return cfg["task"] == "accent" and cfg["method"] in ("asr_init", "mtl", "hybrid")


def starts_from_asr(cfg: Mapping[str, Any]) -> bool:
    """Initialised from a stage-4 checkpoint: the accent methods that need one, and an ASR model
    whose training continues from one (the hybrid paper's trainable AM: LibriSpeech, then
    LibriSpeech + accented speech)."""
    return needs_asr_checkpoint(cfg) or (cfg["task"] == "asr" and bool(cfg.get("asr_checkpoint")))


class _Dumper(yaml.SafeDumper):
    pass


def _represent_list(dumper: yaml.SafeDumper, data: list):
    flow = all(not isinstance(x, (list, dict)) for x in data)  # [1, 2, 3] on one line
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def dump_config(cfg: Mapping[str, Any]) -> str:
    """YAML text of a (resolved) config, keys in insertion order."""
    return yaml.dump(plain(cfg), Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def plain(x: Any) -> Any:
    """Plain Python types only (dict/list/str/int/float/bool/None): YAML- and weights_only-safe."""
    if isinstance(x, Mapping):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    return x
