#!/usr/bin/env bash
# L2-ARCTIC accent (L1) recognition in speaker-disjoint folds: data preparation through lhotse
# (stage 1), FBank and the folds' data dirs (2), training (3), scoring per fold and pooled over the
# folds (4), export (5).  Without --l2arctic-root, stage 0 makes a tiny demo corpus in the real layout.
#
#   ./run.sh                                  the demo, all folds
#   ./run.sh --l2arctic-root /data/l2arctic   (holds ABA/ ... TLV/)
#   ./run.sh --folds "1"                      one fold
#
# Fold k tests the k-th speaker of each of the 6 L1s (speakers in name order), develops on the next
# and trains on the other two; over the 4 folds every speaker is tested once.  A fold's speaker
# accuracy is over 6 test speakers (one speaker = 16.7 points); the pooled one (stage 4,
# exp/<name>_folds.md) over all 24 (4.2 points).  See README.md.
set -euo pipefail

stage=0
stop_stage=100
nj=4
cmd_backend=${cmd_backend:-local}

l2arctic_root=            # empty: the demo corpus (stage 0)
folds="1 2 3 4"
skip_bad=false            # true: leave bad files out (listed in data/all/bad_utts) instead of stopping
fbank_config=conf/fbank.yaml

demo_dir=downloads/demo
demo_seed=0
demo_utts_per_speaker=5

accent_configs=default    # default: conf/demo_ecapa.yaml on the demo, conf/real/ecapa_c128.yaml on real data
ngpu=1
num_nodes=1
train_threads=1
plots=true
train_opts=
score_opts=
export_formats="torchscript onnx"

. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/recipe_helpers.sh  # log, must_run, fbank_sets, train_configs, score_experiments, export_experiments

demo=false
if [ -z "${l2arctic_root}" ]; then
  demo=true; l2arctic_root=${demo_dir}/l2arctic
  [ "${accent_configs}" = default ] && accent_configs=conf/demo_ecapa.yaml
fi
[ "${accent_configs}" = default ] && accent_configs=conf/real/ecapa_c128.yaml
sample_rate=$(fbank_rate ${fbank_config}); : "${sample_rate:=16000}"
# the experiment directories of configs in every fold: exp/<name>_fold<k>
fold_dirs() { local k; for k in ${folds}; do exp_tag=_fold${k} exp_dirs "$@"; done; }

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ] && ${demo}; then
  log "Stage 0: a demo L2-ARCTIC in ${demo_dir}/l2arctic"
  $train_cmd exp/log/make_demo_corpus.log \
    python -m accent.bin.make_demo_corpus --what l2arctic --out ${demo_dir} --seed ${demo_seed} --num-jobs ${nj} \
      --l2-utts-per-speaker ${demo_utts_per_speaker}
fi

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
  log "Stage 1: ${l2arctic_root} -> data/all (L1 labels from lhotse's speaker table), fold speaker lists"
  settings="${l2arctic_root} ${sample_rate} ${skip_bad}"
  if must_run data/.l2arctic.done "${settings}"; then
    rm -rf data/manifests/l2arctic  # lhotse would reuse stale manifests
    $train_cmd exp/log/prepare_l2arctic.log \
      python -m accent.bin.prepare_l2arctic --corpus-dir "${l2arctic_root}" --out-dir data \
        --manifest-dir data/manifests/l2arctic --sample-rate ${sample_rate} --nj ${nj} $(${skip_bad} && echo --skip-bad)
    echo "${settings}" > data/.l2arctic.done
  fi
fi

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
  log "Stage 2: FBank features of data/all (${fbank_config}), the folds' data dirs and CMVN statistics"
  fbank_sets ${fbank_config} all
  for k in ${folds}; do
    settings="$(fingerprint data/all/feats.scp data/local/fold${k}/*.spk)"
    if must_run data/fold${k}/.done "${settings}"; then
      for x in train dev test; do
        rm -rf data/fold${k}/${x}
        utils/subset_data_dir.sh --spk-list data/local/fold${k}/${x}.spk data/all data/fold${k}/${x}
      done
      echo "${settings}" > data/fold${k}/.done
    fi
    cmvn_stats fold${k}/train
  done
fi

if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
  for k in ${folds}; do
    log "Stage 3: fold ${k}: accent models on data/fold${k}/train: ${accent_configs}"
    exp_tag=_fold${k} train_configs 3 fold${k}/train fold${k}/dev ${accent_configs}
  done
fi

if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ]; then
  for k in ${folds}; do
    log "Stage 4: fold ${k}: scoring on its dev and test speakers"
    score_experiments "$(score_sets data/fold${k}/train data/fold${k}/dev data/fold${k}/test)" \
      $(exp_tag=_fold${k} exp_dirs ${accent_configs})
  done
  python -m accent.bin.collect_results --out RESULTS.md $(fold_dirs ${accent_configs})
  for config in ${accent_configs}; do
    log "Stage 4: $(exp_name ${config}): test accuracy per fold and pooled over the folds"
    python -m accent.bin.pool_folds --out exp/$(exp_name ${config})_folds.md $(fold_dirs ${config})
  done
fi

if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 5 ]; then
  log "Stage 5: export for inference (${export_formats})"
  export_experiments 5 "${export_formats}" $(fold_dirs ${accent_configs})
fi

log "Done."
