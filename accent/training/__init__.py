"""Training: configs (``base:`` inheritance), the trainer (ASR pretraining and accent models),
checkpoints, learning-rate schedules and the throughput benchmark."""

from .checkpoint import (
    average_checkpoints, epoch_checkpoints, latest_checkpoint, load_checkpoint, save_checkpoint,
)
from .config import (
    ConfigError, deep_merge, dump_config, experiment_name, load_config, parse_overrides, resolve_config,
)
from accent.models.build import build_model, count_parameters, load_model
from .scheduler import WarmupScheduler
from .trainer import Trainer, resolve_device

__all__ = [
    "average_checkpoints", "epoch_checkpoints", "latest_checkpoint", "load_checkpoint", "save_checkpoint",
    "ConfigError", "deep_merge", "dump_config", "experiment_name", "load_config", "parse_overrides",
    "resolve_config", "build_model", "count_parameters", "load_model", "WarmupScheduler", "Trainer",
    "resolve_device",
]
