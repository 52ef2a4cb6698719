#!/usr/bin/env bash
# AESRC2020 accent recognition: data preparation, features, G2P (stages 0-3), phone-CTC ASR
# pretraining (stage 4), accent training (stage 5), scoring (stage 6) and export (stage 7).
#
#   ./run.sh                                   the whole recipe on the offline demo corpora
#   ./run.sh --aesrc-root /data/AESRC2020 --librispeech-root /data/LibriSpeech
#   ./run.sh --stage 2 --stop-stage 3          only some stages
#   cmd_backend=slurm ./run.sh ...             jobs through Slurm (see cmd.sh)
set -euo pipefail

stage=0
stop_stage=100
nj=4
cmd_backend=${cmd_backend:-local}

# corpora: leave the roots empty to generate and use the demo corpora (stage 0)
aesrc_root=
aesrc_test_dir=          # flat folder of AESRC2020-TESTSET-NNNNN.wav (optional)
aesrc_test_labels=       # '<utt> <ACCENT>' lines for the test set (optional)
dev_spk_list=local/aesrc2020_dev_spk.list
accents=                 # comma-separated subset of accent codes (default: all found)
librispeech_root=
librispeech_train_parts="train-clean-100"
librispeech_dev_parts="dev-clean"
skip_bad=false           # true: leave bad files out (listed in data/<set>/bad_utts) instead of stopping
convert_audio=false      # true: resample/down-mix audio that is not 16 kHz mono, with sox
speed_perturb=false      # true: train the accent models on data/train_sp (speeds 0.9, 1.0, 1.1)

fbank_config=conf/fbank.yaml
bpe_size=300

# demo corpora (stage 0)
demo_dir=downloads/demo
demo_seed=0
demo_speakers_per_accent=12
demo_utts_per_speaker=25
demo_dev_speakers_per_accent=2
demo_test_utts=40
demo_libri_train_speakers=20
demo_libri_train_utts=30
demo_libri_dev_speakers=5
demo_libri_dev_utts=10

# stages 4-5: ASR pretraining and accent training (configs under conf/, one exp/<name> each)
asr_config=              # stage 4 config(s); default: conf/demo/asr_jasper.yaml on the demo corpora, else conf/asr_jasper.yaml
asr_finetune_config=     # stage 4, second step on LibriSpeech + data/<train_set> (the hybrid's trainable AM); default: none on the demo corpora, else conf/asr_jasper_ft.yaml
accent_configs=          # stage 5 configs; default: the demo ladder on the demo corpora, else every paper row
ngpu=1                   # GPUs per node of a training job; > 1: data-parallel (DDP), one process per GPU
num_nodes=1              # nodes per training job (> 1: DDP across nodes, on Slurm; see README "Distributed training")
train_opts=              # extra accent.bin.train options, e.g. "--device cpu --num-threads 1"
score_opts=              # extra accent.bin.score options (stage 6), e.g. "--device cpu --max-embed-utts 1000"

help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj 4] [--aesrc-root DIR] [--librispeech-root DIR] [--cmd-backend local|slurm|sge] ..."

. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/recipe_helpers.sh  # log, is_done, must_run, fingerprint, best_dev

if [ -z "${aesrc_root}" ]; then
  aesrc_root=${demo_dir}/aesrc2020
  dev_spk_list=${demo_dir}/aesrc2020/dev_spk.list
  aesrc_test_dir=${demo_dir}/aesrc2020/AESRC2020-TESTSET
  aesrc_test_labels=${demo_dir}/aesrc2020/test_labels.txt
fi
[ -z "${librispeech_root}" ] && librispeech_root=${demo_dir}/LibriSpeech
aesrc_sets="train dev"
[ -n "${aesrc_test_dir}" ] && aesrc_sets="${aesrc_sets} test"
train_set=train
${speed_perturb} && train_set=train_sp
all_sets="${aesrc_sets} libri_train libri_dev"
[ "${train_set}" != train ] && all_sets="${all_sets} ${train_set}"

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ]; then
  if [ "${aesrc_root}" = "${demo_dir}/aesrc2020" ] || [ "${librispeech_root}" = "${demo_dir}/LibriSpeech" ]; then
    log "Stage 0: generating the offline demo corpora in ${demo_dir}"
    # the generator renames a finished corpus into place, so a rerun finds it and does nothing
    $train_cmd exp/log/make_demo_corpus.log \
      python -m accent.bin.make_demo_corpus --out "${demo_dir}" --seed ${demo_seed} --num-jobs ${nj} \
        --speakers-per-accent ${demo_speakers_per_accent} --utts-per-speaker ${demo_utts_per_speaker} \
        --dev-speakers-per-accent ${demo_dev_speakers_per_accent} --test-utts ${demo_test_utts} \
        --libri-train-speakers ${demo_libri_train_speakers} --libri-train-utts ${demo_libri_train_utts} \
        --libri-dev-speakers ${demo_libri_dev_speakers} --libri-dev-utts ${demo_libri_dev_utts}
  else
    log "Stage 0: real corpora given, nothing to generate"
  fi
