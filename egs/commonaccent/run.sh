#!/usr/bin/env bash
# Common Voice English accents, the CommonAccent setup (16 classes, read from validated.tsv), with
# speaker-disjoint train/dev/test: data preparation (stage 1), FBank (2), training (3), scoring (4),
# export (5).  Without --cv-root, stage 0 makes a tiny demo release in the real layout.
#
#   ./run.sh                                         the demo
#   ./run.sh --cv-root /data/cv-corpus-17.0-2024-03-15/en
set -euo pipefail

stage=0
stop_stage=100
nj=4
cmd_backend=${cmd_backend:-local}

cv_root=                  # a release's English folder (validated.tsv, clips/); empty: the demo (stage 0)
accent_map=local/accent_map.tsv   # accent label -> class (see the file)
max_utts_per_speaker=0    # keep at most N clips of a speaker (0: all)
split_seed=0              # the speaker order of the dev/test split
skip_bad=false            # true: leave unreadable clips out (listed in data/<set>/bad_utts) instead of stopping
fbank_config=conf/fbank.yaml

demo_dir=downloads/demo
demo_seed=0
demo_speakers_per_class=4
demo_clips_per_speaker=5

accent_configs=default    # default: conf/demo_ecapa.yaml on the demo, conf/real/ecapa_c128.yaml on real data
ngpu=1                    # GPUs per training job (> 1: DDP)
num_nodes=1
train_threads=1
plots=true                # stage 4: t-SNE/PCA embedding plots
train_opts=
score_opts=
export_formats="torchscript onnx"

. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/recipe_helpers.sh  # log, must_run, fbank_sets, train_configs, score_experiments, export_experiments

if [ -z "${cv_root}" ]; then
  cv_root=${demo_dir}/cv-corpus-demo/en
  [ "${accent_configs}" = default ] && accent_configs=conf/demo_ecapa.yaml
fi
[ "${accent_configs}" = default ] && accent_configs=conf/real/ecapa_c128.yaml
sample_rate=$(fbank_rate ${fbank_config}); : "${sample_rate:=16000}"
dirs=($(exp_dirs ${accent_configs}))

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ] && [ "${cv_root}" = ${demo_dir}/cv-corpus-demo/en ]; then
  log "Stage 0: a demo Common Voice release in ${demo_dir}/cv-corpus-demo"
  $train_cmd exp/log/make_demo_corpus.log \
    python -m accent.bin.make_demo_corpus --what commonvoice --out ${demo_dir} --seed ${demo_seed} --num-jobs ${nj} \
      --cv-speakers-per-class ${demo_speakers_per_class} --cv-clips-per-speaker ${demo_clips_per_speaker}
fi

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
  log "Stage 1: ${cv_root}/validated.tsv -> data/{train,dev,test} (MP3 decoded once to data/audio/clips_${sample_rate})"
  opts=(--accent-map ${accent_map} --sample-rate ${sample_rate} --seed ${split_seed} --max-utts-per-speaker ${max_utts_per_speaker})
  ${skip_bad} && opts+=(--skip-bad)
  settings="${cv_root} ${opts[*]} $(fingerprint ${accent_map})"
  if must_run data/.commonvoice.done "${settings}"; then
    $train_cmd --num-threads ${nj} exp/log/prepare_commonvoice.log \
      python -m accent.bin.prepare_commonvoice --lang-dir "${cv_root}" --out-dir data --audio-dir data/audio --nj ${nj} "${opts[@]}"
    echo "${settings}" > data/.commonvoice.done
  fi
  log "Stage 1: rows kept and left out: data/local/accent_selection.txt"
fi

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
  log "Stage 2: FBank features (${fbank_config}) and CMVN statistics"
  fbank_sets ${fbank_config} train dev test
  cmvn_stats train
fi

if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
  log "Stage 3: accent models on data/train: ${accent_configs}"
  train_configs 3 train dev ${accent_configs}
fi

if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ]; then
  log "Stage 4: scoring on dev and test -> RESULTS.md"
  score_experiments "$(score_sets data/train data/dev data/test)" "${dirs[@]}"
  python -m accent.bin.collect_results --out RESULTS.md "${dirs[@]}"
fi

if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 5 ]; then
  log "Stage 5: export for inference (${export_formats})"
  export_experiments 5 "${export_formats}" "${dirs[@]}"
fi

log "Done."
