"""Stage 3: train a sentencepiece BPE model on the transcripts of training data dirs.

Writes LANG_DIR/bpe.model, bpe.vocab and units.txt (<blank> 0, <unk> 1, pieces,
<sos/eos> last). Deterministic: rerunning with the same text and size rewrites nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.text.bpe import DEFAULT_VOCAB_SIZE, BpeError, read_sentences, train_bpe
from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE,
                   help="number of sentencepiece pieces, <unk> included (default %(default)s)")  # fmt: skip
    p.add_argument("--lang-dir", type=Path, help="output dir (default data/lang_bpe_<vocab-size>)")
    p.add_argument("data_dirs", type=Path, nargs="+", help="training data dirs; their text is the training text")
    args = p.parse_args()
    lang_dir = args.lang_dir or Path(f"data/lang_bpe_{args.vocab_size}")
    try:
        train_bpe(read_sentences(args.data_dirs), lang_dir, args.vocab_size)
    except BpeError as e:
        p.error(str(e))  # a setting to change: usage + message, exit status 2


if __name__ == "__main__":
    run(main)
