#!/usr/bin/env bash
# Kaldi's utils/split_data.sh interface; implemented in accent.data.kaldi_dir.
exec python -m accent.bin.data_dir split "$@"
