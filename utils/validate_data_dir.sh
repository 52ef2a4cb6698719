#!/usr/bin/env bash
# Kaldi's utils/validate_data_dir.sh interface; implemented in accent.data.kaldi_dir.
exec python -m accent.bin.data_dir validate "$@"
