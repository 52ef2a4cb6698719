#!/usr/bin/env bash
# Kaldi's utils/split_data.sh interface; implemented in accent.data.kaldi_dir.
. "${0%/*}/accent_python.sh"
exec "$accent_python" -m accent.bin.data_dir split "$@"
