#!/usr/bin/env bash
# Kaldi's utils/combine_data.sh interface: <dest-data-dir> <src-data-dir1> <src-data-dir2> ...
# (files present in every source are combined; the others are left out with a warning).
. "${0%/*}/accent_python.sh"
exec "$accent_python" -m accent.bin.data_dir combine "$@"
