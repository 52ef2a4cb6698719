#!/usr/bin/env bash
# The hybrid paper's analyses, after run.sh stages 0-5 (data, features, lang_phn, ASR, accent models):
#   stage 1  speaker probe (Sec. 4.3): a linear speaker classifier on the frozen embeddings of the
#            scratch and MTL models, per-epoch speaker accuracy -> exp/analysis/speaker_probe/
#   stage 2  robustness (Sec. 4.4, Table 3): MTL and hybrid trained on degraded phone transcripts
#            (theta 0, 0.5, 1 and random) -> exp/robust_<variant>_<method>, exp/robustness/table.md
#   stage 3  channel attention (Fig. 7) of the concat_ca hybrid on dev -> exp/analysis/channel_attention/
#
#   ./run_analysis.sh                          on the demo corpora (run.sh's default)
#   ./run_analysis.sh --aesrc-root /data/AESRC2020   the paper-size models of run.sh on real data
#   ./run_analysis.sh --stage 2 --stop-stage 2 --train-opts "--override train.epochs=2"
#
# Robustness: the training transcripts are degraded, dev keeps its original ones.  Every variant's
# units are <blank> + the 39 phones + the broad-class tokens, so the original dev phones are valid
# CTC targets (dev PER then measures the real phones) and the ASR checkpoint's CTC rows are copied.
set -euo pipefail

stage=1
stop_stage=100
cmd_backend=${cmd_backend:-local}
aesrc_root=              # as run.sh: empty = the demo corpora and the demo experiment names
seed=0

# stage 1: speaker probe
probe_models=            # name=checkpoint pairs; default: the scratch and MTL models of run.sh stage 5
probe_epochs=50
probe_valid_fraction=0.2

# stage 2: robustness
variants="0 0.5 1 random"
broad_classes=local/broad_phone_classes.txt
mtl_config=              # default: conf/demo/hybrid/mtl.yaml (demo), conf/hybrid/mtl_l0.1.yaml
hybrid_config=           # default: conf/demo/hybrid/hybrid.yaml (demo), conf/hybrid/hybrid_concat_ca_l0.1.yaml
ngpu=1
train_opts=              # extra accent.bin.train options, e.g. "--device cpu --override train.epochs=2"

# stage 3: channel attention
ca_checkpoint=           # default: the concat_ca hybrid of run.sh stage 5

help_message="Usage: $0 [--stage N] [--stop-stage M] [--aesrc-root DIR] [--probe-models 'a=exp/x/best.pt ...'] ..."

. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/recipe_helpers.sh  # log, is_done, must_run, fingerprint, best_dev

if [ -z "${aesrc_root}" ]; then
  : "${probe_models:=scratch=exp/demo_hybrid_scratch/best.pt mtl=exp/demo_hybrid_mtl/best.pt}"
  : "${mtl_config:=conf/demo/hybrid/mtl.yaml}"
  : "${hybrid_config:=conf/demo/hybrid/hybrid.yaml}"
  : "${ca_checkpoint:=exp/demo_hybrid_hybrid/best.pt}"
else
  : "${probe_models:=scratch=exp/hybrid_scratch/best.pt mtl=exp/hybrid_mtl_l0.1/best.pt}"
  : "${mtl_config:=conf/hybrid/mtl_l0.1.yaml}"
  : "${hybrid_config:=conf/hybrid/hybrid_concat_ca_l0.1.yaml}"
  : "${ca_checkpoint:=exp/hybrid_hybrid_concat_ca_l0.1/best.pt}"
fi

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
  dir=exp/analysis/speaker_probe
  log "Stage 1: speaker probe on data/train (${probe_models}) -> ${dir}"
  ckpts=()
  for m in ${probe_models}; do ckpts+=("${m#*=}"); done
  settings="${probe_models} ${probe_epochs} ${probe_valid_fraction} ${seed} $(fingerprint "${ckpts[@]}" data/train/utt2spk)"
  if must_run ${dir}/.done "${settings}"; then
    $cuda_cmd --gpu ${ngpu} ${dir}/log/speaker_probe.log \
      python -m accent.bin.speaker_probe --data data/train --out-dir ${dir} --epochs ${probe_epochs} \
        --valid-fraction ${probe_valid_fraction} --seed ${seed} ${probe_models}
    echo "${settings}" > ${dir}/.done
  fi
  cat ${dir}/table.md
fi

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
  for v in ${variants}; do
    name=theta${v}
    [ "${v}" = random ] && name=random
    settings="${v} ${seed} $(fingerprint data/train/text.phn data/train/feats.scp ${broad_classes})"
    if must_run data/train_${name}/.degrade.done "${settings}"; then
      log "Stage 2: degraded transcripts (${v}) -> data/train_${name}, data/lang_phn_${name}"
      $train_cmd exp/robustness/log/degrade_${name}.log \
        python -m accent.bin.degrade_transcripts --classes ${broad_classes} --variant ${v} --seed ${seed} \
          data/train data/train_${name} data/lang_phn_${name}
      echo "${settings}" > data/train_${name}/.degrade.done
    fi
    for method in mtl hybrid; do
      config=${mtl_config}
      [ ${method} = hybrid ] && config=${hybrid_config}
      dir=exp/robust_${name}_${method}
      if [ -f ${dir}/.done ]; then
        log "Stage 2: ${dir} is finished (remove ${dir}/.done to retrain)"
      else
        log "Stage 2: training ${config} on data/train_${name} -> ${dir}"
        $cuda_cmd --gpu ${ngpu} ${dir}/log/train.log \
          python -m accent.bin.train --config ${config} --train-data data/train_${name} --dev-data data/dev \
            --lang-dir data/lang_phn_${name} --cmvn data/train/cmvn.ark --exp-dir ${dir} --resume ${train_opts}
      fi
      log "Stage 2: ${dir}: $(best_dev ${dir})"
    done
  done
  log "Stage 2: dev accuracy (%) by transcript variant -> exp/robustness/table.md"
  python -m accent.bin.robustness_table --exp-root exp --variants ${variants} --out exp/robustness/table.md
fi

if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
  dir=exp/analysis/channel_attention
  log "Stage 3: channel attention of ${ca_checkpoint} on data/dev -> ${dir}"
  settings="$(fingerprint ${ca_checkpoint} data/dev/feats.scp)"
  if must_run ${dir}/.done "${settings}"; then
    $cuda_cmd --gpu ${ngpu} ${dir}/log/channel_attention.log \
      python -m accent.bin.channel_attention --checkpoint ${ca_checkpoint} --data data/dev --out-dir ${dir}
    echo "${settings}" > ${dir}/.done
  fi
  cat ${dir}/summary.md
fi

log "Done."
