"""Speaker probe (hybrid paper Sec. 4.3): how much speaker information an accent model's embedding
carries.

The trained model is frozen (eval mode) and its final layer (the head) is replaced by a linear
speaker classifier: the embeddings the head would see (``AccentModel.embed``) are computed once,
then only the linear layer is trained (Adam, seeded) on an utterance-level split of the training
set in which every speaker has utterances on both sides, and the speaker accuracy on the held-out
part is recorded after every epoch.  A model whose embedding keeps less speaker information gives
a lower curve; the paper finds the MTL model's far below the scratch model's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

from accent.data.kaldi_dir import DataDirError, read_mapping
from accent.evaluation.predictions import model_batches
from accent.evaluation.plots import plt, save_figure
from accent.models.build import load_model


def speaker_split(utt2spk: Mapping[str, str], valid_fraction: float = 0.2, seed: int = 0
                  ) -> Tuple[List[str], List[str]]:
    """(train utts, valid utts): per speaker, a seeded ``valid_fraction`` of its utterances (at
    least one, at most all but one) is held out.  Speakers with a single utterance are left out."""
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
    by_spk: Dict[str, List[str]] = {}
    for utt, spk in utt2spk.items():
        by_spk.setdefault(spk, []).append(utt)
    rng = np.random.default_rng(seed)
    train, valid = [], []
    for spk in sorted(by_spk):
        utts = sorted(by_spk[spk])
        if len(utts) < 2:
            continue
        order = rng.permutation(len(utts))
        n_valid = min(max(1, round(valid_fraction * len(utts))), len(utts) - 1)
        valid += [utts[i] for i in order[:n_valid]]
        train += [utts[i] for i in order[n_valid:]]
    if not valid:
        raise ValueError("no speaker has two utterances: the probe needs each speaker on both sides")
    return sorted(train), sorted(valid)


@torch.no_grad()
def extract_embeddings(checkpoint: Union[str, os.PathLike], data_dir: Union[str, os.PathLike],
                       device: str = "cpu", max_frames: Optional[int] = None) -> Dict[str, np.ndarray]:
    """utt -> the frozen model's embedding (what its head sees)."""
    model, ckpt = load_model(checkpoint, device)
    if not hasattr(model, "embed"):
        raise ValueError(f"{checkpoint}: not an accent model (task {ckpt.get('task', ckpt['config'].get('task'))})")
    out: Dict[str, np.ndarray] = {}
    for batch in model_batches(ckpt, data_dir, device, max_frames=max_frames):
        emb = model.embed(batch["feats"], batch["lengths"]).float().cpu().numpy()
        out.update(zip(batch["utts"], emb))
    return out


def train_probe(train_x: np.ndarray, train_y: np.ndarray, valid_x: np.ndarray, valid_y: np.ndarray,
                num_classes: int, epochs: int = 50, lr: float = 1e-3, batch_size: int = 64, seed: int = 0
                ) -> List[Dict[str, float]]:
    """A linear classifier on fixed inputs; per epoch: train loss, train and valid accuracy."""
    gen = torch.Generator().manual_seed(int(seed))
    tx, ty = torch.as_tensor(train_x, dtype=torch.float32), torch.as_tensor(train_y, dtype=torch.long)
    vx, vy = torch.as_tensor(valid_x, dtype=torch.float32), torch.as_tensor(valid_y, dtype=torch.long)
    probe = nn.Linear(tx.shape[1], num_classes)
    with torch.no_grad():  # initialised from the probe's own generator: no global RNG state
        bound = 1.0 / tx.shape[1] ** 0.5
        probe.weight.uniform_(-bound, bound, generator=gen)
        probe.bias.uniform_(-bound, bound, generator=gen)
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    history = []
    for epoch in range(1, epochs + 1):
        probe.train()
        total = correct = 0
        loss_sum = 0.0
        for idx in torch.randperm(len(tx), generator=gen).split(batch_size):
            logits = probe(tx[idx])
            loss = nn.functional.cross_entropy(logits, ty[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(-1) == ty[idx]).sum())
            total += len(idx)
        probe.eval()
        with torch.no_grad():
            valid_acc = float((probe(vx).argmax(-1) == vy).float().mean())
        history.append({"epoch": epoch, "train_loss": loss_sum / total, "train_acc": correct / total,
                        "valid_acc": valid_acc})
    return history


