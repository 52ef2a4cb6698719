"""Tiny training configs: real models small enough to train in seconds on one CPU thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import yaml

TINY_JASPER = {"name": "jasper", "channels": [16, 16], "kernels": [5, 5], "repeat": 1, "dropout": 0.1,
               "prologue_channels": 16, "prologue_kernel": 5, "epilogue_channels": 16, "epilogue_kernel": 5,
               "output_dim": 16, "prologue_dropout": 0.1, "epilogue_dropout": 0.1}

# No batch norm anywhere (LayerNorm transformer, stats pooling, no embedding norm, softmax): a
# DDP rank normalises with its own batch, so BN would make the two sides differ by design.
# Dropout 0: the ranks draw their own dropout masks.  SpecAugment stays on: it is seeded per
# utterance, so the same utterance gets the same masks whichever rank reads it.
TINY_TRANSFORMER = {"name": "transformer", "d_model": 16, "num_layers": 1, "num_heads": 2, "ff_dim": 32,
                    "dropout": 0.0}

# the models of the session fixture ``trained``: one per encoder family, together covering the
# poolings with recurrent, attentive and transformer parts, both CMVN modes and the hybrid system's
# frozen reference encoder with concat_ca fusion
EXPORT_MODELS = {
    "crnn": {"encoder": {"name": "crnn", "blocks": [1, 1], "channels": [4, 8], "time_strides": [2, 2],
                         "freq_strides": [2, 2], "dense_dim": 16, "gru_hidden": 8},
             "pooling": {"name": "bigru", "hidden_dim": 8}, "head": {"name": "cosface", "scale": 10}},
    "transformer": {"encoder": {"name": "transformer", "d_model": 16, "num_layers": 1, "num_heads": 2, "ff_dim": 32},
                    "pooling": {"name": "asp", "bottleneck_dim": 8}},
    "jasper": {"encoder": dict(TINY_JASPER), "reference_encoder": "same", "fusion": "concat_ca",
               "pooling": {"name": "transformer_aggregator", "d_model": 16, "num_layers": 1, "num_heads": 2,
                           "ff_dim": 32}},
}
EXPORT_CMVN = {"crnn": "utterance", "transformer": "global", "jasper": "global"}


def tiny_accent(**over: Any) -> Dict[str, Any]:
    """The tiny accent config; ``section__key=value`` overrides a key (``train__epochs=1``)."""
    cfg = {
        "task": "accent",
        "seed": 1,
        "model": {"encoder": dict(TINY_JASPER), "pooling": "stats", "embed_dim": 16, "head": "softmax"},
        "data": {"max_frames": 400, "specaug": {"num_freq_masks": 1, "freq_mask_width": 4, "num_time_masks": 1,
                                                 "time_mask_width": 10}},
        "optim": {"lr": 3e-3, "scheduler": {"name": "warmup_cosine", "warmup_steps": 3}},
        "train": {"epochs": 2, "log_interval_steps": 0},
    }
    for key, value in over.items():
        node = cfg
        parts = key.split("__")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return cfg


def ddp_config(**train: Any) -> Dict[str, Any]:
    return {
        "task": "accent",
        "seed": 5,
        "model": {"encoder": dict(TINY_TRANSFORMER), "pooling": "stats", "embed_dim": 16, "embed_norm": "none",
                  "head": "softmax"},
        # one batch of all 18 utterances; over 2 ranks the sampler halves it (9 + 9)
        "data": {"max_frames": 100000, "num_workers": 0,
                 "specaug": {"num_freq_masks": 1, "freq_mask_width": 4, "num_time_masks": 1, "time_mask_width": 10}},
        # Adam's first step is lr * g / (|g| + eps): with eps = 1 it is ~lr * g, so the weights
        # show the gradient's size, not only its sign
        "optim": {"lr": 0.1, "eps": 1.0, "scheduler": {"name": "constant", "warmup_steps": 0}},
        "train": {"epochs": 1, "log_interval_steps": 0, **train},
    }


def write_config(path: Path, cfg: Dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


# run.sh options of a tiny demo recipe run (seconds per stage)
TINY_RECIPE = [
    "--nj", "2", "--bpe-size", "60",
    "--demo-speakers-per-accent", "3", "--demo-utts-per-speaker", "3", "--demo-dev-speakers-per-accent", "1",
    "--demo-test-utts", "10", "--demo-libri-train-speakers", "3", "--demo-libri-train-utts", "4",
    "--demo-libri-dev-speakers", "2", "--demo-libri-dev-utts", "2",
]
