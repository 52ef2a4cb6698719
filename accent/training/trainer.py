"""One trainer for phone-CTC ASR pretraining (``task: asr``) and accent recognition (``task: accent``).

* ``task: asr``: ``AsrModel`` (encoder + CTC head) on a transcribed set; dev phone error rate with
  greedy decoding; best = lowest dev PER.
* ``task: accent``: ``AccentModel``; dev accuracy; best = highest dev accuracy (ties: lower dev
  loss).  ``method``: ``scratch`` (random init), ``asr_init`` (encoder from the ASR checkpoint),
  ``mtl`` (asr_init + CTC with weight λ = ``model.ctc_weight``), ``hybrid`` (mtl + a frozen
  reference encoder loaded from the same checkpoint, fused with the trainable one).

Training: Adam/AdamW, warm-up + decay by step (:mod:`.scheduler`), gradient clipping, mixed
precision on CUDA (``train.amp``: bf16, or fp16 with a GradScaler), a margin ramp for margin
heads (``train.margin_ramp``), per-epoch checkpoints, exact resumption (model, optimizer,
scheduler, scaler, sampler position, RNG states; at epoch ends and, with
``train.save_interval_steps``, mid-epoch).  Outputs in ``exp_dir``: ``config.yaml`` (resolved), ``fbank.yaml``,
``accents``/``units.txt``, ``epoch_N.pt``, ``best.pt``, ``last.pt``, ``train_log.jsonl`` (one JSON
record per epoch), ``results.json``, ``tensorboard/`` and, at the end, ``.done``.

Data-parallel (``world_size`` > 1, after :func:`accent.training.distributed.init_distributed`):
the model is wrapped in ``DistributedDataParallel`` (gradients averaged over the ranks, so every
rank's batch weighs the same; the learning rate is not scaled); the sampler gives every rank the
same number of batches of disjoint utterances; batch-norm layers normalise with each rank's own
batch (their running statistics are rank 0's, which DDP broadcasts).  A non-finite loss on any
rank skips the step on all.  The dev set is sharded too and its sums all-reduced, so every rank
sees the same dev metrics (and the same best epoch).  Only rank 0 writes files and logs
progress.  Dropout draws differ per rank (the global RNGs are seeded with (seed, rank) once the
model is built); checkpoints keep every rank's RNG states, restored on a resume with as many
processes.  Checkpoints hold the unwrapped model's state dict (no ``module.`` prefix).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch

from accent.data.kaldi_dir import DataDirError, read_mapping, write_list, write_text_atomic
from accent.features.fbank import FbankConfig
from accent.jobs.lock import DirectoryLock
from accent.dataset import (
    BucketBatchSampler, FeatsDataset, FeatureNormalizer, SpecAugment, Tokenizer, collate, make_loader, read_label_list,
)
from accent.dataset.crops import CropBatchSampler, CropDataset, crop_config, first_item
from accent.dataset.waveform import WaveformDataset
from accent.models import greedy_decode, linear_margin, load_encoder_from_asr
from accent.models.encoders.pretrained import complete_encoder_options, parameter_groups, set_training_step
from accent.models.ctc import ctc_carriers, error_counts, unpad_targets
from accent.utils.provenance import describe, numeric_environment

from .checkpoint import (
    FORMAT, PathLike, average_checkpoints, epoch_checkpoints, intact, latest_checkpoint, link_or_copy,
    load_checkpoint, prune_checkpoints, rng_state, save_checkpoint, set_rng_state,
)
from .config import ConfigError, dump_config, needs_asr_checkpoint, plain, starts_from_asr
from .distributed import all_reduce_sum, all_true, gather_objects
from .model_io import build_model, count_parameters, init_from_asr
from .scheduler import WarmupScheduler

log = logging.getLogger(__name__)

# config keys that may change between a run and its resumption
RESUMABLE_CHANGES = {
    "train.epochs", "train.keep_checkpoints", "train.log_interval_steps", "train.save_interval_steps",
    "train.average_last", "data.num_workers", "data.prefetch_factor", "asr_checkpoint", "reference_checkpoint", "lang_dir",
    "description",
}


def resolve_device(device: str = "auto") -> torch.device:
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available here")
    return dev


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def rank_seed(seed: int, rank: int, *extra: int) -> int:
    """A seed of its own for each rank (and each ``extra``, e.g. the step of a resumption)."""
    return int(np.random.SeedSequence([int(seed), int(rank), *map(int, extra)]).generate_state(1)[0])


def code_version() -> Dict[str, Optional[str]]:
    """``{"version": accent.__version__, "commit": <short hash>[-dirty] or None}``.  The commit is
    that of the git checkout whose top directory holds this ``accent`` package (None for an
    installed copy or without git); ``-dirty`` when tracked files differ from it."""
    import accent

    root = Path(accent.__file__).resolve().parent.parent
    commit = None

    def git(*args: str) -> Optional[str]:
        try:
            r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top and Path(top).resolve() == root:
        commit = git("rev-parse", "--short", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no")
        if commit and status:
            commit += "-dirty"
    return {"version": accent.__version__, "commit": commit}


def _flatten(d: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> List[str]:
    fa, fb = _flatten(a), _flatten(b)
    return sorted(k for k in set(fa) | set(fb) if fa.get(k, "<unset>") != fb.get(k, "<unset>"))


class _Tensorboard:
    """SummaryWriter when the ``tensorboard`` package is installed; otherwise a no-op (one warning)."""

    def __init__(self, log_dir: Path, purge_step: Optional[int], enabled: bool = True):
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.warning("TensorBoard logging off: the 'tensorboard' package is not installed")
            return
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def scalars(self, values: Mapping[str, Any], step: int) -> None:
        if self.writer is None:
            return
        for k, v in values.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                self.writer.add_scalar(k, v, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class _EpochStats:
    """Running sums of one training epoch (saved in mid-epoch checkpoints)."""

    KEYS = ("utts", "frames", "loss", "accent_loss", "ctc_loss", "ctc_utts", "correct", "labelled", "steps",
            "skipped", "time", "data_time")
    # summed over the ranks; "steps" (the same on every rank) and the times are rank 0's
    SUMMED = ("utts", "frames", "loss", "accent_loss", "ctc_loss", "ctc_utts", "correct", "labelled", "skipped")

    def __init__(self, state: Optional[Mapping[str, float]] = None):
        self.v: Dict[str, float] = {k: 0.0 for k in self.KEYS}
        if state:
            self.v.update({k: float(state[k]) for k in self.KEYS if k in state})

    def __getitem__(self, k: str) -> float:
        return self.v[k]

    def add(self, **kw: float) -> None:
        for k, x in kw.items():
            self.v[k] += float(x)

    def state(self) -> Dict[str, float]:
        return dict(self.v)

    def summed(self) -> "_EpochStats":
        """These statistics with the counts summed over the ranks (a collective: every rank calls it)."""
        total = all_reduce_sum([self.v[k] for k in self.SUMMED])
        return _EpochStats({**self.v, **dict(zip(self.SUMMED, total.tolist()))})


class Trainer:
    def __init__(
        self,
        cfg: Mapping[str, Any],
        exp_dir: PathLike,
        train_data: PathLike,
        dev_data: PathLike,
        lang_dir: Optional[PathLike] = None,
        cmvn: Optional[PathLike] = None,
        asr_checkpoint: Optional[PathLike] = None,
        device: str = "auto",
        resume: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.cfg = plain(cfg)
        self.exp_dir = Path(exp_dir)
        self.train_data, self.dev_data = Path(train_data), Path(dev_data)
        # the CTC units: --lang-dir, else the config's lang_dir (phones or BPE), else lang_phn by the data
        if lang_dir:
            self.cfg["lang_dir"] = str(lang_dir)
        self.lang_dir = Path(self.cfg.get("lang_dir") or self.train_data.parent / "lang_phn")
        self.cmvn_path = Path(cmvn) if cmvn else self.train_data / "cmvn.ark"
        self.asr_checkpoint = asr_checkpoint or self.cfg.get("asr_checkpoint")
        if asr_checkpoint:
            self.cfg["asr_checkpoint"] = str(asr_checkpoint)
        self.device = resolve_device(device)
        self.resume = resume
        self.rank, self.world_size = int(rank), int(world_size)
        self.is_main = self.rank == 0
        self.code = code_version()  # recorded in checkpoints and results.json
        self.numerics = numeric_environment()  # what changes float results across machines: recorded too
        self._asr_ckpt: Optional[Dict[str, Any]] = None  # loaded once, for _normalizer and _initialise_from_asr
        if self.world_size > 1 and not torch.distributed.is_initialized():
            raise RuntimeError("world_size > 1: call accent.training.distributed.init_distributed() first")
        self.task = self.cfg["task"]
        self.metric = "dev_per" if self.task == "asr" else "dev_acc"
        self.higher_is_better = self.task == "accent"
        if needs_asr_checkpoint(self.cfg) and not self.asr_checkpoint:
            raise ConfigError(
                f"method {self.cfg['method']} initialises from an ASR checkpoint: give --asr-checkpoint "
                "(e.g. exp/asr_jasper/best.pt) or asr_checkpoint: in the config"
            )

    # ------------------------------------------------------------------------------------------
    # set-up

    def _setup(self) -> None:
        cfg, data_cfg, train_cfg = self.cfg, self.cfg["data"], self.cfg["train"]
        seed_everything(int(cfg["seed"]))
        if self.is_main:
            self.exp_dir.mkdir(parents=True, exist_ok=True)

        # labels, units, normalisation
        self.labels = read_label_list(self.train_data) if self.task == "accent" else None
        ctc = self.task == "asr" or float(cfg["model"].get("ctc_weight", 0)) > 0
        self.tokenizer = Tokenizer(self.lang_dir) if ctc else None
        self.units = self.tokenizer.units if self.tokenizer else None
        self.normalizer = self._normalizer(data_cfg["cmvn"])
        self.frontend = self._frontend()

        # data
        label_source = str(self.train_data / "accents")
        online = data_cfg["features"] in ("online", "waveform")
        waveform = data_cfg["features"] == "waveform"  # samples in: no FBank, no SpecAugment
        self._check_adversary()
        if online:
            self._check_online()
            self.train_set = CropDataset(
                self.train_data, FbankConfig.from_dict(self.frontend), self.labels, self.normalizer,
                augment=data_cfg["augment"], specaug=None if waveform else SpecAugment.from_config(data_cfg["specaug"]),
                seed=int(cfg["seed"]), label_source=label_source, speakers=self._adversary_speakers(),
                waveform=waveform,
            )
        else:
            self.train_set = FeatsDataset(
                self.train_data, self.normalizer, self.labels, self.tokenizer, require_labels=True,
                require_targets=True, specaug=SpecAugment.from_config(data_cfg["specaug"]),
                seed=int(cfg["seed"]), label_source=label_source,
            )
        if waveform:
            self.dev_set = WaveformDataset(self.dev_data, self.train_set.sample_rate, self.labels,
                                           label_source=label_source, frame_shift_ms=data_cfg["frame_shift_ms"])
        else:
            self.dev_set = FeatsDataset(
                self.dev_data, self.normalizer, self.labels, self.tokenizer, require_labels=self.task == "accent",
                require_targets=self.task == "asr", label_source=label_source,
            )
        self.input_dim = self.dev_set.feat_dim
        self.ctc_utts = self._count_ctc_targets() if self.tokenizer else None
        min_batch = 2 if self.task == "accent" else 1
        for d, ds, need in ((self.train_data, self.train_set, min_batch), (self.dev_data, self.dev_set, 1)):
            if len(ds) < need * self.world_size:
                raise DataDirError(f"{d}: {len(ds)} utterances are too few to give each of the {self.world_size} "
                                   f"processes a batch of {need}")
        if online:
            self.train_sampler = CropBatchSampler(
                self.train_set.durations, self.train_set.sample_rate, **crop_config(data_cfg["crop"]),
                seed=int(cfg["seed"]), rank=self.rank, world_size=self.world_size)
        else:
            self.train_sampler = BucketBatchSampler(
                self.train_set.lengths, int(data_cfg["max_frames"]), data_cfg["max_batch_size"], shuffle=True,
                seed=int(cfg["seed"]), rank=self.rank, world_size=self.world_size,
                min_batch_size=min_batch,  # accent: the embedding's batch norm needs 2
            )
        # a budget of 10-ms frames; in samples for a waveform dev set
        unit = getattr(self.dev_set, "samples_per_frame", 1)
        dev_frames = int(data_cfg["dev_max_frames"] or 2 * int(data_cfg["max_frames"])) * unit
        self.dev_sampler = BucketBatchSampler(self.dev_set.lengths, dev_frames, data_cfg["max_batch_size"],
                                              shuffle=False, rank=self.rank, world_size=self.world_size)
        pin = self.device.type == "cuda"
        nw, pf = int(data_cfg["num_workers"] or 0), data_cfg["prefetch_factor"]
        self.train_loader = make_loader(self.train_set, self.train_sampler, nw, pin, pf, seed=int(cfg["seed"]),
                                        collate_fn=first_item if online else collate)
        self.dev_loader = make_loader(self.dev_set, self.dev_sampler, nw, pin, pf, seed=int(cfg["seed"]))
        self.steps_per_epoch = self.train_sampler.num_batches(1)
        self.frame_shift = float(data_cfg["frame_shift_ms"]) / 1000.0 / unit  # seconds per length unit

        # model (encoders from outside files, e.g. ssl, first write their architecture into the config)
        cfg["model"] = complete_encoder_options(cfg["model"])
        self.model = build_model(cfg, self.input_dim, self.labels, self.units)
        self.params = count_parameters(self.model)
        self.model.to(self.device)
        self.net: torch.nn.Module = self.model  # what training steps call: the DDP wrapper, if any (run())
        oc = cfg["optim"]
        params = parameter_groups(self.model, self.model.trainable_parameters(), float(oc["lr"]))
        opt_cls = torch.optim.AdamW if oc["name"] == "adamw" else torch.optim.Adam
        self.optimizer = opt_cls(params, lr=float(oc["lr"]), betas=tuple(oc["betas"]), eps=float(oc["eps"]),
                                 weight_decay=float(oc["weight_decay"]))
        total = int(train_cfg["epochs"]) * self.steps_per_epoch
        self.scheduler = WarmupScheduler.from_config(self.optimizer, oc["scheduler"], total, self.steps_per_epoch)

        # mixed precision
        amp = train_cfg["amp"] or "none"
        self.amp_dtype = None
        if amp != "none":
            if self.device.type != "cuda":
                log.info("train.amp=%s: mixed precision is CUDA-only, training in float32 on %s", amp, self.device)
            elif amp == "bf16" and not torch.cuda.is_bf16_supported():
                log.warning("train.amp=bf16: this GPU has no bf16 support, training in float32")
            else:
                self.amp_dtype = torch.bfloat16 if amp == "bf16" else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

        # margin ramp
        head = getattr(self.model, "head", None)
        self.final_margin = float(getattr(head, "margin", 0.0)) if head is not None else 0.0
        self.margin_ramp = train_cfg["margin_ramp"]
        if self.margin_ramp and (head is None or type(head).__name__ == "SoftmaxHead"):
            log.info("train.margin_ramp ignored: the head has no margin")
            self.margin_ramp = None

        # state
        self.epoch = 1
        self.batches_done = 0
        self.step = 0
        self.history: List[Dict[str, Any]] = []
        self.best: Dict[str, Any] = {"metric": self.metric, "value": None, "epoch": None}
        self.epoch_stats = _EpochStats()

    def _count_ctc_targets(self) -> Dict[str, int]:
        """Utterances with CTC targets (untranscribed ones have none); an error when no training
        utterance has one, as the CTC branch would then learn nothing."""
        counts = {"train": sum(1 for t in self.train_set.targets if t), "train_total": len(self.train_set)}
        if self.dev_set.targets is not None:
            counts.update(dev=sum(1 for t in self.dev_set.targets if t), dev_total=len(self.dev_set))
        what = "ASR training" if self.task == "asr" else f"method {self.cfg.get('method')} (CTC weight > 0)"
        if counts["train"] == 0:
            raise DataDirError(
                f"{self.train_data / self.tokenizer.text_file}: none of the {len(self.train_set)} utterances has a "
                f"transcript (all empty or <UNK>), but {what} needs CTC targets; give transcribed data, or "
                "train without CTC (method scratch/asr_init, model.ctc_weight: 0)")
        if self.is_main:
            log.info("CTC targets (%s): %d of %d training utterances%s", self.tokenizer.kind, counts["train"],
                     counts["train_total"], f", {counts['dev']} of {counts['dev_total']} dev utterances"
                     if "dev" in counts else "")
        return counts

    def _normalizer(self, mode: str) -> FeatureNormalizer:
        """Global CMVN belongs to the acoustic model: a model initialised from an ASR checkpoint
        normalises with that checkpoint's statistics (LibriSpeech's, for the frozen reference AM
        of the hybrid above all), not with ``--cmvn``."""
        if mode != "global":
            return FeatureNormalizer(mode)
        if starts_from_asr(self.cfg):
            asr_norm = self._asr_state().get("normalizer") or {}
            if asr_norm.get("mode") == "global":
                log.info("global CMVN statistics from %s (the acoustic model's own), not %s",
                         self.asr_checkpoint, self.cmvn_path)
                return FeatureNormalizer.from_dict(asr_norm)
        return FeatureNormalizer.from_stats_file(self.cmvn_path)

    def _adversary_speakers(self) -> Optional[List[str]]:
        """The training speakers of a speaker adversary (``model.speaker_adversary``); their number
        goes into the config, so the checkpoint rebuilds the same model."""
        adv = self.cfg["model"].get("speaker_adversary")
        if not adv:
            return None
        speakers = sorted(set(read_mapping(self.train_data / "utt2spk").values()))
        adv["num_speakers"] = len(speakers)
        return speakers

    def _check_online(self) -> None:
        """On-the-fly features must be the ones stage 2 made for dev and test: the same FBank
        options (``conf/fbank.yaml``), and no CTC (a crop has no transcript)."""
        kind = self.cfg["data"]["features"]
        if self.task != "accent":
            raise ConfigError(f"data.features: {kind} trains accent models only (ASR needs whole transcribed utterances)")
        if self.tokenizer is not None:
            raise ConfigError(f"data.features: {kind} crops the audio, so it cannot train a CTC branch: "
                              "set model.ctc_weight: 0 (method scratch or asr_init)")
        if not self.frontend:
            raise ConfigError(f"data.features: {kind} needs {self.train_data}/conf/fbank.yaml, the FBank options "
                              "of the dev features (stage 2 writes it)")

    def _check_adversary(self) -> None:
        if self.cfg["model"].get("speaker_adversary") and self.cfg["data"]["features"] == "precomputed":
            raise ConfigError("model.speaker_adversary is trained on crops (data.features: online)")

    def _asr_state(self) -> Dict[str, Any]:
        """The ASR checkpoint (possibly large), read once: set-up needs its CMVN statistics
        before the model exists, initialisation its weights after."""
        if self._asr_ckpt is None:
            self._asr_ckpt = load_checkpoint(self.asr_checkpoint)
        return self._asr_ckpt

    def _frontend(self) -> Optional[Dict[str, Any]]:
        """The FBank options the features were made with (``<data>/conf/fbank.yaml``, written by
        stage 2); they travel in the checkpoint so inference can compute features from audio."""
        configs = {}
        for d in (self.train_data, self.dev_data):
            path = d / "conf" / "fbank.yaml"
            configs[d] = FbankConfig.from_yaml(path).to_dict() if path.is_file() else None
        train, dev = configs[self.train_data], configs[self.dev_data]
        if train is None:
            log.warning("%s/conf/fbank.yaml not found: the checkpoints will not know how the features were "
                        "made (rerun stage 2 to record it)", self.train_data)
        elif dev is not None and dev != train:
            raise ConfigError(f"{self.train_data} and {self.dev_data} have features made with different FBank "
                              f"options (conf/fbank.yaml): {train} vs {dev}")
        return train

    def _check_asr_checkpoint(self, path: Path, ckpt: Mapping[str, Any]) -> None:
        asr_norm = ckpt.get("normalizer") or {}
        if asr_norm.get("mode") not in (None, self.normalizer.mode):
            log.warning("%s was trained with %s CMVN, this model uses %s", path, asr_norm.get("mode"),
                        self.normalizer.mode)
        if self.frontend and ckpt.get("frontend") and ckpt["frontend"] != self.frontend:
            raise ConfigError(f"{path} was trained on features made with other FBank options: "
                              f"{ckpt['frontend']} vs {self.frontend}")

    def _initialise_from_asr(self) -> None:
        if not starts_from_asr(self.cfg):
            return
        path = Path(self.asr_checkpoint)
        ckpt = self._asr_state()
        self._check_asr_checkpoint(path, ckpt)
        if self.task == "asr":  # continued training: the whole model, same units
            if ckpt.get("task") != "asr" or list(ckpt.get("units") or []) != list(self.units):
                raise ConfigError(f"{path}: not an ASR checkpoint with the units of {self.lang_dir}; "
                                  "cannot continue its training")
            try:
                self.model.load_state_dict(ckpt["model"])
            except RuntimeError as e:
                raise ConfigError(f"{path}: does not fit this model's config: {e}") from None
            log.info("continuing the training of %s (encoder + CTC head)", path)
            return
        done = init_from_asr(self.model, ckpt, self.cfg["method"], self.units, source=str(path))
        ref = self.cfg.get("reference_checkpoint")
        if self.cfg["method"] == "hybrid" and ref and Path(ref).resolve() != path.resolve():
            # the paper's pair: a trainable AM fine-tuned on accented speech, a LibriSpeech-only fixed AM
            ref_ckpt = load_checkpoint(ref)
            self._check_asr_checkpoint(Path(ref), ref_ckpt)
            if ref_ckpt.get("normalizer") != ckpt.get("normalizer"):
                raise ConfigError(f"{ref} and {path} normalise their features differently; the two AMs of "
                                  "a hybrid share one input (continue the trainable AM from the reference)")
            try:
                load_encoder_from_asr(self.model, ref_ckpt, targets=["reference_encoder"])
            except RuntimeError as e:
                raise ConfigError(f"{ref}: its encoder does not fit the reference encoder's config: {e}") from None
            done["encoders"] = ["encoder", f"reference_encoder (from {ref})"]
        log.info("initialised from %s: %s%s", path, " + ".join(done["encoders"]),
                 " + CTC head" if done["ctc_head"] else "")

    def _write_static_files(self) -> None:
        if not self.is_main:
            return
        write_text_atomic(self.exp_dir / "config.yaml", dump_config(self.cfg))
        if self.frontend:
            FbankConfig.from_dict(self.frontend).save(self.exp_dir / "fbank.yaml")
        if self.labels:
            write_list(self.exp_dir / "accents", self.labels)
        if self.units:
            write_text_atomic(self.exp_dir / "units.txt", "".join(f"{u} {i}\n" for i, u in enumerate(self.units)))

    # ------------------------------------------------------------------------------------------
    # checkpoints

    def _state(self, epoch_end: bool) -> Dict[str, Any]:
        """The checkpoint.  Every rank must call it (it gathers the ranks' RNG states)."""
        rngs = gather_objects(rng_state())
        return {
            "format": FORMAT,
            "config": self.cfg,
            "task": self.task,
            "labels": self.labels,
            "units": self.units,
            "normalizer": self.normalizer.to_dict(),
            "frontend": self.frontend,
            "input_dim": self.input_dim,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "epoch": self.epoch,
            "batches_done": 0 if epoch_end else self.batches_done,
            "step": self.step,
            "epoch_stats": None if epoch_end else self.epoch_stats.summed().state(),
            "history": self.history,
            "best": self.best,
            "params": self.params,
            "rng": rngs[0],
            "rng_ranks": rngs if self.world_size > 1 else None,
            "world_size": self.world_size,
            "numerics": self.numerics,
            **self.code,
        }

    def _resume(self) -> bool:
        path = latest_checkpoint(self.exp_dir)
        if path is None:
            if self.resume:
                log.info("--resume: no checkpoint in %s, starting from scratch", self.exp_dir)
            return False
        if not self.resume:
            raise ConfigError(f"{self.exp_dir} already holds checkpoints ({path.name}): "
                              "pass --resume to continue, or remove the directory")
        ckpt = load_checkpoint(path, map_location="cpu")
        diff = [k for k in config_differences(ckpt["config"], self.cfg) if k not in RESUMABLE_CHANGES]
        if diff:
            raise ConfigError(f"--resume: the config differs from the one of {path} in {', '.join(diff)}; "
                              "use a new --exp-dir for a new config")
        if ckpt.get("labels") != self.labels or ckpt.get("units") != self.units:
            raise ConfigError(f"--resume: the label or unit list differs from the one of {path}")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt["scheduler"].get("total_steps") != self.scheduler.total_steps:
            log.warning("--resume: train.epochs changed: the learning-rate schedule now spans %d steps",
                        self.scheduler.total_steps)
        if ckpt.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(ckpt["scaler"])
        self.step = int(ckpt["step"])
        self.history = list(ckpt["history"])
        self.best = dict(ckpt["best"])
        saved_world = int(ckpt.get("world_size") or 1)
        if ckpt["batches_done"]:
            if saved_world != self.world_size:
                # the ranks' batches of that epoch differ with the number of processes
                raise ConfigError(f"--resume: {path} is from the middle of epoch {ckpt['epoch']} of a run with "
                                  f"{saved_world} process(es); resume it with as many (this run has "
                                  f"{self.world_size}), or remove it to restart from the last epoch_N.pt")
            self.epoch, self.batches_done = int(ckpt["epoch"]), int(ckpt["batches_done"])
            # the saved sums are over all ranks: rank 0 carries them on, the others start afresh
            self.epoch_stats = _EpochStats(ckpt["epoch_stats"] if self.is_main else None)
        else:
            self.epoch, self.batches_done = int(ckpt["epoch"]) + 1, 0
        ranks = ckpt.get("rng_ranks")
        if ranks and len(ranks) == self.world_size:
            set_rng_state(ranks[self.rank])
        else:
            set_rng_state(ckpt["rng"])
            if self.world_size > 1:
                seed_everything(rank_seed(int(self.cfg["seed"]), self.rank, self.step))
                log.info("--resume: %s holds the RNG states of %d process(es), this run has %d: the ranks "
                         "draw new random numbers", path, saved_world, self.world_size)
        where = (f"epoch {self.epoch}, batch {self.batches_done}" if self.batches_done
                 else f"the start of epoch {self.epoch}")
        log.info("resumed from %s (step %d): continuing at %s", path, self.step, where)
        self._repair_best()
        return True

    def _repair_best(self) -> None:
        """best.pt damaged (it shares its file with epoch_N.pt and last.pt, hard-linked): link it
        again to its intact epoch checkpoint, else forget the best so that a new one is saved."""
        best = self.exp_dir / "best.pt"
        if not best.is_file() or intact(best) or not self.is_main:
            return
        epoch_ckpt = self.exp_dir / f"epoch_{self.best.get('epoch')}.pt"
        if epoch_ckpt.is_file() and intact(epoch_ckpt):
            link_or_copy(epoch_ckpt, best)
            log.warning("%s was damaged: linked again to %s", best, epoch_ckpt)
        else:
            log.warning("%s is damaged and its epoch's checkpoint is gone: the best of the epochs still to "
                        "train becomes best.pt", best)
            best.unlink()
            self.best = {"metric": self.metric, "value": None, "epoch": None}

    def _save_epoch(self) -> None:
        state = self._state(epoch_end=True)
        if not self.is_main:
            return
        path = save_checkpoint(state, self.exp_dir / f"epoch_{self.epoch}.pt")
        link_or_copy(path, self.exp_dir / "last.pt")
        if self.best["epoch"] == self.epoch:
            link_or_copy(path, self.exp_dir / "best.pt")
        prune_checkpoints(self.exp_dir, int(self.cfg["train"]["keep_checkpoints"]))

    def _write_log(self) -> None:
        if self.is_main:
            write_text_atomic(self.exp_dir / "train_log.jsonl", "".join(json.dumps(r) + "\n" for r in self.history))

    # ------------------------------------------------------------------------------------------
    # steps

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _forward(self, batch: Mapping[str, Any], model: Optional[torch.nn.Module] = None) -> Dict[str, Any]:
        """``model`` (default: the training-step module, DDP-wrapped when distributed) on a batch."""
        model = self.net if model is None else model
        dev = self.device
        feats = batch["feats"].to(dev, non_blocking=True)
        lengths = batch["lengths"].to(dev, non_blocking=True)
        targets = batch["targets"].to(dev, non_blocking=True) if batch["targets"] is not None else None
        tlen = batch["target_lengths"].to(dev, non_blocking=True) if batch["target_lengths"] is not None else None
        with self._autocast():
            if self.task == "asr":
                return model(feats, lengths, targets, tlen)
            labels = batch["labels"].to(dev, non_blocking=True) if batch["labels"] is not None else None
            if getattr(self.model, "ctc_head", None) is None:
                targets = tlen = None
            speakers = batch.get("speakers")
            if speakers is not None and model.training:
                return model(feats, lengths, labels, targets, tlen, speakers.to(dev, non_blocking=True))
            return model(feats, lengths, labels, targets, tlen)

    def _set_margin(self) -> Optional[float]:
        if not self.margin_ramp:
            return None
        r = self.margin_ramp
        start = float(r.get("start_epoch", 0)) * self.steps_per_epoch
        end = float(r.get("end_epoch", 0)) * self.steps_per_epoch
        m = linear_margin(self.step, start, end, float(r.get("initial", 0.0)), self.final_margin)
        self.model.head.set_margin(m)
        return m

    def _train_epoch(self, progress: bool) -> Dict[str, Any]:
        cfg = self.cfg
        clip = float(cfg["optim"]["clip_grad"] or 0)
        save_every = int(cfg["train"]["save_interval_steps"] or 0)
        log_every = int(cfg["train"]["log_interval_steps"] or 0)
        self.net.train()
        self.train_sampler.set_epoch(self.epoch, start=self.batches_done)
        stats = self.epoch_stats
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=self.steps_per_epoch, initial=self.batches_done, desc=f"epoch {self.epoch}",
                       leave=False, file=sys.stderr, dynamic_ncols=True)
        t_last = time.perf_counter()
        it = iter(self.train_loader)
        while True:
            batch = next(it, None)
            t_data = time.perf_counter()
            if batch is None:
                break
            margin = self._set_margin()
            set_training_step(self.model, self.step)  # e.g. the end of an ssl encoder's frozen warm-up
            out = self._forward(batch)
            loss = out["loss"]
            finite = bool(torch.isfinite(loss.detach()))
            # all ranks skip together: the others would wait for this one's gradients in backward()
            if not all_true(finite):
                log.warning("epoch %d batch %d: non-finite loss (%s), step skipped", self.epoch,
                            self.batches_done + 1, loss.item() if not finite else "on another rank")
                self.optimizer.zero_grad(set_to_none=True)
                stats.add(skipped=1)
            else:
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                if clip > 0:
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(self.model.trainable_parameters(), clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
            self.scheduler.step()
            self.step += 1
            self.batches_done += 1
            n = len(batch["utts"])
            upd = {"utts": n, "frames": int(batch["lengths"].sum()), "steps": 1, "loss": float(loss.detach()) * n}
            if out.get("accent_loss") is not None:
                upd["accent_loss"] = float(out["accent_loss"].detach()) * n
            if out.get("ctc_loss") is not None:  # a mean over the utterances with targets
                carriers = ctc_carriers(batch["target_lengths"])
                upd["ctc_loss"] = float(out["ctc_loss"].detach()) * carriers
                upd["ctc_utts"] = carriers
            if batch.get("labels") is not None and out.get("logits") is not None:
                upd["correct"] = int((out["logits"].argmax(-1).cpu() == batch["labels"]).sum())
                upd["labelled"] = n
            now = time.perf_counter()
            upd["time"] = now - t_last
            upd["data_time"] = t_data - t_last
            t_last = now
            stats.add(**upd)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{stats['loss'] / max(stats['utts'], 1):.3f}")
            if log_every and self.is_main and self.step % log_every == 0:
                lr = self.scheduler.get_last_lr()[0]
                log.info("epoch %d step %d (%d/%d): loss %.4f lr %.3g%s", self.epoch, self.step,
                         self.batches_done, self.steps_per_epoch, float(loss.detach()), lr,
                         f" margin {margin:.3f}" if margin is not None else "")
                self.tb.scalars({"train_step/loss": float(loss.detach()), "train_step/lr": lr}, self.step)
            if save_every and self.batches_done % save_every == 0 and self.batches_done < self.steps_per_epoch:
                state = self._state(epoch_end=False)
                if self.is_main:
                    save_checkpoint(state, self.exp_dir / "last.pt")
        if bar is not None:
            bar.close()
        stats = stats.summed()
        u = max(stats["utts"], 1)
        res = {
            "train_loss": stats["loss"] / u,
            "train_frames_per_s": stats["frames"] / max(stats["time"], 1e-9),
            "train_audio_s_per_s": stats["frames"] * self.frame_shift / max(stats["time"], 1e-9),
            "train_time_s": stats["time"],
            "train_data_wait_frac": stats["data_time"] / max(stats["time"], 1e-9),
            "train_utts": int(stats["utts"]),
            "train_skipped_steps": int(stats["skipped"]),
        }
        if stats["accent_loss"]:
            res["train_accent_loss"] = stats["accent_loss"] / u
        if stats["ctc_utts"]:
            res["train_ctc_loss"] = stats["ctc_loss"] / stats["ctc_utts"]
            res["train_ctc_utts"] = int(stats["ctc_utts"])
        if stats["labelled"]:
            res["train_acc"] = stats["correct"] / stats["labelled"]
        return res

    @torch.no_grad()
    def evaluate(self) -> Dict[str, Any]:
        """Dev loss, accuracy (accent; overall and per accent) and PER (when there is a CTC head and targets).

        Distributed: each rank scores its shard of the dev set (the unwrapped model: no collective
        per batch) and the sums are added up over the ranks, so all get the same metrics."""
        self.model.eval()
        t0 = time.perf_counter()
        n = loss = ctc = ctc_n = 0.0
        errors = ref_len = 0
        k = len(self.labels) if self.labels else 0
        correct = np.zeros(k, dtype=np.int64)
        count = np.zeros(k, dtype=np.int64)
        self.dev_sampler.set_epoch(0)
        for batch in self.dev_loader:
            out = self._forward(batch, self.model)
            b = len(batch["utts"])
            n += b
            if out.get("loss") is not None:
                loss += float(out["loss"]) * b
            if out.get("ctc_loss") is not None:
                carriers = ctc_carriers(batch["target_lengths"])
                ctc += float(out["ctc_loss"]) * carriers
                ctc_n += carriers
            if batch.get("labels") is not None and out.get("logits") is not None:
                pred = out["logits"].float().argmax(-1).cpu().numpy()
                lab = batch["labels"].numpy()
                np.add.at(count, lab, 1)
                np.add.at(correct, lab, (pred == lab).astype(np.int64))
            if out.get("ctc_log_probs") is not None and batch["targets"] is not None:
                hyps = greedy_decode(out["ctc_log_probs"].float(), out["ctc_lengths"], blank=0)
                refs = unpad_targets(batch["targets"], batch["target_lengths"])
                has = [i for i, r in enumerate(refs) if r]  # the PER of the transcribed utterances
                e, r = error_counts([hyps[i] for i in has], [refs[i] for i in has])
                errors += e
                ref_len += r
        if self.world_size > 1:
            total = all_reduce_sum([n, loss, ctc, ctc_n, errors, ref_len, *correct, *count])
            n, loss, ctc, ctc_n, errors, ref_len = total[:6].tolist()
            errors, ref_len = int(errors), int(ref_len)
            correct, count = total[6:6 + k].astype(np.int64), total[6 + k:].astype(np.int64)
        res: Dict[str, Any] = {"dev_loss": loss / max(n, 1), "dev_time_s": time.perf_counter() - t0}
        if ctc_n:
            res["dev_ctc_loss"] = ctc / ctc_n
        if ref_len:
            res["dev_per"] = errors / ref_len
        if count.sum():
            res["dev_acc"] = float(correct.sum() / count.sum())
            res["dev_acc_per_accent"] = {lab: (float(c / t) if t else None)
                                         for lab, c, t in zip(self.labels, correct, count)}
        return res

    def _is_better(self, value: float, loss: float) -> bool:
        best = self.best["value"]
        if best is None:
            return True
        if value == best:
            return loss < self.best.get("loss", float("inf"))
        return value > best if self.higher_is_better else value < best

    # ------------------------------------------------------------------------------------------
    # main loop

    def run(self) -> Dict[str, Any]:
        # One writer per experiment directory: a second training of it stops here, naming this
        # one.  The lock goes with this process, however it ends (kill -9 included).
        with DirectoryLock(self.exp_dir) if self.is_main else contextlib.nullcontext():
            return self._run()

    def _run(self) -> Dict[str, Any]:
        self._setup()
        resumed = self._resume()
        if not resumed:
            self._initialise_from_asr()
        self._asr_ckpt = None  # its weights are in the model now: free them
        self._wrap_ddp(reseed=not resumed)
        self._write_static_files()
        epochs = int(self.cfg["train"]["epochs"])
        if self.is_main:
            log.info("%s model: %s parameters (%s trainable) on %s; %d training utterances in %d batches/epoch, "
                     "%d dev utterances", self.task, f"{self.params['total']:,}", f"{self.params['trainable']:,}",
                     self.device, len(self.train_set), self.steps_per_epoch, len(self.dev_set))
            log.info("numerics (bit-identical results need the same): %s", describe(self.numerics))
        if self.world_size > 1 and self.is_main:
            log.info("distributed data-parallel: world size %d (%s backend); the batches/epoch above are per rank",
                     self.world_size, torch.distributed.get_backend())
        self.tb = _Tensorboard(self.exp_dir / "tensorboard", purge_step=self.step if resumed else None,
                               enabled=self.is_main)
        progress = sys.stderr.isatty() and self.is_main
        try:
            while self.epoch <= epochs:
                t0 = time.perf_counter()
                train = self._train_epoch(progress)
                dev = self.evaluate()
                if self.metric not in dev:
                    raise DataDirError(f"{self.dev_data}: gives no {self.metric} (missing labels or transcripts?)")
                value = dev[self.metric]
                better = self._is_better(value, dev["dev_loss"])
                if better:
                    self.best = {"metric": self.metric, "value": value, "epoch": self.epoch, "loss": dev["dev_loss"]}
                record = {"epoch": self.epoch, "step": self.step, "lr": self.scheduler.get_last_lr()[0]}
                if self.margin_ramp:
                    record["margin"] = float(self.model.head.margin)
                record.update(train)
                record.update(dev)
                record["is_best"] = better
                record["epoch_time_s"] = time.perf_counter() - t0
                self.history.append(record)
                if self.is_main:
                    self._log_epoch(record, epochs)
                self.tb.scalars({f"{k.split('_', 1)[0]}/{k.split('_', 1)[1]}": v for k, v in record.items()
                                 if k.startswith(("train_", "dev_"))}, self.epoch)
                self.tb.scalars({"train/lr": record["lr"]}, self.epoch)
                self._save_epoch()
                self._write_log()
                self.epoch += 1
                self.batches_done = 0
                self.epoch_stats = _EpochStats()
        finally:
            self.tb.close()
        return self._finish()

    def _wrap_ddp(self, reseed: bool) -> None:
        """Distributed: wrap the model in DDP (which broadcasts rank 0's weights and buffers) and,
        for a fresh start, give each rank its own random numbers (dropout) from (seed, rank)."""
        if self.world_size == 1:
            return
        from torch.nn.parallel import DistributedDataParallel

        # every trainable parameter takes part in every loss (checked for all recipe configs),
        # so the cheaper find_unused_parameters=False; the frozen reference AM has no gradients
        # and DDP leaves it alone
        ids = [self.device.index] if self.device.type == "cuda" else None
        self.net = DistributedDataParallel(self.model, device_ids=ids, find_unused_parameters=False)
        if reseed:
            seed_everything(rank_seed(int(self.cfg["seed"]), self.rank))

    def _log_epoch(self, r: Mapping[str, Any], epochs: int) -> None:
        parts = [f"epoch {r['epoch']}/{epochs}", f"train loss {r['train_loss']:.4f}"]
        if "train_acc" in r:
            parts.append(f"acc {100 * r['train_acc']:.2f}%")
        parts.append(f"| dev loss {r['dev_loss']:.4f}")
        if "dev_acc" in r:
            parts.append(f"acc {100 * r['dev_acc']:.2f}%")
        if "dev_per" in r:
            parts.append(f"PER {100 * r['dev_per']:.2f}%")
        parts.append(f"| lr {r['lr']:.3g}")
        if "margin" in r:
            parts.append(f"margin {r['margin']:.3f}")
        parts.append(f"| {r['train_frames_per_s']:.0f} frames/s, {r['train_audio_s_per_s']:.1f} audio-s/s, "
                     f"data wait {100 * r['train_data_wait_frac']:.1f}%")
        parts.append(f"| {r['train_time_s']:.1f}s train + {r['dev_time_s']:.1f}s dev")
        if r["is_best"]:
            parts.append("(best)")
        log.info(" ".join(parts))

    def _finish(self) -> Dict[str, Any]:
        avg_n = int(self.cfg["train"]["average_last"] or 0)
        if avg_n > 0 and self.is_main:
            ckpts = [p for _, p in epoch_checkpoints(self.exp_dir)][-avg_n:]
            if len(ckpts) < avg_n:
                log.warning("train.average_last=%d but only %d epoch checkpoints are kept", avg_n, len(ckpts))
            save_checkpoint(average_checkpoints(ckpts), self.exp_dir / f"avg_{avg_n}.pt")
        train_time = sum(r["train_time_s"] + r["dev_time_s"] for r in self.history)
        results = {
            "task": self.task,
            "method": self.cfg.get("method"),
            "metric": self.metric,
            "best_value": self.best["value"],
            "best_epoch": self.best["epoch"],
            "epochs": len(self.history),
            "train_time_s": train_time,
            "params": self.params,
            "best_checkpoint": str(self.exp_dir / "best.pt"),
            "world_size": self.world_size,
            "numerics": self.numerics,
            **self.code,
        }
        if self.ctc_utts is not None:
            results["ctc_utts"] = self.ctc_utts  # utterances that carried CTC targets (train, dev)
        if self.history:
            last = self.history[-1]
            results["last"] = {k: last[k] for k in ("dev_acc", "dev_per", "dev_loss") if k in last}
            results["train_audio_s_per_s"] = float(np.mean([r["train_audio_s_per_s"] for r in self.history]))
        if not self.is_main:
            return results
        write_text_atomic(self.exp_dir / "results.json", json.dumps(results, indent=2) + "\n")
        (self.exp_dir / ".done").touch()
        name = "dev accuracy" if self.task == "accent" else "dev PER"
        value = self.best["value"]
        log.info("best %s %s at epoch %s (%s); %d epochs in %.1f s", name,
                 f"{100 * value:.2f}%" if value is not None else "n/a", self.best["epoch"],
                 self.exp_dir / "best.pt", len(self.history), train_time)
        return results
