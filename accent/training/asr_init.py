"""What an accent or ASR model takes from the acoustic model it starts from, and from its data.

* The FBank options of the features (``<data>/conf/fbank.yaml``, written by stage 2) travel in the
  checkpoint, so inference computes the same features from audio; train and dev must agree, and a
  model initialised from an ASR checkpoint must have been fed like it.
* Global CMVN belongs to the acoustic model: a model initialised from an ASR checkpoint normalises
  with that checkpoint's statistics (LibriSpeech's, for the frozen reference AM of the hybrid
  above all), not with the training set's ``cmvn.ark``.
* ``method`` asr_init / mtl / hybrid copy the ASR encoder (and CTC head, and reference encoder);
  ASR training with an ``asr_checkpoint`` continues that model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import torch

from accent.features.frontend import check_same_frontend, recorded_frontend
from accent.models import load_encoder_from_asr
from accent.models.build import init_from_asr
from accent.models.checkpoint import load_checkpoint
from accent.models.normalize import checkpoint_cmvn, model_state, read_cmvn_stats

from .config import ConfigError

log = logging.getLogger(__name__)


def data_frontend(train_data: Path, dev_data: Path) -> Optional[Dict[str, Any]]:
    """The FBank options the training features were made with (None, with a warning, when stage 2
    did not record them); the dev set's must be the same."""
    train = recorded_frontend(train_data)
    if train is None:
        log.warning("%s/conf/fbank.yaml not found: the checkpoints will not know how the features were "
                    "made (rerun stage 2 to record it)", train_data)
    check_same_frontend(recorded_frontend(dev_data), train, f"{train_data} and {dev_data} have features made "
                        "with different FBank options (conf/fbank.yaml)", ConfigError)
    return train


def cmvn_stats(mode: str, cmvn_path: Path, asr_ckpt: Optional[Mapping[str, Any]] = None,
               asr_path: Optional[str] = None) -> Optional[Tuple[Any, Any]]:
    """The global CMVN statistics (mean, std) the model's normaliser is set to: the ASR
    checkpoint's when the model starts from one that has them, else ``cmvn_path``'s; None for the
    other modes."""
    if mode != "global":
        return None
    if asr_ckpt is not None:
        asr_mode, mean, std = checkpoint_cmvn(asr_ckpt)
        if asr_mode == "global" and mean is not None:
            log.info("global CMVN statistics from %s (the acoustic model's own), not %s", asr_path, cmvn_path)
            return mean, std
    return read_cmvn_stats(cmvn_path)


def same_cmvn(a: tuple, b: tuple) -> bool:
    """Whether two ``checkpoint_cmvn`` results normalise alike."""
    if a[0] != b[0] or (a[1] is None) != (b[1] is None):
        return False
    return a[1] is None or (torch.equal(a[1], b[1]) and torch.equal(a[2], b[2]))


def check_asr_checkpoint(path: Path, ckpt: Mapping[str, Any], cmvn: str, frontend: Optional[Mapping[str, Any]]) -> None:
    asr_mode = checkpoint_cmvn(ckpt)[0]
    if asr_mode not in (None, cmvn):
        log.warning("%s was trained with %s CMVN, this model uses %s", path, asr_mode, cmvn)
    check_same_frontend(frontend, ckpt.get("frontend"), f"{path} was trained on features made with other FBank "
                        "options", ConfigError)


def initialise_from_asr(model: torch.nn.Module, cfg: Mapping[str, Any], path: Path, ckpt: Mapping[str, Any],
                        units: Optional[Sequence[str]], lang_dir: Path,
                        frontend: Optional[Mapping[str, Any]]) -> None:
    """Initialise ``model`` from the ASR checkpoint ``ckpt`` (read from ``path``) as the config says."""
    check_asr_checkpoint(path, ckpt, cfg["data"]["cmvn"], frontend)
    if cfg["task"] == "asr":  # continued training: the whole model, same units
        if ckpt.get("task") != "asr" or list(ckpt.get("units") or []) != list(units):
            raise ConfigError(f"{path}: not an ASR checkpoint with the units of {lang_dir}; "
                              "cannot continue its training")
        try:
            model.load_state_dict(model_state(ckpt))
        except RuntimeError as e:
            raise ConfigError(f"{path}: does not fit this model's config: {e}") from None
        log.info("continuing the training of %s (encoder + CTC head)", path)
        return
    done = init_from_asr(model, ckpt, cfg["method"], units, source=str(path))
    ref = cfg.get("reference_checkpoint")
    if cfg["method"] == "hybrid" and ref and Path(ref).resolve() != path.resolve():
        # the paper's pair: a trainable AM fine-tuned on accented speech, a LibriSpeech-only fixed AM
        ref_ckpt = load_checkpoint(ref)
        check_asr_checkpoint(Path(ref), ref_ckpt, cfg["data"]["cmvn"], frontend)
        if not same_cmvn(checkpoint_cmvn(ref_ckpt), checkpoint_cmvn(ckpt)):
            raise ConfigError(f"{ref} and {path} normalise their features differently; the two AMs of "
                              "a hybrid share one input (continue the trainable AM from the reference)")
        try:
            load_encoder_from_asr(model, ref_ckpt, targets=["reference_encoder"])
        except RuntimeError as e:
            raise ConfigError(f"{ref}: its encoder does not fit the reference encoder's config: {e}") from None
        done["encoders"] = ["encoder", f"reference_encoder (from {ref})"]
    log.info("initialised from %s: %s%s", path, " + ".join(done["encoders"]), " + CTC head" if done["ctc_head"] else "")
