#!/usr/bin/env bash
# Kaldi's utils/combine_data.sh interface: <dest-data-dir> <src-data-dir1> <src-data-dir2> ...
# (files present in every source are combined; the others are left out with a warning).
exec python -m accent.bin.data_dir combine "$@"
