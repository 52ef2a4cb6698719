"""Random crops of the training audio, augmented and featurised on the fly (``data.features: online``).

Small real corpora need many views of each utterance: every epoch draws crops of ``min_s`` to
``max_s`` seconds (one length per batch, so a batch has no padding) from the audio of
``wav.scp``, in number proportional to each utterance's duration (``passes`` x its duration /
the mean crop length, at least one).  A batch is built in the DataLoader worker:

    read the crops (+ speed perturbation) -> reverb / babble / coloured noise / band limit
    (:mod:`.augment`) -> FBank (the toolkit's one front end, :class:`accent.features.fbank.Fbank`)
    -> SpecAugment masks (the model normalises, then fills them)

With ``data.features: waveform`` (``waveform=True``) the batch stops after the augmentation: its
``feats`` are the samples, (B, S, 1) float32 in [-1, 1], for a waveform-in encoder (``ssl``).

Every draw is a function of (seed, epoch, batch, item): the batches are the same on every rank,
with any number of workers, and after a resumption (``set_epoch(epoch, start=k)``).  Dev and
test sets are scored on whole utterances from ``feats.scp``, made by the same front end in stage 2.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import soundfile as sf
import torch

from accent.data.audio import AudioError, read_wav_scp_entry
from accent.data.kaldi_dir import read_durations, read_mapping
from accent.features.fbank import Fbank, FbankConfig

from .augment import WaveAugment, speed_perturb
from .dataset import pad_masks
from .specaug import SpecAugment
from .waveform import label_ids, read_wav_list

log = logging.getLogger(__name__)

CROP_DEFAULTS = {"min_s": 2.0, "max_s": 4.0, "passes": 1.0, "batch_size": 32}

# (epoch, batch number, crop length in samples, utterance indices)
CropBatch = Tuple[int, int, int, List[int]]


def crop_config(cfg: Optional[Mapping[str, Any]]) -> Dict[str, float]:
    cfg = {**CROP_DEFAULTS, **(cfg or {})}
    unknown = set(cfg) - set(CROP_DEFAULTS)
    if unknown:
        raise ValueError(f"data.crop: unknown keys {sorted(unknown)}; known: {sorted(CROP_DEFAULTS)}")
    if not 0 < float(cfg["min_s"]) <= float(cfg["max_s"]):
        raise ValueError(f"data.crop: need 0 < min_s <= max_s, got {cfg['min_s']} and {cfg['max_s']}")
    if float(cfg["passes"]) <= 0 or int(cfg["batch_size"]) < 2:
        raise ValueError("data.crop: passes must be > 0 and batch_size >= 2")
    return cfg


class CropBatchSampler:
    """Batches of crops: yields ``(epoch, batch, crop_samples, [utterance indices])``.

    Same interface as :class:`.sampler.BucketBatchSampler` (``set_epoch(epoch, start)``,
    ``num_batches()``, ``len()``); each rank takes ``batches[rank::world_size]`` of an epoch whose
    batch count is cut to a multiple of ``world_size``.
    """

    def __init__(self, durations: Sequence[float], sample_rate: int, min_s: float = 2.0, max_s: float = 4.0,
                 passes: float = 1.0, batch_size: int = 32, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.durations = np.asarray(durations, dtype=np.float64)
        self.sample_rate = int(sample_rate)
        self.min_s, self.max_s, self.passes = float(min_s), float(max_s), float(passes)
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        mean_crop = 0.5 * (self.min_s + self.max_s)
        self.crops_per_utt = np.maximum(1, np.round(self.passes * self.durations / mean_crop)).astype(np.int64)
        if self.crops_per_utt.sum() < self.batch_size * self.world_size:
            raise ValueError(f"{int(self.crops_per_utt.sum())} crops per epoch are too few for {self.world_size} "
                             f"rank(s) with batch_size {self.batch_size}")
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = int(epoch), int(start)

    def all_batches(self, epoch: Optional[int] = None) -> List[CropBatch]:
        epoch = self.epoch if epoch is None else int(epoch)
        rng = np.random.default_rng([self.seed, epoch])
        items = rng.permutation(np.repeat(np.arange(len(self.durations)), self.crops_per_utt))
        n = len(items) // self.batch_size
        n -= n % self.world_size
        lo, hi = int(self.min_s * self.sample_rate), int(self.max_s * self.sample_rate)
        sizes = rng.integers(lo, hi + 1, size=n)
        return [(epoch, b, int(sizes[b]), items[b * self.batch_size:(b + 1) * self.batch_size].tolist())
                for b in range(n)]

    def rank_batches(self, epoch: Optional[int] = None) -> List[CropBatch]:
        return self.all_batches(epoch)[self.rank::self.world_size]

    def __iter__(self) -> Iterator[List[CropBatch]]:
        for batch in self.rank_batches()[self.start:]:
            yield [batch]  # one "item" per batch: the dataset builds the whole batch

    def __len__(self) -> int:
        return max(0, len(self.rank_batches()) - self.start)

    def num_batches(self, epoch: Optional[int] = None) -> int:
        return len(self.rank_batches(epoch))


class CropDataset(torch.utils.data.Dataset):
    """``dataset[(epoch, batch, crop_samples, indices)]`` -> a training batch dict (as ``collate``
    gives): utts, feats (B, T, D), lengths, labels, speakers (indices into ``speakers``, the
    training speakers, when given); no CTC targets (a crop has no transcript)."""

    def __init__(
        self,
        data_dir: Union[str, os.PathLike],
        fbank: FbankConfig,
        labels: Sequence[str],
        augment: Optional[Mapping[str, Any]] = None,
        specaug: Optional[SpecAugment] = None,
        seed: int = 0,
        label_source: str = "",
        speakers: Optional[Sequence[str]] = None,
        waveform: bool = False,
    ):
        self.data_dir = Path(data_dir)
        self.waveform = bool(waveform)
        self.utts, self._wavs = read_wav_list(self.data_dir, f"on-the-fly features (data.features: "
                                                             f"{'waveform' if waveform else 'online'})")
        self.durations = read_durations(self.data_dir, self.utts)
        self.label_ids = label_ids(self.data_dir, self.utts, labels, label_source)
        self.speaker_ids: Optional[List[int]] = None
        if speakers is not None:  # indices into the training speakers, for a speaker adversary
            utt2spk = read_mapping(self.data_dir / "utt2spk")
            index = {s: i for i, s in enumerate(speakers)}
            self.speaker_ids = [index[utt2spk[u]] for u in self.utts]
        self.fbank_config = fbank
        self.sample_rate = int(fbank.sample_rate)
        self.augment = WaveAugment(augment, self.sample_rate)
        self.specaug = specaug
        self.seed = int(seed)
        self._fbank: Optional[Fbank] = None

    def __len__(self) -> int:
        return len(self.utts)

    def _read(self, index: int, num_samples: int, rng: np.random.Generator) -> np.ndarray:
        """A random stretch of ``num_samples`` (looped when the utterance is shorter)."""
        entry = self._wavs[index]
        path = entry.strip()
        try:
            if not path.endswith("|"):  # a plain file: read only the crop
                with sf.SoundFile(path) as f:
                    if f.samplerate != self.sample_rate or f.channels != 1:
                        raise AudioError(f"{path}: {f.samplerate} Hz, {f.channels} channel(s); the front end "
                                         f"expects {self.sample_rate} Hz mono")
                    total = f.frames
                    if total > num_samples:
                        f.seek(int(rng.integers(0, total - num_samples + 1)))
                        x = f.read(num_samples, dtype="float32")
                    else:
                        x = f.read(dtype="float32")
            else:
                x, rate = read_wav_scp_entry(entry)
                if rate != self.sample_rate:
                    raise AudioError(f"{path}: {rate} Hz; the front end expects {self.sample_rate} Hz")
                if len(x) > num_samples:
                    o = int(rng.integers(0, len(x) - num_samples + 1))
                    x = x[o:o + num_samples]
        except (sf.LibsndfileError, RuntimeError) as e:
            raise AudioError(f"{path}: cannot decode audio ({e})") from None
        if len(x) == 0:
            raise AudioError(f"{path}: audio has no samples")
        if len(x) < num_samples:
            x = np.resize(x, num_samples)  # loop a short utterance
        return np.asarray(x, dtype=np.float32)

    def crop(self, index: int, num_samples: int, rng: np.random.Generator) -> np.ndarray:
        """A clean crop of ``num_samples``, speed-perturbed when the augmentation says so."""
        factor = self.augment.speed_factor(rng)
        if factor == 1.0:
            return self._read(index, num_samples, rng)
        x = speed_perturb(self._read(index, int(math.ceil(num_samples * factor)) + 16, rng), factor)
        return np.resize(x, num_samples) if len(x) < num_samples else x[:num_samples]

    def __getitem__(self, key: CropBatch) -> Dict[str, Any]:
        epoch, batch, num_samples, indices = key
        rngs = [np.random.default_rng([self.seed, epoch, batch, i]) for i in range(len(indices))]
        waves = np.stack([self.crop(idx, num_samples, r) for idx, r in zip(indices, rngs)])
        if self.augment:
            waves = self.augment.batch(waves, rngs)
        if self.waveform:
            return self._batch(indices, torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)).unsqueeze(-1),
                               torch.full((len(indices),), num_samples, dtype=torch.long))
        if self._fbank is None:
            self._fbank = Fbank(self.fbank_config)
        with torch.no_grad():
            feats, lengths = self._fbank(torch.from_numpy(waves))
        mask = None
        if self.specaug is not None:
            mask = pad_masks([self.specaug.mask(feats.shape[1], feats.shape[2], r) for r in rngs])
        return self._batch(indices, feats, lengths.long(), mask)

    def _batch(self, indices: Sequence[int], feats: torch.Tensor, lengths: torch.Tensor,
               specaug_mask: Optional[torch.Tensor] = None) -> Dict[str, Any]:
        return {
            "utts": [self.utts[i] for i in indices],
            "feats": feats,
            "specaug_mask": specaug_mask,
            "lengths": lengths,
            "labels": torch.tensor([self.label_ids[i] for i in indices], dtype=torch.long),
            "speakers": (None if self.speaker_ids is None
                         else torch.tensor([self.speaker_ids[i] for i in indices], dtype=torch.long)),
            "targets": None,
            "target_lengths": None,
        }


def first_item(items: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """The DataLoader collate of :class:`CropBatchSampler` batches: each holds one built batch."""
    return items[0]
