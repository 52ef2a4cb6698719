"""One trainer for phone-CTC ASR pretraining (``task: asr``) and accent recognition (``task: accent``).

* ``task: asr``: ``AsrModel`` (normaliser + encoder + CTC head) on a transcribed set; dev phone
  error rate with greedy decoding; best = lowest dev PER.
* ``task: accent``: ``AccentModel``; dev accuracy; best = highest dev accuracy (ties: lower dev
  loss).  ``method``: ``scratch`` (random init), ``asr_init`` (encoder from the ASR checkpoint),
  ``mtl`` (asr_init + CTC with weight λ = ``model.ctc_weight``), ``hybrid`` (mtl + a frozen
  reference encoder loaded from the same checkpoint, fused with the trainable one).

Both train through the model's one interface, ``model(batch) -> (loss, stats)``.  The parts live in
their own modules: the data (:mod:`.data`), what comes from the acoustic model (:mod:`.asr_init`),
the epoch loop and dev evaluation (:mod:`.loop`), optimisers and schedules by name
(:mod:`.optim`), checkpoints and resumption (:mod:`.checkpoint`), and reporting (:mod:`.report`).

Training: gradient clipping, mixed precision on CUDA (``train.amp``: bf16, or fp16 with a
GradScaler), a margin ramp for margin heads, per-epoch checkpoints, exact resumption (model,
optimizer, scheduler, scaler, sampler position, RNG states; at epoch ends and, with
``train.save_interval_steps``, mid-epoch).  Outputs in ``exp_dir``: ``config.yaml`` (resolved),
``fbank.yaml``, ``accents``/``units.txt``, ``epoch_N.pt``, ``best.pt``, ``last.pt``,
``train_log.jsonl``, ``results.json``, ``tensorboard/`` and, at the end, ``.done``.

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
import logging
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import torch

from accent.data.kaldi_dir import DataDirError
from accent.dataset import Tokenizer, read_label_list
from accent.jobs.lock import DirectoryLock
from accent.models.build import build_model, count_parameters
from accent.models.encoders.pretrained import complete_encoder_options, leaves_parameters_unused, parameter_groups
from accent.utils.device import resolve_device  # noqa: F401  (re-exported)
from accent.utils.provenance import code_version, describe, numeric_environment

from . import asr_init
from .checkpoint import (
    FORMAT, PathLike, average_checkpoints, epoch_checkpoints, latest_checkpoint, load_checkpoint, repair_best, restore,
    rng_state, save_checkpoint, save_epoch,
)
from .config import ConfigError, needs_asr_checkpoint, plain, starts_from_asr
from .data import build_datasets, build_training_data, count_ctc_targets, samples_per_frame
from .distributed import gather_objects, rank_seed, seed_everything
from .loop import EpochStats, Optimisation, Progress, train_one_epoch, validate
from .optim import build_optimizer, build_scheduler, mixed_precision
from .report import TensorBoard, epoch_line, results_summary, write_results, write_static_files, write_train_log

log = logging.getLogger(__name__)


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
        cfg, train_cfg = self.cfg, self.cfg["train"]
        seed_everything(int(cfg["seed"]))
        if self.is_main:
            self.exp_dir.mkdir(parents=True, exist_ok=True)
        self.labels = read_label_list(self.train_data) if self.task == "accent" else None
        ctc = self.task == "asr" or float(cfg["model"].get("ctc_weight", 0)) > 0
        self.tokenizer = Tokenizer(self.lang_dir) if ctc else None
        self.units = self.tokenizer.units if self.tokenizer else None
        # a resumed run takes its weights and CMVN statistics from its own checkpoint; a fresh one
        # reads the ASR checkpoint (possibly large) once: its CMVN statistics now, its weights later
        self.resume_from = latest_checkpoint(self.exp_dir)
        fresh = self.resume_from is None
        self.asr_ckpt = load_checkpoint(self.asr_checkpoint) if fresh and starts_from_asr(cfg) else None
        cmvn = asr_init.cmvn_stats(cfg["data"]["cmvn"], self.cmvn_path, self.asr_ckpt, self.asr_checkpoint) if fresh \
            else None
        self.frontend = asr_init.data_frontend(self.train_data, self.dev_data)

        train_set, dev_set = build_datasets(cfg, self.train_data, self.dev_data, self.labels, self.tokenizer,
                                            self.frontend)
        self.input_dim = dev_set.feat_dim
        self.ctc_utts = None
        if self.tokenizer:
            what = "ASR training" if self.task == "asr" else f"method {cfg.get('method')} (CTC weight > 0)"
            self.ctc_utts = count_ctc_targets(train_set, dev_set, self.tokenizer, self.train_data, what)
            if self.is_main:
                c = self.ctc_utts
                log.info("CTC targets (%s): %d of %d training utterances%s", self.tokenizer.kind, c["train"],
                         c["train_total"], f", {c['dev']} of {c['dev_total']} dev utterances" if "dev" in c else "")
        self.data = build_training_data(cfg, self.train_data, self.dev_data, train_set, dev_set, self.device,
                                        self.rank, self.world_size)
        self.steps_per_epoch = self.data.steps_per_epoch
        # seconds per length unit of the training batches (frames, or samples for waveforms)
        self.frame_shift = float(cfg["data"]["frame_shift_ms"]) / 1000.0 / samples_per_frame(dev_set)

        # encoders from outside files (ssl) first write their architecture into the config
        cfg["model"] = complete_encoder_options(cfg["model"])
        model = build_model(cfg, self.input_dim, self.labels, self.units)
        if cmvn is not None:
            model.normalize.set_stats(*cmvn)
        self.params = count_parameters(model)
        model.to(self.device)
        optimizer = build_optimizer(parameter_groups(model, model.trainable_parameters(), float(cfg["optim"]["lr"])),
                                    cfg["optim"])
        scheduler = build_scheduler(optimizer, cfg["optim"], int(train_cfg["epochs"]) * self.steps_per_epoch,
                                    self.steps_per_epoch)
        amp_dtype = mixed_precision(train_cfg["amp"] or "none", self.device)
        head = getattr(model, "head", None)
        ramp = train_cfg["margin_ramp"]
        if ramp and (head is None or type(head).__name__ == "SoftmaxHead"):
            log.info("train.margin_ramp ignored: the head has no margin")
            ramp = None
        self.opt = Optimisation(
            model=model, net=model, optimizer=optimizer, scheduler=scheduler,
            scaler=torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16), device=self.device,
            amp_dtype=amp_dtype, clip_grad=float(cfg["optim"]["clip_grad"] or 0), margin_ramp=ramp,
            final_margin=float(getattr(head, "margin", 0.0)) if head is not None else 0.0)
        self.progress = Progress()
        self.history: List[Dict[str, Any]] = []
        self.best: Dict[str, Any] = {"metric": self.metric, "value": None, "epoch": None}

    @property
    def model(self) -> torch.nn.Module:
        return self.opt.model

    # ------------------------------------------------------------------------------------------
    # checkpoints

    def _state(self, epoch_end: bool) -> Dict[str, Any]:
        """The checkpoint.  Every rank must call it (it gathers the ranks' RNG states)."""
        rngs = gather_objects(rng_state())
        opt, progress = self.opt, self.progress
        return {
            "format": FORMAT, "config": self.cfg, "task": self.task, "labels": self.labels, "units": self.units,
            "frontend": self.frontend, "input_dim": self.input_dim,
            "model": opt.model.state_dict(),
            "optimizer": opt.optimizer.state_dict(),
            "scheduler": opt.scheduler.state_dict(),
            "scaler": opt.scaler.state_dict() if opt.scaler.is_enabled() else None,
            "epoch": progress.epoch,
            "batches_done": 0 if epoch_end else progress.batches_done,
            "step": progress.step,
            "epoch_stats": None if epoch_end else progress.stats.summed().state(),
            "history": self.history, "best": self.best, "params": self.params,
            "rng": rngs[0], "rng_ranks": rngs if self.world_size > 1 else None, "world_size": self.world_size,
            "numerics": self.numerics, **self.code,
        }

    def _resume(self) -> bool:
        path = self.resume_from
        if path is None:
            if self.resume:
                log.info("--resume: no checkpoint in %s, starting from scratch", self.exp_dir)
            return False
        if not self.resume:
            raise ConfigError(f"{self.exp_dir} already holds checkpoints ({path.name}): "
                              "pass --resume to continue, or remove the directory")
        self.progress, self.history, self.best = restore(path, self.cfg, self.labels, self.units, self.opt,
                                                         self.rank, self.world_size)
        if self.is_main:
            self.best = repair_best(self.exp_dir, self.best)
        return True

    def _save_mid_epoch(self) -> None:
        state = self._state(epoch_end=False)
        if self.is_main:
            save_checkpoint(state, self.exp_dir / "last.pt")

    # ------------------------------------------------------------------------------------------
    # main loop

    def evaluate(self) -> Dict[str, Any]:
        return validate(self.opt, self.data.dev_loader, self.data.dev_sampler, self.labels, self.world_size)

    def _is_better(self, value: float, loss: float) -> bool:
        best = self.best["value"]
        if best is None:
            return True
        if value == best:
            return loss < self.best.get("loss", float("inf"))
        return value > best if self.higher_is_better else value < best

    def run(self) -> Dict[str, Any]:
        # One writer per experiment directory: a second training of it stops here, naming this
        # one.  The lock goes with this process, however it ends (kill -9 included).
        with DirectoryLock(self.exp_dir) if self.is_main else contextlib.nullcontext():
            return self._run()

    def _run(self) -> Dict[str, Any]:
        self._setup()
        resumed = self._resume()
        if not resumed and self.asr_ckpt is not None:
            asr_init.initialise_from_asr(self.model, self.cfg, Path(self.asr_checkpoint), self.asr_ckpt, self.units,
                                         self.lang_dir, self.frontend)
        self.asr_ckpt = None  # its weights are in the model now: free them
        self._wrap_ddp(reseed=not resumed)
        if self.is_main:
            write_static_files(self.exp_dir, self.cfg, self.frontend, self.labels, self.units)
        epochs = int(self.cfg["train"]["epochs"])
        if self.is_main:
            log.info("%s model: %s parameters (%s trainable) on %s; %d training utterances in %d batches/epoch, "
                     "%d dev utterances", self.task, f"{self.params['total']:,}", f"{self.params['trainable']:,}",
                     self.device, len(self.data.train_set), self.steps_per_epoch, len(self.data.dev_set))
            log.info("numerics (bit-identical results need the same): %s", describe(self.numerics))
        if self.world_size > 1 and self.is_main:
            log.info("distributed data-parallel: world size %d (%s backend); the batches/epoch above are per rank",
                     self.world_size, torch.distributed.get_backend())
        tb = TensorBoard(self.exp_dir / "tensorboard", purge_step=self.progress.step if resumed else None,
                         enabled=self.is_main)
        train_cfg = self.cfg["train"]
        try:
            while self.progress.epoch <= epochs:
                t0 = time.perf_counter()
                train = train_one_epoch(
                    self.opt, self.progress, self.data.train_loader, self.data.train_sampler, self.steps_per_epoch,
                    self.frame_shift, int(train_cfg["log_interval_steps"] or 0),
                    int(train_cfg["save_interval_steps"] or 0), self._save_mid_epoch, tb,
                    show_bar=sys.stderr.isatty() and self.is_main, is_main=self.is_main)
                self._end_epoch(train, self.evaluate(), time.perf_counter() - t0, epochs, tb)
        finally:
            tb.close()
        return self._finish()

    def _end_epoch(self, train: Mapping[str, Any], dev: Mapping[str, Any], seconds: float, epochs: int,
                   tb: TensorBoard) -> None:
        if self.metric not in dev:
            raise DataDirError(f"{self.dev_data}: gives no {self.metric} (missing labels or transcripts?)")
        p = self.progress
        better = self._is_better(dev[self.metric], dev["dev_loss"])
        if better:
            self.best = {"metric": self.metric, "value": dev[self.metric], "epoch": p.epoch, "loss": dev["dev_loss"]}
        record = {"epoch": p.epoch, "step": p.step, "lr": self.opt.scheduler.get_last_lr()[0]}
        if self.opt.margin_ramp:
            record["margin"] = float(self.model.head.margin)
        record.update(train)
        record.update(dev)
        record["is_best"] = better
        record["epoch_time_s"] = seconds
        self.history.append(record)
        if self.is_main:
            log.info(epoch_line(record, epochs))
        tb.epoch(record)
        state = self._state(epoch_end=True)
        if self.is_main:
            save_epoch(state, self.exp_dir, p.epoch, self.best["epoch"] == p.epoch,
                       int(self.cfg["train"]["keep_checkpoints"]))
            write_train_log(self.exp_dir, self.history)
        p.epoch, p.batches_done, p.stats = p.epoch + 1, 0, EpochStats()

    def _wrap_ddp(self, reseed: bool) -> None:
        """Distributed: wrap the model in DDP (which broadcasts rank 0's weights and buffers) and,
        for a fresh start, give each rank its own random numbers (dropout) from (seed, rank)."""
        if self.world_size == 1:
            return
        from torch.nn.parallel import DistributedDataParallel

        # every trainable parameter takes part in every loss (checked for all recipe configs),
        # so the cheaper find_unused_parameters=False; the frozen reference AM has no gradients
        # and DDP leaves it alone; a frozen warm-up (the ssl encoder's) leaves some unused
        ids = [self.device.index] if self.device.type == "cuda" else None
        self.opt.net = DistributedDataParallel(self.model, device_ids=ids,
                                               find_unused_parameters=leaves_parameters_unused(self.model))
        if reseed:
            seed_everything(rank_seed(int(self.cfg["seed"]), self.rank))

    def _finish(self) -> Dict[str, Any]:
        avg_n = int(self.cfg["train"]["average_last"] or 0)
        if avg_n > 0 and self.is_main:
            ckpts = [p for _, p in epoch_checkpoints(self.exp_dir)][-avg_n:]
            if len(ckpts) < avg_n:
                log.warning("train.average_last=%d but only %d epoch checkpoints are kept", avg_n, len(ckpts))
            save_checkpoint(average_checkpoints(ckpts), self.exp_dir / f"avg_{avg_n}.pt")
        results = results_summary(
            self.history, self.best, task=self.task, method=self.cfg.get("method"), params=self.params,
            best_checkpoint=str(self.exp_dir / "best.pt"), world_size=self.world_size, numerics=self.numerics,
            **self.code)
        if self.ctc_utts is not None:
            results["ctc_utts"] = self.ctc_utts  # utterances that carried CTC targets (train, dev)
        if not self.is_main:
            return results
        write_results(self.exp_dir, results)
        name = "dev accuracy" if self.task == "accent" else "dev PER"
        value = self.best["value"]
        log.info("best %s %s at epoch %s (%s); %d epochs in %.1f s", name,
                 f"{100 * value:.2f}%" if value is not None else "n/a", self.best["epoch"],
                 self.exp_dir / "best.pt", len(self.history), results["train_time_s"])
        return results