def speaker_probe(checkpoints: Mapping[str, Union[str, os.PathLike]], data_dir: Union[str, os.PathLike],
                  epochs: int = 50, valid_fraction: float = 0.2, seed: int = 0, lr: float = 1e-3,
                  batch_size: int = 64, device: str = "cpu") -> Dict[str, Any]:
    """Probe every model on the same split: {split: {...}, models: {name: {checkpoint, history}}}."""
    data_dir = Path(data_dir)
    utt2spk_path = data_dir / "utt2spk"
    if not utt2spk_path.is_file():
        raise DataDirError(f"{utt2spk_path}: missing (the probe's speaker labels)")
    utt2spk = read_mapping(utt2spk_path)
    train_utts, valid_utts = speaker_split(utt2spk, valid_fraction, seed)
    speakers = sorted({utt2spk[u] for u in train_utts})
    index = {s: i for i, s in enumerate(speakers)}
    train_y = np.array([index[utt2spk[u]] for u in train_utts])
    valid_y = np.array([index[utt2spk[u]] for u in valid_utts])
    result: Dict[str, Any] = {
        "data": str(data_dir),
        "split": {"speakers": len(speakers), "train_utts": len(train_utts), "valid_utts": len(valid_utts),
                  "valid_fraction": valid_fraction, "seed": seed, "chance": 1.0 / len(speakers)},
        "probe": {"epochs": epochs, "lr": lr, "batch_size": batch_size},
        "models": {},
    }
    for name, path in checkpoints.items():
        emb = extract_embeddings(path, data_dir, device)
        missing = [u for u in train_utts + valid_utts if u not in emb]
        if missing:
            raise DataDirError(f"{data_dir / 'feats.scp'}: no features for {len(missing)} utterances of "
                               f"utt2spk, e.g. {missing[0]}")
        history = train_probe(np.stack([emb[u] for u in train_utts]), train_y,
                              np.stack([emb[u] for u in valid_utts]), valid_y, len(speakers),
                              epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
        result["models"][name] = {"checkpoint": str(path), "embed_dim": int(next(iter(emb.values())).shape[0]),
                                  "history": history}
    return result


def probe_table(result: Mapping[str, Any]) -> str:
    """Markdown: held-out speaker accuracy (%) per epoch, one column per model."""
    names = list(result["models"])
    lines = ["| epoch | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    histories = [result["models"][n]["history"] for n in names]
    for i in range(len(histories[0])):
        cells = [f"{100 * h[i]['valid_acc']:.2f}" for h in histories]
        lines.append(f"| {histories[0][i]['epoch']} | " + " | ".join(cells) + " |")
    split = result["split"]
    lines.append(f"\nSpeaker accuracy (%) of a linear probe on the frozen embeddings: {split['speakers']} speakers, "
                 f"{split['train_utts']} train / {split['valid_utts']} held-out utterances of {result['data']} "
                 f"(chance {100 * split['chance']:.2f}%).")
    return "\n".join(lines) + "\n"


def plot_curves(result: Mapping[str, Any], path: Union[str, os.PathLike]) -> Path:
    """Held-out speaker accuracy per epoch, one curve per model (PNG)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, model in result["models"].items():
        h = model["history"]
        ax.plot([r["epoch"] for r in h], [100 * r["valid_acc"] for r in h], marker="o", markersize=3, label=name)
    ax.axhline(100 * result["split"]["chance"], color="grey", linestyle=":", label="chance")
    ax.set_xlabel("probe epoch")
    ax.set_ylabel("held-out speaker accuracy (%)")
    ax.set_title("Speaker probe on frozen accent embeddings")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def parse_model_specs(specs: Sequence[str]) -> Dict[str, str]:
    """``name=checkpoint`` (or a bare checkpoint path, named by its experiment dir) -> {name: path}."""
    out: Dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec).parent.name, spec
        if not name or not path:
            raise ValueError(f"model {spec!r}: expected name=checkpoint")
        if name in out:
            raise ValueError(f"model name {name!r} given twice")
        out[name] = path
    return out
