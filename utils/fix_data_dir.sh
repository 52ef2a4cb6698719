#!/usr/bin/env bash
# Kaldi's utils/fix_data_dir.sh interface; implemented in accent.data.kaldi_dir.
. "${0%/*}/accent_python.sh"
exec "$accent_python" -m accent.bin.data_dir fix "$@"
