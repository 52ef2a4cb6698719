"""Named encoder configs at paper, demo and quick size, and the model the benchmarks time.

Paper size: the classes' defaults; demo size: what ``egs/aesrc/conf/demo`` trains; quick: what
the tests train in seconds.  The training and inference benchmarks share them.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping

from .accent_model import AccentModel

# Encoder configs.  Paper size: the classes' defaults (Jasper 5x3; CRNN ResNet-34 + BiGRU 256;
# Transformer 12 x 256, as in the AESRC baseline).  Demo size: what egs/aesrc/conf/demo trains
# (tests/test_train_config.py checks that the two stay the same).
PAPER_ENCODERS: Dict[str, Dict[str, Any]] = {
    "jasper": {"name": "jasper"},
    "crnn": {"name": "crnn", "depth": 34},
    "transformer": {"name": "transformer", "num_layers": 12},
}
DEMO_ENCODERS: Dict[str, Dict[str, Any]] = {
    "jasper": {
        "name": "jasper", "channels": [48, 48, 64, 64, 96], "kernels": [7, 7, 9, 9, 11], "repeat": 1,
        "dropout": 0.1, "prologue_channels": 48, "epilogue_channels": 96, "epilogue_kernel": 9,
        "output_dim": 96, "prologue_dropout": 0.1, "epilogue_dropout": 0.1,
    },
    "crnn": {"name": "crnn", "depth": 10, "channels": [8, 8, 16, 32], "dense_dim": 64, "gru_hidden": 64},
    "transformer": {"name": "transformer", "d_model": 64, "num_layers": 2, "num_heads": 4, "ff_dim": 256,
                    "dropout": 0.1},
}
QUICK_ENCODERS: Dict[str, Dict[str, Any]] = {
    "jasper": {"name": "jasper", "channels": [16, 16], "kernels": [5, 5], "repeat": 1, "dropout": 0.1,
               "prologue_channels": 16, "epilogue_channels": 16, "epilogue_kernel": 5, "output_dim": 16},
    "crnn": {"name": "crnn", "blocks": [1, 1], "channels": [4, 8], "time_strides": [2, 2], "freq_strides": [2, 2],
             "dense_dim": 16, "gru_hidden": 8},
    "transformer": {"name": "transformer", "d_model": 16, "num_layers": 1, "num_heads": 2, "ff_dim": 32},
}


def bench_model(encoder: Mapping[str, Any], input_dim: int, num_classes: int, normalize: str = "utterance"):
    """An ``AccentModel`` of ``encoder`` + stats pooling + softmax head (random weights)."""
    cfg = {"encoder": copy.deepcopy(dict(encoder)), "pooling": "stats", "head": "softmax", "embed_dim": 256,
           "ctc_weight": 0.0}
    return AccentModel.from_config(cfg, input_dim, num_classes, normalize=normalize)
