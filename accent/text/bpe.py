"""Sentencepiece BPE output units: training, ``units.txt`` and encoding.

``lang_bpe_<N>/`` holds ``bpe.model`` and ``bpe.vocab`` (sentencepiece, ``N``
pieces including ``<unk>`` at id 0, no ``<s>``/``</s>``) and ``units.txt``
(``<blank> 0``, ``<unk> 1``, the other pieces as ids 2..N, ``<sos/eos> N+1``:
unit id = sentencepiece id + 1; see :mod:`accent.text.units`).

Training is deterministic: the same sentences and size give the same model
bytes. Sentencepiece's BPE trainer is deterministic given its input; we pass
every sentence in order (no sampling or shuffling) and fix ``num_threads``,
which is also stored in the model file. The transcripts are already
normalised, so sentencepiece's own normalisation is off ("identity"), which
makes ``decode(encode(text)) == text`` for text made of seen characters.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
from pathlib import Path
from typing import List, Sequence, Union

import sentencepiece as spm

from accent.utils.files import DataDirError, read_mapping
from accent.text.normalize import UNK_WORD, is_transcribed
from accent.text.units import BLANK, SOS_EOS, UNK, write_bytes_if_changed, write_text_if_changed, write_units

log = logging.getLogger(__name__)

# For the AESRC2020 training prompts (a few thousand distinct sentences) with or
# without LibriSpeech text: enough pieces for whole frequent words, few enough
# that each is seen often. Sentencepiece rejects sizes its text cannot fill.
DEFAULT_VOCAB_SIZE = 500

Model = Union[os.PathLike, str, spm.SentencePieceProcessor]


class BpeError(ValueError):
    """BPE training is impossible with these inputs/settings; the message says what to change."""


def read_sentences(data_dirs: Sequence[os.PathLike]) -> List[str]:
    """The transcripts (without utterance IDs) of the data dirs' ``text`` files, in order; the
    untranscribed ones (empty or with ``<UNK>``, :func:`accent.text.normalize.is_transcribed`) are
    left out, so that ``<UNK>`` does not become pieces."""
    sentences: List[str] = []
    for data_dir in map(Path, data_dirs):
        path = data_dir / "text"
        if not path.is_file():
            raise DataDirError(f"{path}: missing; BPE training needs transcribed data dirs")
        texts = list(read_mapping(path, allow_empty_value=True).values())
        kept = [s for s in texts if is_transcribed(s)]
        if len(kept) < len(texts):
            log.info("%s: %d of %d transcripts are empty or hold %s: not BPE training text",
                     path, len(texts) - len(kept), len(texts), UNK_WORD)
        sentences.extend(kept)
    return sentences


def train_bpe(sentences: Sequence[str], lang_dir: os.PathLike, vocab_size: int = DEFAULT_VOCAB_SIZE) -> Path:
    """Train a BPE model on ``sentences`` and write ``lang_dir/{bpe.model,bpe.vocab,units.txt}``.

    Returns the model path. Files whose content would not change are left
    untouched; the model is written last, through a temporary file and a
    rename, so an interrupted run never leaves a truncated model.
    """
    lang_dir = Path(lang_dir)
    if not sentences:
        raise BpeError(f"no transcripts to train the BPE model of {lang_dir} on")
    if vocab_size < 2:
        raise BpeError(f"--vocab-size {vocab_size}: must be at least 2")
    model_bytes = _train(sentences, vocab_size)
    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]

    lang_dir.mkdir(parents=True, exist_ok=True)
    write_text_if_changed(lang_dir / "bpe.vocab", "".join(f"{p}\t{sp.get_score(i):g}\n" for i, p in enumerate(pieces)))
    write_units(lang_dir / "units.txt", bpe_units(sp))
    model_path = lang_dir / "bpe.model"
    write_bytes_if_changed(model_path, model_bytes)
    log.info("%s: %d pieces trained on %d sentences", model_path, len(pieces), len(sentences))
    return model_path


def _train(sentences: Sequence[str], vocab_size: int) -> bytes:
    buf = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=buf,
            model_type="bpe",
            vocab_size=vocab_size,
            character_coverage=1.0,  # a small English alphabet: keep every character
            normalization_rule_name="identity",
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            input_sentence_size=0,  # use every sentence: no random sampling
            shuffle_input_sentence=False,
            num_threads=1,  # stored in the model: fixed so the bytes do not depend on the machine
            minloglevel=2,
        )
    except RuntimeError as e:
        msg = str(e)
        m = re.search(r"Vocabulary size too high \((\d+)\).*<= (\d+)", msg)
        if m:
            raise BpeError(
                f"--vocab-size {m.group(1)} is too large for the training text ({len(sentences)} sentences): "
                f"it yields at most {m.group(2)} pieces; use --vocab-size {m.group(2)} or smaller"
            ) from None
        m = re.search(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)", msg)
        if m:
            raise BpeError(
                f"--vocab-size {m.group(1)} is too small: every character of the training text needs a piece "
                f"({m.group(2)} with <unk>); use a larger --vocab-size"
            ) from None
        raise BpeError(f"sentencepiece could not train a BPE model of size {vocab_size}: {msg}") from None
    return buf.getvalue()


def bpe_units(model: Model) -> List[str]:
    """``units.txt`` symbols: ``<blank>``, the pieces (``<unk>`` first), ``<sos/eos>``."""
    sp = load_model(model)
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    if pieces[0] != UNK:
        raise BpeError(f"BPE model has {pieces[0]!r} at id 0, expected {UNK} (not trained by accent.text.bpe?)")
    return [BLANK, *pieces, SOS_EOS]


def load_model(model: Model) -> spm.SentencePieceProcessor:
    """A loaded processor for a model path (cached; reloaded when the file changes)."""
    if isinstance(model, spm.SentencePieceProcessor):
        return model
    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: BPE model not found (run accent.bin.train_bpe)")
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=path)


def encode(model: Model, text: str) -> List[str]:
    """BPE pieces of a normalised transcript, e.g. ``['▁DON', "'T", '▁GO']``."""
    return load_model(model).encode(text, out_type=str)


def encode_units(model: Model, text: str) -> List[int]:
    """``units.txt`` ids of the pieces of ``text`` (sentencepiece id + 1, as ``<blank>`` is 0)."""
    return [i + 1 for i in load_model(model).encode(text, out_type=int)]


def decode(model: Model, pieces: Sequence[str]) -> str:
    """The text of a piece sequence (inverse of :func:`encode`)."""
    return load_model(model).decode(list(pieces))

