"""A trained accent model run over a data dir, batch by batch, as it was trained (its own CMVN)."""

from __future__ import annotations

import os
from typing import Any, Iterator, List, Mapping, Tuple, Union

import torch
import torch.nn as nn

from accent.dataset import BucketBatchSampler, FeatsDataset, FeatureNormalizer, make_loader


def model_batches(model: nn.Module, ckpt: Mapping[str, Any], data_dir: Union[str, os.PathLike],
                  device: Union[str, torch.device] = "cpu", max_frames: int = 20000
                  ) -> Iterator[Tuple[List[str], torch.Tensor, torch.Tensor]]:
    """Yields (utts, feats (B,T,D), lengths) on ``device``, normalised with the checkpoint's CMVN;
    no labels or transcripts are needed.  The model is put in eval mode."""
    model.eval()
    dataset = FeatsDataset(data_dir, FeatureNormalizer.from_dict(ckpt["normalizer"]), require_labels=False,
                           require_targets=False)
    if int(ckpt["input_dim"]) != dataset.feat_dim:
        raise ValueError(f"{data_dir}: features have {dataset.feat_dim} dims, the model expects {ckpt['input_dim']}")
    sampler = BucketBatchSampler(dataset.lengths, max_frames, shuffle=False)
    for batch in make_loader(dataset, sampler):
        yield batch["utts"], batch["feats"].to(device), batch["lengths"].to(device)
