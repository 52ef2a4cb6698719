"""The training and dev data of an experiment: datasets, batch samplers and loaders from the config.

``data.features: precomputed`` trains on stage 2's ``feats.scp`` in length buckets; ``online`` on
random crops of the audio, augmented and featurised on the fly (:mod:`accent.dataset.crops`).  The
dev set is always scored on whole utterances of ``feats.scp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch

from accent.data.kaldi_dir import DataDirError, read_mapping
from accent.dataset import BucketBatchSampler, FeatsDataset, SpecAugment, Tokenizer, collate, make_loader
from accent.dataset.crops import CropBatchSampler, CropDataset, crop_config, first_item
from accent.dataset.waveform import WaveformDataset
from accent.features.fbank import FbankConfig

from .config import ConfigError


@dataclass
class TrainingData:
    train_set: Any
    dev_set: FeatsDataset
    train_sampler: Any
    dev_sampler: BucketBatchSampler
    train_loader: Any
    dev_loader: Any

    @property
    def steps_per_epoch(self) -> int:
        return self.train_sampler.num_batches(1)


def build_datasets(cfg: Mapping[str, Any], train_data: Path, dev_data: Path, labels: Optional[Sequence[str]],
                   tokenizer: Optional[Tokenizer], frontend: Optional[Mapping[str, Any]]):
    """``(train_set, dev_set)``: crops of the audio or ``feats.scp`` for training; ``feats.scp`` for
    dev, or ``wav.scp`` for a model on samples (``data.features: waveform``)."""
    data_cfg, task, seed = cfg["data"], cfg["task"], int(cfg["seed"])
    label_source = str(train_data / "accents")
    waveform = data_cfg["features"] == "waveform"  # samples in: no FBank, no SpecAugment
    specaug = None if waveform else SpecAugment.from_config(data_cfg["specaug"])
    check_adversary(cfg)
    if data_cfg["features"] in ("online", "waveform"):
        check_online(cfg, tokenizer, frontend, train_data)
        train_set = CropDataset(train_data, FbankConfig.from_dict(frontend), labels, augment=data_cfg["augment"],
                                specaug=specaug, seed=seed, label_source=label_source,
                                speakers=adversary_speakers(cfg, train_data), waveform=waveform)
    else:
        train_set = FeatsDataset(train_data, labels, tokenizer, require_labels=True, require_targets=True,
                                 specaug=specaug, seed=seed, label_source=label_source)
    if waveform:
        dev_set = WaveformDataset(dev_data, train_set.sample_rate, labels, label_source=label_source,
                                  frame_shift_ms=data_cfg["frame_shift_ms"])
    else:
        dev_set = FeatsDataset(dev_data, labels, tokenizer, require_labels=task == "accent",
                               require_targets=task == "asr", label_source=label_source)
    return train_set, dev_set


def build_training_data(cfg: Mapping[str, Any], train_data: Path, dev_data: Path, train_set, dev_set: FeatsDataset,
                        device: torch.device, rank: int = 0, world_size: int = 1) -> TrainingData:
    """The samplers and loaders of the two sets (each rank its share of the batches)."""
    data_cfg, task, seed = cfg["data"], cfg["task"], int(cfg["seed"])
    online = data_cfg["features"] in ("online", "waveform")
    min_batch = 2 if task == "accent" else 1  # accent: the embedding's batch norm needs 2
    for d, ds, need in ((train_data, train_set, min_batch), (dev_data, dev_set, 1)):
        if len(ds) < need * world_size:
            raise DataDirError(f"{d}: {len(ds)} utterances are too few to give each of the {world_size} "
                               f"processes a batch of {need}")
    if online:
        train_sampler = CropBatchSampler(train_set.durations, train_set.sample_rate, **crop_config(data_cfg["crop"]),
                                         seed=seed, rank=rank, world_size=world_size)
    else:
        train_sampler = BucketBatchSampler(train_set.lengths, int(data_cfg["max_frames"]), data_cfg["max_batch_size"],
                                           shuffle=True, seed=seed, rank=rank, world_size=world_size,
                                           min_batch_size=min_batch)
    # a budget of 10-ms frames; in samples for a waveform dev set
    dev_frames = int(data_cfg["dev_max_frames"] or 2 * int(data_cfg["max_frames"])) * samples_per_frame(dev_set)
    dev_sampler = BucketBatchSampler(dev_set.lengths, dev_frames, data_cfg["max_batch_size"], shuffle=False,
                                     rank=rank, world_size=world_size)
    pin = device.type == "cuda"
    nw, pf = int(data_cfg["num_workers"] or 0), data_cfg["prefetch_factor"]
    return TrainingData(
        train_set, dev_set, train_sampler, dev_sampler,
        make_loader(train_set, train_sampler, nw, pin, pf, seed=seed, collate_fn=first_item if online else collate),
        make_loader(dev_set, dev_sampler, nw, pin, pf, seed=seed))


def count_ctc_targets(train_set, dev_set: FeatsDataset, tokenizer: Tokenizer, train_data: Path,
                      what: str) -> Dict[str, int]:
    """Utterances with CTC targets (untranscribed ones have none); an error when no training
    utterance has one, as the CTC branch would then learn nothing."""
    counts = {"train": sum(1 for t in train_set.targets if t), "train_total": len(train_set)}
    if dev_set.targets is not None:
        counts.update(dev=sum(1 for t in dev_set.targets if t), dev_total=len(dev_set))
    if counts["train"] == 0:
        raise DataDirError(
            f"{train_data / tokenizer.text_file}: none of the {len(train_set)} utterances has a "
            f"transcript (all empty or <UNK>), but {what} needs CTC targets; give transcribed data, or "
            "train without CTC (method scratch/asr_init, model.ctc_weight: 0)")
    return counts


def adversary_speakers(cfg: Mapping[str, Any], train_data: Path) -> Optional[List[str]]:
    """The training speakers of a speaker adversary (``model.speaker_adversary``); their number
    goes into the config, so the checkpoint rebuilds the same model."""
    adv = cfg["model"].get("speaker_adversary")
    if not adv:
        return None
    speakers = sorted(set(read_mapping(train_data / "utt2spk").values()))
    adv["num_speakers"] = len(speakers)
    return speakers


def samples_per_frame(dataset) -> int:
    """Length units per 10-ms frame of a dataset: 1, or the samples of one for waveforms."""
    return getattr(dataset, "samples_per_frame", 1)


def check_online(cfg: Mapping[str, Any], tokenizer: Optional[Tokenizer], frontend: Optional[Mapping[str, Any]],
                 train_data: Path) -> None:
    """On-the-fly features must be the ones stage 2 made for dev and test: the same FBank
    options (``conf/fbank.yaml``), and no CTC (a crop has no transcript)."""
    kind = cfg["data"]["features"]
    if cfg["task"] != "accent":
        raise ConfigError(f"data.features: {kind} trains accent models only (ASR needs whole transcribed utterances)")
    if tokenizer is not None:
        raise ConfigError(f"data.features: {kind} crops the audio, so it cannot train a CTC branch: "
                          "set model.ctc_weight: 0 (method scratch or asr_init)")
    if not frontend:
        raise ConfigError(f"data.features: {kind} needs {train_data}/conf/fbank.yaml, the FBank options "
                          "of the dev features (stage 2 writes it)")


def check_adversary(cfg: Mapping[str, Any]) -> None:
    if cfg["model"].get("speaker_adversary") and cfg["data"]["features"] == "precomputed":
        raise ConfigError("model.speaker_adversary is trained on crops (data.features: online)")
