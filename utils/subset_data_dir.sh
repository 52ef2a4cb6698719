#!/usr/bin/env bash
# Kaldi's utils/subset_data_dir.sh interface; implemented in accent.data.kaldi_dir.
#   subset_data_dir.sh [--speakers|--shortest|--first|--last|--per-spk] <src-dir> <num-utt> <dest-dir>
#   subset_data_dir.sh --utt-list <utterance-list-file> <src-dir> <dest-dir>
#   subset_data_dir.sh --spk-list <speaker-list-file> <src-dir> <dest-dir>
# Without an option, <num-utt> utterances spread evenly through the directory (Kaldi's subset_scp.pl).
. "${0%/*}/accent_python.sh"
exec "$accent_python" -m accent.bin.data_dir subset "$@"