fi

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
  log "Stage 1: data preparation -> data/{${all_sets// /,}}"
  mkdir -p data
  # the same bad-input options for both corpora
  input_opts=()
  ${skip_bad} && input_opts+=(--skip-bad)
  ${convert_audio} && input_opts+=(--convert-audio)
  opts=("${input_opts[@]}")
  [ -n "${accents}" ] && opts+=(--accents "${accents}")
  [ -n "${aesrc_test_dir}" ] && opts+=(--test-dir "${aesrc_test_dir}")
  [ -n "${aesrc_test_labels}" ] && opts+=(--test-labels "${aesrc_test_labels}")
  settings="${aesrc_root} ${dev_spk_list} ${opts[*]}"
  if must_run data/.aesrc.done "${settings}"; then
    $train_cmd exp/log/prepare_aesrc.log \
      python -m accent.bin.prepare_aesrc --corpus-dir "${aesrc_root}" --dev-spk-list "${dev_spk_list}" \
        --out-dir data --nj ${nj} "${opts[@]}"
    echo "${settings}" > data/.aesrc.done
  fi
  parts=()
  for p in ${librispeech_train_parts}; do parts+=("${p}=libri_train"); done
  for p in ${librispeech_dev_parts}; do parts+=("${p}=libri_dev"); done
  settings="${librispeech_root} ${parts[*]} ${input_opts[*]}"
  if must_run data/.librispeech.done "${settings}"; then
    rm -rf data/manifests/librispeech  # lhotse would reuse stale manifests
    $train_cmd exp/log/prepare_librispeech.log \
      python -m accent.bin.prepare_librispeech --corpus-dir "${librispeech_root}" --out-dir data \
        --manifest-dir data/manifests/librispeech --nj ${nj} --parts "${parts[@]}" "${input_opts[@]}"
    echo "${settings}" > data/.librispeech.done
  fi
  if ${speed_perturb} && must_run data/train_sp/.done "$(fingerprint data/train/wav.scp)"; then
    $train_cmd exp/log/perturb_data_dir_speed.log utils/perturb_data_dir_speed.sh data/train data/train_sp
    fingerprint data/train/wav.scp > data/train_sp/.done
  fi
fi

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
  log "Stage 2: FBank features (${fbank_config}) and CMVN statistics"
  for x in ${all_sets}; do
    settings="$(fingerprint data/${x}/wav.scp) $(fingerprint ${fbank_config})"
    must_run data/${x}/.fbank.done "${settings}" || continue
    utils/make_fbank.sh --cmd "${train_cmd}" --nj ${nj} --fbank-config ${fbank_config} \
      data/${x} exp/make_fbank/${x} fbank/${x}
    echo "${settings}" > data/${x}/.fbank.done
  done
  for x in ${train_set} libri_train; do
    # global statistics of the training data; per-utterance CMVN is a training option
    [ data/${x}/cmvn.ark -nt data/${x}/feats.scp ] && continue
    $train_cmd exp/make_fbank/${x}/compute_cmvn_stats.log \
      python -m accent.bin.compute_cmvn_stats data/${x}/feats.scp data/${x}/cmvn.ark
  done
fi

if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
  log "Stage 3: G2P (39 ARPAbet phones + blank) -> data/lang_phn, BPE ${bpe_size} -> data/lang_bpe_${bpe_size}"
  dirs=()
  for x in ${all_sets}; do dirs+=(data/${x}); done
  $train_cmd exp/log/prepare_lang_phn.log \
    python -m accent.bin.prepare_lang_phn --lang-dir data/lang_phn "${dirs[@]}"
  $train_cmd exp/log/train_bpe.log \
    python -m accent.bin.train_bpe --vocab-size ${bpe_size} --lang-dir data/lang_bpe_${bpe_size} data/train data/libri_train
fi

