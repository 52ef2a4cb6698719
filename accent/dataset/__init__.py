"""Training data: Kaldi data dirs as datasets, bucketed dynamic batches, SpecAugment."""

from .dataset import FeatsDataset, Tokenizer, collate, map_labels, read_label_list
from .loader import make_loader
from .sampler import BucketBatchSampler, padding_fraction
from .specaug import SpecAugment

__all__ = [
    "FeatsDataset", "Tokenizer", "collate", "map_labels", "read_label_list",
    "make_loader", "BucketBatchSampler", "padding_fraction", "SpecAugment",
]
