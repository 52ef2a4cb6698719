"""CTC branch: a phone CTC head, its loss, greedy decoding and the phone error rate.

Unit id 0 is the CTC blank (``data/lang_phn``: blank + 39 ARPAbet phones).  Edit distances come
from the ``editdistance`` package (Levenshtein over token sequences).
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


class CTCHead(nn.Module):
    """Linear -> log_softmax over ``num_units`` (blank included, id ``blank``)."""

    def __init__(self, input_dim: int, num_units: int, blank: int = 0, dropout: float = 0.0):
        super().__init__()
        self.num_units, self.blank = num_units, blank
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(input_dim, num_units)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, T, C) -> log-probs (B, T, num_units), lengths unchanged."""
        return F.log_softmax(self.linear(self.dropout(frames)), dim=-1), lengths


def ctc_loss(
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    target_lengths: torch.Tensor,
    blank: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """CTC loss of batch-first log-probs (B, T, V).

    ``targets`` is padded (B, S); ``zero_infinity=True`` (an utterance whose target cannot fit in
    its frames contributes 0).  An utterance with an empty target has no transcript
    (:func:`accent.text.normalize.is_transcribed`): it contributes 0 and is not counted, so
    ``reduction="mean"`` divides each loss by its target length and averages over the utterances
    *with* targets (0, still part of the graph, when none has one); "sum" sums them and "none"
    gives 0 for the others.  Computed in float32.
    """
    per_utt = F.ctc_loss(
        log_probs.transpose(0, 1).float(),
        targets.long(),
        lengths.long(),
        target_lengths.long(),
        blank=blank,
        reduction="none",
        zero_infinity=True,
    )
    has = target_lengths.to(per_utt.device) > 0
    # where, not a product: an empty target's all-blank loss must not reach the gradient
    per_utt = torch.where(has, per_utt, torch.zeros_like(per_utt))
    if reduction == "none":
        return per_utt
    if reduction == "sum":
        return per_utt.sum()
    if reduction != "mean":
        raise ValueError(f"reduction must be mean, sum or none; got {reduction!r}")
    norm = per_utt / target_lengths.to(per_utt.device).clamp_min(1)
    return norm.sum() / has.sum().clamp_min(1)


def ctc_carriers(target_lengths: Optional[torch.Tensor]) -> int:
    """How many utterances of a batch carry a CTC target (a non-empty one)."""
    return 0 if target_lengths is None else int((target_lengths > 0).sum())


def greedy_decode(log_probs: torch.Tensor, lengths: Optional[torch.Tensor] = None, blank: int = 0) -> List[List[int]]:
    """Best path: argmax per frame over the valid frames, collapse repeats, drop blanks."""
    best = log_probs.argmax(-1).cpu()
    if lengths is None:
        lengths = torch.full((best.size(0),), best.size(1), dtype=torch.long)
    hyps = []
    for seq, n in zip(best.tolist(), lengths.cpu().tolist()):
        out, prev = [], None
        for tok in seq[: int(n)]:
            if tok != prev and tok != blank:
                out.append(tok)
            prev = tok
        hyps.append(out)
    return hyps


def _editdistance():
    try:
        import editdistance
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("phone error rates need the 'editdistance' package: pip install editdistance") from e
    return editdistance


def edit_distance(hyp: Sequence, ref: Sequence) -> int:
    """Levenshtein distance between two token sequences (ints or strings)."""
    return int(_editdistance().eval(list(hyp), list(ref)))


def error_counts(hyps: Sequence[Sequence], refs: Sequence[Sequence]) -> Tuple[int, int]:
    """(total edit distance, total reference length) over a corpus."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    errors = sum(edit_distance(h, r) for h, r in zip(hyps, refs))
    return errors, sum(len(r) for r in refs)


def phone_error_rate(hyps: Sequence[Sequence], refs: Sequence[Sequence]) -> float:
    """Corpus PER = Σ edit distances / Σ reference lengths (a fraction; x100 for %)."""
    errors, total = error_counts(hyps, refs)
    return errors / max(total, 1)


def unpad_targets(targets: torch.Tensor, target_lengths: torch.Tensor) -> List[List[int]]:
    """Padded (B, S) targets -> list of token lists."""
    return [t[: int(n)].tolist() for t, n in zip(targets.cpu(), target_lengths.cpu())]