# An experiment's name is its config path under conf/ with '/' -> '_': conf/hybrid/mtl_l0.2.yaml -> hybrid_mtl_l0.2
exp_name() { local p=${1#conf/}; p=${p%.yaml}; echo "${p//\//_}"; }
if [ "${aesrc_root}" = "${demo_dir}/aesrc2020" ]; then
  : "${asr_config:=conf/demo/asr_jasper.yaml}"
  : "${accent_configs:=conf/demo/hybrid/scratch.yaml conf/demo/hybrid/asr_init.yaml conf/demo/hybrid/mtl.yaml conf/demo/hybrid/hybrid.yaml conf/demo/sarnet_circle.yaml conf/demo/baseline_transformer.yaml}"
else
  # paper size: the Jasper AM of the hybrid system and the baseline Transformers' encoders
  : "${asr_config:=conf/asr_jasper.yaml conf/asr_transformer_l3.yaml conf/asr_transformer_l6.yaml conf/asr_transformer_l12.yaml}"
  : "${asr_finetune_config:=conf/asr_jasper_ft.yaml}"
  : "${accent_configs:=$(ls conf/baseline/*.yaml conf/sarnet/*.yaml conf/hybrid/*.yaml | grep -v '/base\.yaml$' | tr '\n' ' ')}"
fi

# Train one experiment per config: $1 stage, $2 training set, $3 dev set, then the configs.
# A finished experiment (exp/<name>/.done) is skipped; a killed one resumes from its last checkpoint.
train_configs() {
  local stage=$1 train=$2 dev=$3 config dir job_opts="--gpu ${ngpu}"
  shift 3
  # --num-nodes only when > 1: a Kaldi config without a num_nodes line serves single-node jobs
  [ ${num_nodes} -gt 1 ] && job_opts="${job_opts} --num-nodes ${num_nodes}"
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

if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ]; then
  log "Stage 4: phone-CTC ASR pretraining on data/libri_train"
  train_configs 4 libri_train libri_dev ${asr_config}
  if [ -n "${asr_finetune_config}" ]; then
    # the hybrid paper's trainable AM: the LibriSpeech AM trained on with LibriSpeech + accented speech
    settings="$(fingerprint data/libri_train/feats.scp data/${train_set}/feats.scp)"
    if must_run data/libri_train_${train_set}/.done "${settings}"; then
      utils/combine_data.sh data/libri_train_${train_set} data/libri_train data/${train_set}
      echo "${settings}" > data/libri_train_${train_set}/.done
    fi
    train_configs 4 libri_train_${train_set} dev ${asr_finetune_config}
  fi
fi

if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 5 ]; then
  log "Stage 5: accent models on data/${train_set}"
  train_configs 5 ${train_set} dev ${accent_configs}
  dirs=()
  for config in ${accent_configs}; do dirs+=(exp/$(exp_name ${config})); done
  log "Stage 5: dev accuracy (best epoch) per experiment"
  python -m accent.bin.show_results "${dirs[@]}"
fi

if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ]; then
  log "Stage 6: scoring (per-accent accuracy, confusion matrices, embedding plots, training curves)"
  sets="--data dev=data/dev"
  # the test set is scored only when its labels are known
  [ -f data/test/utt2accent ] && sets="${sets} --data test=data/test"
  dirs=()
  for config in ${accent_configs}; do
    dir=exp/$(exp_name ${config})
    dirs+=(${dir})
    $cuda_cmd --gpu $(( ngpu > 0 ? 1 : 0 )) ${dir}/log/score.log \
      python -m accent.bin.score --exp-dir ${dir} ${sets} --embed-data train=data/${train_set} ${score_opts}
  done
  python -m accent.bin.collect_results --out RESULTS.md "${dirs[@]}"
  log "Stage 6: RESULTS.md; per experiment exp/<name>/results.md, decode_<set>/confusion.png, plots/*.png"
fi

if [ ${stage} -le 7 ] && [ ${stop_stage} -ge 7 ]; then
  log "Stage 7: export for inference (TorchScript + ONNX, checked against PyTorch to 1e-4)"
  for config in ${accent_configs}; do
    dir=exp/$(exp_name ${config})
    # written under a temporary name, renamed when the parity check passed: files mean finished
    if [ ${dir}/export/model.onnx -nt ${dir}/.done ] && [ -f ${dir}/export/model.torchscript.pt ]; then
      log "Stage 7: ${dir}/export is up to date"; continue
    fi
    $train_cmd ${dir}/log/export.log \
      python -m accent.bin.export --exp-dir ${dir} --out-dir ${dir}/export --format torchscript onnx
  done
  log "Stage 7: try it: accent-id --model exp/<name>/export/model.onnx some.wav"
fi

log "Done."
