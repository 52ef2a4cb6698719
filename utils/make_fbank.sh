#!/usr/bin/env bash
# FBank features of a data directory in nj parallel jobs (Kaldi's steps/make_fbank.sh interface).
# Usage: utils/make_fbank.sh [--nj 4] [--cmd run.pl] [--fbank-config conf/fbank.yaml] <data-dir> <log-dir> <fbank-dir>
set -euo pipefail
nj=4
cmd=run.pl
fbank_config=
. utils/parse_options.sh

if [ $# -ne 3 ]; then
  echo "Usage: $0 [--nj N] [--cmd CMD] [--fbank-config FILE] <data-dir> <log-dir> <fbank-dir>" >&2
  exit 1
fi
data=$1 logdir=$2 fbankdir=$3
name=$(basename "$data")
. "${0%/*}/accent_python.sh"

# One writer at a time (this step writes the feature dir and the data dir's features): a second
# run stops here, naming this one.  The lock is held by this script, its runner and its jobs, and
# freed by the kernel when the last of them ends, however it ended.
mkdir -p "$fbankdir"
exec {lock_fd}<>"$fbankdir/.lock"
"$accent_python" -m accent.jobs.lock --fd "$lock_fd" --pid $$ --prog "$0" "$fbankdir" || exit 1
export ACCENT_LOCK_FDS="${ACCENT_LOCK_FDS:+$ACCENT_LOCK_FDS }$lock_fd"

# as Kaldi's make_fbank.sh: the old features go first, so the data dir never lists features that
# the jobs are about to overwrite (or that other options made), nor do its splits
rm -f "$data/feats.scp" "$data/utt2num_frames"
utils/validate_data_dir.sh "$data"
# fewer speakers than jobs (a small dev set): use one job per speaker
nspk=$(wc -l < "$data/spk2utt")
[ "$nspk" -lt "$nj" ] && nj=$nspk
utils/split_data.sh "$data" "$nj"
mkdir -p "$logdir" "$fbankdir" "$data/conf"
config_opt=()
[ -n "$fbank_config" ] && config_opt=(--config "$fbank_config")
# as Kaldi's make_mfcc.sh: the data dir records how its features were made (training copies it
# into the checkpoint, so inference computes the same features from audio)
"$accent_python" -m accent.bin.compute_fbank --write-config "$data/conf/fbank.yaml" "${config_opt[@]}"

# each job skips itself when its scp is complete and was made from the same audio with the same
# options (<prefix>.settings), so a rerun after a crash redoes only the rest
$cmd JOB=1:$nj "$logdir/make_fbank_${name}.JOB.log" \
  "$accent_python" -m accent.bin.compute_fbank "${config_opt[@]}" "$data/split$nj/JOB" "$fbankdir/raw_fbank_${name}.JOB"

prefixes=()
for j in $(seq "$nj"); do prefixes+=("$fbankdir/raw_fbank_${name}.$j"); done
"$accent_python" -m accent.bin.combine_feats "$data" "${prefixes[@]}"
utils/validate_data_dir.sh --require wav.scp,utt2spk,spk2utt,feats.scp,utt2num_frames "$data"
