"""DataLoader construction: bucketed batches, worker processes, pinned memory on CUDA."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch.utils.data import DataLoader

from .dataset import FeatsDataset, collate
from .sampler import BucketBatchSampler


def make_loader(
    dataset: torch.utils.data.Dataset,
    sampler: Any,
    num_workers: int = 0,
    pin_memory: bool = False,
    prefetch_factor: Optional[int] = None,
    seed: int = 0,
    collate_fn: Callable[..., Any] = collate,
) -> DataLoader:
    """A DataLoader over ``sampler``'s batches.

    The loader gets its own ``torch.Generator`` so that creating an iterator does not draw from
    the global torch RNG (whose state is part of a checkpoint: a resumed run must see the same
    dropout masks as an uninterrupted one).  Workers are not persistent: each epoch's iterator
    forks them anew with the current sampler position.
    """
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    kwargs = {}
    if num_workers > 0 and prefetch_factor:
        kwargs["prefetch_factor"] = int(prefetch_factor)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate_fn,
        num_workers=int(num_workers),
        pin_memory=bool(pin_memory),
        generator=generator,
        **kwargs,
    )
