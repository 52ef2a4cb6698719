"""What training reports: TensorBoard scalars, the epoch's log line, ``train_log.jsonl``,
``results.json`` and the ``.done`` marker of a finished experiment."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from accent.data.kaldi_dir import write_list, write_text_atomic

log = logging.getLogger(__name__)


class TensorBoard:
    """SummaryWriter when the ``tensorboard`` package is installed; otherwise a no-op (one warning)."""

    def __init__(self, log_dir: Path, purge_step: Optional[int], enabled: bool = True):
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.warning("TensorBoard logging off: the 'tensorboard' package is not installed")
            return
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def scalars(self, values: Mapping[str, Any], step: int) -> None:
        if self.writer is None:
            return
        for k, v in values.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                self.writer.add_scalar(k, v, step)

    def epoch(self, record: Mapping[str, Any]) -> None:
        """An epoch's ``train_*``/``dev_*`` values as ``train/*``, ``dev/*``, and its learning rate."""
        self.scalars({f"{k.split('_', 1)[0]}/{k.split('_', 1)[1]}": v for k, v in record.items()
                      if k.startswith(("train_", "dev_"))}, record["epoch"])
        self.scalars({"train/lr": record["lr"]}, record["epoch"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def epoch_line(r: Mapping[str, Any], epochs: int) -> str:
    """One epoch's record as the training log's line."""
    parts = [f"epoch {r['epoch']}/{epochs}", f"train loss {r['train_loss']:.4f}"]
    if "train_acc" in r:
        parts.append(f"acc {100 * r['train_acc']:.2f}%")
    parts.append(f"| dev loss {r['dev_loss']:.4f}")
    if "dev_acc" in r:
        parts.append(f"acc {100 * r['dev_acc']:.2f}%")
    if "dev_per" in r:
        parts.append(f"PER {100 * r['dev_per']:.2f}%")
    parts.append(f"| lr {r['lr']:.3g}")
    if "margin" in r:
        parts.append(f"margin {r['margin']:.3f}")
    parts.append(f"| {r['train_frames_per_s']:.0f} frames/s, {r['train_audio_s_per_s']:.1f} audio-s/s, "
                 f"data wait {100 * r['train_data_wait_frac']:.1f}%")
    parts.append(f"| {r['train_time_s']:.1f}s train + {r['dev_time_s']:.1f}s dev")
    if r["is_best"]:
        parts.append("(best)")
    return " ".join(parts)


def write_static_files(exp_dir: Path, cfg: Mapping[str, Any], frontend: Optional[Mapping[str, Any]],
                       labels: Optional[List[str]], units: Optional[List[str]]) -> None:
    """What an experiment directory says about itself before training: the resolved config, the
    FBank options, the label and unit lists."""
    from accent.features.fbank import FbankConfig

    from .config import dump_config

    write_text_atomic(exp_dir / "config.yaml", dump_config(cfg))
    if frontend:
        FbankConfig.from_dict(frontend).save(exp_dir / "fbank.yaml")
    if labels:
        write_list(exp_dir / "accents", labels)
    if units:
        write_text_atomic(exp_dir / "units.txt", "".join(f"{u} {i}\n" for i, u in enumerate(units)))


def write_train_log(exp_dir: Path, history: List[Mapping[str, Any]]) -> None:
    write_text_atomic(exp_dir / "train_log.jsonl", "".join(json.dumps(r) + "\n" for r in history))


def results_summary(history: List[Mapping[str, Any]], best: Mapping[str, Any], **facts: Any) -> Dict[str, Any]:
    """``results.json``: the best epoch, the training time, the last epoch's dev figures and ``facts``
    (task, method, parameters, code version, numerics, ...)."""
    results = {**facts, "metric": best["metric"], "best_value": best["value"], "best_epoch": best["epoch"],
               "epochs": len(history), "train_time_s": sum(r["train_time_s"] + r["dev_time_s"] for r in history)}
    if history:
        last = history[-1]
        results["last"] = {k: last[k] for k in ("dev_acc", "dev_per", "dev_loss") if k in last}
        results["train_audio_s_per_s"] = sum(r["train_audio_s_per_s"] for r in history) / len(history)
    return results


def write_results(exp_dir: Path, results: Mapping[str, Any]) -> None:
    """``results.json``, then ``.done``: the marker that the recipe skips a finished experiment by."""
    write_text_atomic(exp_dir / "results.json", json.dumps(results, indent=2) + "\n")
    (exp_dir / ".done").touch()
