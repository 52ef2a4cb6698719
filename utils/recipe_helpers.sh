# Shell functions shared by the recipes (egs/*/run*.sh), sourced after utils/parse_options.sh.

# The caller's file and line: run.sh's, or this file's for the lines of the functions below.
log() { local src=${BASH_SOURCE[1]:-$0}; echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${src##*/}:${BASH_LINENO[0]}) $*"; }
# A step is skipped when its marker holds the settings it was made with; other settings redo it.
is_done() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
# `if must_run MARKER SETTINGS; then <step>; echo "$settings" > MARKER; fi`: true unless the step is
# done; the marker is removed before the step runs, so a failed or killed step is always redone.
must_run() { is_done "$1" "$2" && return 1; rm -f "$1"; }
# The checksum of files' contents, for a marker's settings.
fingerprint() { cat "$@" | cksum; }
# The last "best dev ..." line of an experiment's training log.
best_dev() { grep -h 'best dev ' "$1/log/train.log" | tail -n 1 | sed 's/.*\] //'; }
# The sample rate of an FBank config (empty when it names none: FbankConfig's default, 16000).
fbank_rate() { sed -n 's/^sample_rate:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$1"; }

# -- features ---------------------------------------------------------------------------------------
# FBank features of data sets (names under data/) in nj jobs: $1 the FBank config, then the sets.
# A set whose features were made from the same wav.scp with the same options is skipped.
fbank_sets() {
  local config=$1 x settings
  shift
  for x in "$@"; do
    settings="$(fingerprint data/${x}/wav.scp) $(fingerprint ${config})"
    must_run data/${x}/.fbank.done "${settings}" || continue
    utils/make_fbank.sh --cmd "${train_cmd}" --nj ${nj} --fbank-config ${config} \
      data/${x} exp/make_fbank/${x} fbank/${x}
    echo "${settings}" > data/${x}/.fbank.done
  done
}
# Global CMVN statistics of training sets (data/<set>/cmvn.ark); per-utterance CMVN is a training option.
cmvn_stats() {
  local x
  for x in "$@"; do
    [ data/${x}/cmvn.ark -nt data/${x}/feats.scp ] && continue
    $train_cmd exp/make_fbank/${x}/compute_cmvn_stats.log \
      python -m accent.bin.compute_cmvn_stats data/${x}/feats.scp data/${x}/cmvn.ark
  done
}

# -- experiments: the training, scoring and export loops every recipe shares -----------------------
# They read the recipe's variables: ngpu, num_nodes, train_threads, train_opts (training), score_opts,
# plots (scoring) and exp_tag (appended to every experiment name, e.g. _fold1; default none).

# An experiment's name is its config path under conf/ with '/' -> '_' (conf/hybrid/mtl_l0.2.yaml ->
# hybrid_mtl_l0.2), or the file's stem for a config elsewhere: accent.utils.naming.experiment_name's rule
exp_name() {
  local p=${1%.yaml}
  case ${p} in conf/*) p=${p#conf/} ;; *) p=$(basename "${p}") ;; esac
  echo "${p//\//_}${exp_tag:-}"
}
# The experiment directories of configs: exp/<name> each.
exp_dirs() { local config; for config in "$@"; do echo exp/$(exp_name ${config}); done; }

# Train one experiment per config: $1 stage, $2 training set, $3 dev set (under data/), then the configs.
# A finished experiment (exp/<name>/.done) is skipped; a killed one resumes from its last checkpoint.
train_configs() {
  local stage=$1 train=$2 dev=$3 config dir job_opts="--gpu ${ngpu}"
  shift 3
  # --num-nodes only when > 1: a Kaldi config without a num_nodes line serves single-node jobs
  [ ${num_nodes} -gt 1 ] && job_opts="${job_opts} --num-nodes ${num_nodes}"
  [ ${train_threads} -gt 1 ] && job_opts="${job_opts} --num-threads ${train_threads}"
  for config in "$@"; do
    dir=exp/$(exp_name ${config})
    if [ -f ${dir}/.done ]; then
      log "Stage ${stage}: ${dir} is finished (remove ${dir}/.done to retrain)"
    else
      log "Stage ${stage}: training ${config} on data/${train} -> ${dir}"
      # accent.bin.launch starts ngpu x num_nodes processes (srun in a Slurm job, else torchrun)
      $cuda_cmd ${job_opts} ${dir}/log/train.log \
        python -m accent.bin.launch --ngpu ${ngpu} --num-nodes ${num_nodes} -- \
        python -m accent.bin.train --config ${config} --train-data data/${train} --dev-data data/${dev} \
          --cmvn data/${train}/cmvn.ark --exp-dir ${dir} --resume ${train_opts}
    fi
    log "Stage ${stage}: ${dir}: $(best_dev ${dir})"
  done
}

# The data options of accent.bin.score: $1 training, $2 dev, $3 test data dir (optional; scored only when
# its labels are known). The embedding plots (and the training subsample they show) cost more than the
# scoring: plots=false leaves them out.
score_sets() {
  local sets="--data dev=$2"
  [ -n "${3:-}" ] && [ -f $3/utt2accent ] && sets="${sets} --data test=$3"
  if ${plots}; then sets="${sets} --embed-data train=$1"; else sets="${sets} --no-plots"; fi
  echo "${sets}"
}

# Score experiments: $1 the data options (score_sets), then the experiment directories.
score_experiments() {
  local sets=$1 dir
  shift
  for dir in "$@"; do
    $cuda_cmd --gpu $(( ngpu > 0 ? 1 : 0 )) ${dir}/log/score.log \
      python -m accent.bin.score --exp-dir ${dir} ${sets} ${score_opts}
  done
}

# The file accent.bin.export writes for a format (accent.export.FILENAMES); none known: always exported.
export_file() { case $1 in torchscript) echo model.torchscript.pt ;; onnx) echo model.onnx ;;
  torchscript_wav) echo model_wav.torchscript.pt ;; onnx_wav) echo model_wav.onnx ;; *) echo "" ;; esac; }
# Export experiments for inference: $1 stage, $2 the formats ("torchscript onnx"), then the experiment
# directories, each to <dir>/export/. A file is written under a temporary name and renamed when the
# parity check passed, so files newer than the experiment's .done mean a finished export.
export_experiments() {
  local stage=$1 formats=$2 dir fmt file fresh
  shift 2
  for dir in "$@"; do
    fresh=true
    for fmt in ${formats}; do
      file=$(export_file ${fmt})
      { [ -n "${file}" ] && [ ${dir}/export/${file} -nt ${dir}/.done ]; } || fresh=false
    done
    if ${fresh}; then log "Stage ${stage}: ${dir}/export is up to date"; continue; fi
    $train_cmd ${dir}/log/export.log \
      python -m accent.bin.export --exp-dir ${dir} --out-dir ${dir}/export --format ${formats}
  done
}
