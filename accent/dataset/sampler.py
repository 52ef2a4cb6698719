"""Length-bucketed dynamic batches: a batch sampler by total (padded) frames, rank-aware.

Every epoch the utterances are sorted by length (ties broken by a seeded shuffle), cut into
batches whose *padded* size ``len(batch) * max(length)`` stays within ``max_frames`` (and at most
``max_batch_size`` utterances), and the batch order is shuffled with ``seed + epoch``.  Sorting
keeps the padding small (a few per cent on speech-like length distributions); shuffling the
batches keeps the gradient steps in random length order.  The batches are a deterministic
function of (lengths, max_frames, seed, epoch): the same on every rank and after a restart.

Sharding for distributed training: every rank builds the same batch list and takes
``batches[rank::world_size]``.  When the number of batches is not a multiple of ``world_size``,
the largest batches are split in two until it is, so that every rank runs the same number of
steps (DDP needs that) while the ranks' utterances stay disjoint and together cover the epoch.
A batch is only split into halves of at least ``min_batch_size``; when none can be, the
smallest batches are merged with a neighbour instead (or, with fewer batches than ranks, all
utterances are dealt into ``world_size`` batches): a batch may then exceed ``max_frames``,
which happens on tiny data sets only.

Resumption: ``set_epoch(epoch, start=k)`` makes the next iteration skip this rank's first ``k``
batches of that epoch (mid-epoch resume); ``start=0`` is the epoch boundary.

``min_batch_size`` (default 1) is a floor that wins over ``max_frames``: with 2, an utterance
longer than ``max_frames / 2`` still shares its batch (training with batch norm needs two), and
a last batch that would be too small joins the one before.  An utterance longer than
``max_frames`` gets a batch of its own when ``min_batch_size`` is 1 (a warning says how many).
"""

from __future__ import annotations

import logging
import math
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

log = logging.getLogger(__name__)

# A batch item: (epoch, utterance index).  The epoch travels with the index so that the dataset
# (possibly a persistent worker's copy) can seed per-utterance augmentation without shared state.
Key = Tuple[int, int]


class BucketBatchSampler:
    """Yields lists of ``(epoch, index)`` keys; ``len()`` = this rank's remaining batches."""

    def __init__(
        self,
        lengths: Sequence[int],
        max_frames: int,
        max_batch_size: Optional[int] = None,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        min_batch_size: int = 1,
    ):
        if max_frames <= 0:
            raise ValueError(f"max_frames must be positive, got {max_frames}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"bad rank {rank} / world_size {world_size}")
        if len(lengths) < world_size:
            raise ValueError(f"{len(lengths)} utterances cannot be sharded over {world_size} ranks")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if (self.lengths <= 0).any():
            raise ValueError("every utterance needs at least one frame")
        self.max_frames = int(max_frames)
        self.max_batch_size = int(max_batch_size) if max_batch_size else None
        self.min_batch_size = max(1, int(min_batch_size))
        if self.max_batch_size is not None and self.max_batch_size < self.min_batch_size:
            raise ValueError("max_batch_size must be >= min_batch_size")
        if len(lengths) < self.min_batch_size * world_size:
            raise ValueError(f"{len(lengths)} utterances cannot make {world_size} batch(es) of {self.min_batch_size}")
        self.shuffle = shuffle
        self.seed = int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0
        self.start = 0
        self._cache: Optional[Tuple[int, List[List[int]]]] = None
        n_long = int((self.lengths > self.max_frames).sum())
        if n_long:
            log.warning("%d utterances are longer than max_frames=%d: each gets a batch of its own",
                        n_long, self.max_frames)

    # -- epoch and position ---------------------------------------------------------------------
    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch (its shuffle) and skip this rank's first ``start`` batches of it."""
        self.epoch, self.start = int(epoch), int(start)

    # -- batches --------------------------------------------------------------------------------
    def _rng(self, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch])

    def all_batches(self, epoch: Optional[int] = None) -> List[List[int]]:
        """Every rank's batches of ``epoch`` (lists of utterance indices), in epoch order."""
        epoch = self.epoch if epoch is None else epoch
        if self._cache is not None and self._cache[0] == epoch:
            return [list(b) for b in self._cache[1]]
        n = len(self.lengths)
        if self.shuffle:
            rng = self._rng(epoch)
            perm = rng.permutation(n)
            order = perm[np.argsort(self.lengths[perm], kind="stable")]
        else:
            rng = None
            order = np.argsort(self.lengths, kind="stable")
        batches: List[List[int]] = []
        cur: List[int] = []
        cur_max = 0
        for idx in order.tolist():
            length = int(self.lengths[idx])
            new_max = max(cur_max, length)
            full = self.max_batch_size is not None and len(cur) >= self.max_batch_size
            too_big = new_max * (len(cur) + 1) > self.max_frames and len(cur) >= self.min_batch_size
            if cur and (too_big or full):
                batches.append(cur)
                cur, new_max = [], length
            cur.append(idx)
            cur_max = new_max
        if cur:
            if len(cur) < self.min_batch_size and batches:
                batches[-1].extend(cur)
            else:
                batches.append(cur)
        batches = self._split_for_ranks(batches)
        if rng is not None:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        self._cache = (epoch, batches)
        return [list(b) for b in batches]

    def _padded(self, batch: List[int]) -> int:
        return int(self.lengths[batch].max()) * len(batch)

    def _split_for_ranks(self, batches: List[List[int]]) -> List[List[int]]:
        """Make the number of batches (in length order) a multiple of world_size, no batch
        smaller than min_batch_size (the constructor checked there are enough utterances)."""
        while len(batches) % self.world_size:  # split the largest batch that can be halved
            sizes = [self._padded(b) if len(b) >= 2 * self.min_batch_size else -1 for b in batches]
            i = int(np.argmax(sizes))
            if sizes[i] < 0:
                break
            b = batches[i]
            half = math.ceil(len(b) / 2)
            batches[i:i + 1] = [b[:half], b[half:]]
        if len(batches) % self.world_size and len(batches) < self.world_size:
            # fewer batches than ranks and none to halve: deal the utterances out afresh
            flat = [u for b in batches for u in b]
            return [[int(u) for u in c] for c in np.array_split(np.asarray(flat), self.world_size)]
        while len(batches) % self.world_size:  # merge the smallest batch with its shorter neighbour
            i = int(np.argmin([self._padded(b) for b in batches]))
            lo = i - 1 if i > 0 else i
            batches[lo:lo + 2] = [batches[lo] + batches[lo + 1]]
        return batches

    def rank_batches(self, epoch: Optional[int] = None) -> List[List[int]]:
        """This rank's batches of ``epoch``, from the first (``start`` is not applied)."""
        return self.all_batches(epoch)[self.rank::self.world_size]

    def __iter__(self) -> Iterator[List[Key]]:
        epoch = self.epoch
        for batch in self.rank_batches(epoch)[self.start:]:
            yield [(epoch, i) for i in batch]

    def __len__(self) -> int:
        return max(0, len(self.rank_batches()) - self.start)

    def num_batches(self, epoch: Optional[int] = None) -> int:
        """This rank's batches in a whole epoch."""
        return len(self.rank_batches(epoch))


def padding_fraction(batches: Sequence[Sequence[int]], lengths: Sequence[int]) -> float:
    """Padded frames / all frames of the padded batches."""
    lengths = np.asarray(lengths)
    total = sum(int(lengths[list(b)].max()) * len(b) for b in batches)
    valid = sum(int(lengths[list(b)].sum()) for b in batches)
    return 1.0 - valid / max(total, 1)
