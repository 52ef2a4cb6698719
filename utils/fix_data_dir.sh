#!/usr/bin/env bash
# Kaldi's utils/fix_data_dir.sh interface; implemented in accent.data.kaldi_dir.
exec python -m accent.bin.data_dir fix "$@"
