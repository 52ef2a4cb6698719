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
aesrc_test_spk_list=     # or: test speakers held out of the corpus tree, '<ACC>-<SPK>' lines (e.g. SAA-dev's lists/test_spk.txt)
dev_spk_list=local/aesrc2020_dev_spk.list
accents=                 # comma-separated subset of accent codes (default: all found)
librispeech_root=
librispeech_train_parts="train-clean-100"
librispeech_dev_parts="dev-clean"
skip_bad=false           # true: leave bad files out (listed in data/<set>/bad_utts) instead of stopping
convert_audio=false      # true: resample/down-mix audio that is not 16 kHz mono, with sox
speed_perturb=false      # true: train the accent models on data/train_sp (speeds 0.9, 1.0, 1.1)

fbank_config=conf/fbank.yaml
sample_rate=             # Hz of every stage, e.g. 8000 (default: the fbank config's); see "Sample rate" in the README
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

# stages 4-5: ASR pretraining and accent training (configs under conf/, one exp/<name> each).
# The config lists are "default" (the preset's), "none" or "" (nothing), or config paths.
preset=                  # demo | paper | real: the default lists (default: demo on the demo corpora, else paper)
asr_config=default       # stage 4 config(s); demo: conf/demo/asr_jasper.yaml; paper: the Jasper + 3 Transformer AMs
asr_finetune_config=default  # stage 4, second step on LibriSpeech + data/<train_set> (the hybrid's trainable AM); paper: conf/asr_jasper_ft.yaml
accent_configs=default   # stage 5 configs; demo: the demo ladder; paper: every paper row; real: conf/real/*.yaml
allow_demo_asr=false     # true: train asr_init/mtl/hybrid on the demo LibriSpeech even with a real accent corpus
ngpu=1                   # GPUs per node of a training job; > 1: data-parallel (DDP), one process per GPU
num_nodes=1              # nodes per training job (> 1: DDP across nodes, on Slurm; see README "Distributed training")
train_threads=1          # CPU threads of a training job ($cuda_cmd --num-threads; torch uses as many)
plots=true               # stage 6: t-SNE/PCA embedding plots (false: scores only, much faster)
phonotactic=             # true: also the phonotactic system (pocketsphinx phones + n-gram LR), fused with
                         # each accent model in stage 6 (default: true with --preset real, else false)
phone_lw="2 0.5"         # the phonotactic system's decodings: one per pocketsphinx language weight
phone_rate=1             # weight of its speaking-rate columns (recognised phones per second; 0: none)
refit=                   # true: the final systems trained again on every labelled speaker (data/<train_set> + dev):
                         # exp/<name>_refit, exp/phonotactic_refit, scored on test, fused with the dev-chosen weights
                         # (default: true with --preset real, else false)
train_opts=              # extra accent.bin.train options, e.g. "--device cpu --num-threads 1"
score_opts=              # extra accent.bin.score options (stage 6), e.g. "--device cpu --max-embed-utts 1000"

help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj 4] [--aesrc-root DIR] [--librispeech-root DIR] [--preset demo|paper|real] [--sample-rate HZ] [--plots true|false] [--cmd-backend local|slurm|sge] ..."

. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/recipe_helpers.sh  # log, must_run, fingerprint; train_configs, score_experiments, export_experiments

real_aesrc=true; [ -z "${aesrc_root}" ] && real_aesrc=false
real_libri=true; [ -z "${librispeech_root}" ] && real_libri=false
if ! ${real_aesrc}; then
  aesrc_root=${demo_dir}/aesrc2020
  dev_spk_list=${demo_dir}/aesrc2020/dev_spk.list
  aesrc_test_dir=${demo_dir}/aesrc2020/AESRC2020-TESTSET
  aesrc_test_labels=${demo_dir}/aesrc2020/test_labels.txt
fi
[ -z "${librispeech_root}" ] && librispeech_root=${demo_dir}/LibriSpeech
aesrc_sets="train dev"
[ -n "${aesrc_test_dir}${aesrc_test_spk_list}" ] && aesrc_sets="${aesrc_sets} test"
train_set=train
${speed_perturb} && train_set=train_sp

# One sample rate for every stage: --sample-rate goes into a copy of the fbank config (which the
# features, the checkpoints and accent-id follow), stage 1 checks the accent audio against it and
# resamples LibriSpeech (16 kHz) to it.
if [ -n "${sample_rate}" ] && [ "$(fbank_rate ${fbank_config})" != "${sample_rate}" ]; then
  mkdir -p data/conf
  { grep -v '^sample_rate:' ${fbank_config}; echo "sample_rate: ${sample_rate}  # run.sh --sample-rate"; } \
    > data/conf/fbank.yaml.tmp
  mv data/conf/fbank.yaml.tmp data/conf/fbank.yaml
  fbank_config=data/conf/fbank.yaml
  log "--sample-rate ${sample_rate}: FBank options in ${fbank_config}"
fi
sample_rate=$(fbank_rate ${fbank_config})
: "${sample_rate:=16000}"  # FbankConfig's default

# The config lists of the preset; "default" takes them, "none" (or "") empties a list.
[ -z "${preset}" ] && { ${real_aesrc} && preset=paper || preset=demo; }
case ${preset} in
  demo)
    preset_asr="conf/demo/asr_jasper.yaml"; preset_ft=""
    preset_accent="conf/demo/hybrid/scratch.yaml conf/demo/hybrid/asr_init.yaml conf/demo/hybrid/mtl.yaml conf/demo/hybrid/hybrid.yaml conf/demo/sarnet_circle.yaml conf/demo/baseline_transformer.yaml" ;;
  paper)
    # paper size: the Jasper AM of the hybrid system and the baseline Transformers' encoders
    preset_asr="conf/asr_jasper.yaml conf/asr_transformer_l3.yaml conf/asr_transformer_l6.yaml conf/asr_transformer_l12.yaml"
    preset_ft="conf/asr_jasper_ft.yaml"
    preset_accent=$(ls conf/baseline/*.yaml conf/sarnet/*.yaml conf/hybrid/*.yaml | grep -v '/base\.yaml$' | tr '\n' ' ') ;;
  real)
    # conf/real/: asr_*.yaml (asr_*_ft.yaml: the fine-tune step), the accent configs; base*.yaml are only inherited
    preset_asr=$(ls conf/real/asr_*.yaml 2>/dev/null | grep -v '_ft\.yaml$' | tr '\n' ' ' || true)
    preset_ft=$(ls conf/real/asr_*_ft.yaml 2>/dev/null | tr '\n' ' ' || true)
    preset_accent=$(ls conf/real/*.yaml 2>/dev/null | grep -v -e '/asr_[^/]*\.yaml$' -e '/base[^/]*\.yaml$' | tr '\n' ' ' || true)
    if [ -z "${preset_accent}" ]; then
      echo "$0: --preset real: conf/real/ holds no accent configs (see conf/real/README.md)" >&2; exit 1
    fi ;;
  *) echo "$0: --preset ${preset}: expected demo, paper or real" >&2; exit 1 ;;
esac
config_list() { case "$1" in default) echo "$2" ;; none) echo "" ;; *) echo "$1" ;; esac; }
[ -z "${phonotactic}" ] && { [ "${preset}" = real ] && phonotactic=true || phonotactic=false; }
[ -z "${refit}" ] && { [ "${preset}" = real ] && refit=true || refit=false; }
preset_lists=false; [ "${accent_configs}" = default ] && preset_lists=true
asr_config=$(config_list "${asr_config}" "${preset_asr}")
asr_finetune_config=$(config_list "${asr_finetune_config}" "${preset_ft}")
accent_configs=$(config_list "${accent_configs}" "${preset_accent}")

# A real accent corpus with the demo LibriSpeech: stage 4 would train the AMs on synthetic speech
# and asr_init/mtl/hybrid would start from them. Off unless asked for.
if ${real_aesrc} && ! ${real_libri}; then
  log "WARNING: a real accent corpus (${aesrc_root}) but no --librispeech-root: the ASR pretraining would use the"
  log "WARNING: synthetic demo LibriSpeech (espeak-ng speech in ${demo_dir}/LibriSpeech), a meaningless acoustic model."
  if ${allow_demo_asr}; then
    log "WARNING: --allow-demo-asr true: training stage 4 and the asr_init/mtl/hybrid configs on it anyway"
  else
    log "WARNING: leaving out stage 4 and the asr_init/mtl/hybrid configs; give --librispeech-root DIR (or --allow-demo-asr true)"
    asr_config=; asr_finetune_config=
    if [ -n "${accent_configs}" ]; then
      accent_configs=$(python -m accent.bin.select_configs --without-asr ${accent_configs} | tr '\n' ' ')
    fi
    use_libri=false  # nothing left needs LibriSpeech: no demo copy is made or prepared
  fi
fi
: "${use_libri:=true}"
all_sets="${aesrc_sets}"
${use_libri} && all_sets="${all_sets} libri_train libri_dev"
[ "${train_set}" != train ] && all_sets="${all_sets} ${train_set}"
if [ ${stop_stage} -ge 4 ] && [ ${stage} -le 5 ]; then
  n_asr=$(echo ${asr_config} ${asr_finetune_config} | wc -w); n_acc=$(echo ${accent_configs} | wc -w)
  log "Preset ${preset}: ${n_asr} ASR config(s) (stage 4), ${n_acc} accent config(s) (stage 5): ${accent_configs}"
  if ${refit}; then
    log "--refit true: each accent config trains twice, on data/${train_set} (choices on dev) and on it + dev"
  fi
  if [ "${preset}" = paper ] && ${real_aesrc} && ${preset_lists}; then
    log "WARNING: preset paper trains every row of the papers' tables (${n_asr} AMs on LibriSpeech, ${n_acc} accent"
    log "WARNING: models, 30-100 epochs each): days of GPU time, weeks on CPU. --preset real trains the recommended"
    log "WARNING: real-data set (conf/real/); --accent-configs picks others."
  fi
fi

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ]; then
  if ! ${real_aesrc} || { ${use_libri} && ! ${real_libri}; }; then
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
  # the same bad-input options and sample rate for both corpora
  input_opts=(--sample-rate ${sample_rate})
  ${skip_bad} && input_opts+=(--skip-bad)
  ${convert_audio} && input_opts+=(--convert-audio)
  opts=("${input_opts[@]}")
  [ -n "${accents}" ] && opts+=(--accents "${accents}")
  [ -n "${aesrc_test_dir}" ] && opts+=(--test-dir "${aesrc_test_dir}")
  [ -n "${aesrc_test_labels}" ] && opts+=(--test-labels "${aesrc_test_labels}")
  [ -n "${aesrc_test_spk_list}" ] && opts+=(--test-spk-list "${aesrc_test_spk_list}")
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
  if ${use_libri} && must_run data/.librispeech.done "${settings}"; then
    lopts=("${input_opts[@]}")
    if [ "${sample_rate}" != 16000 ] && ! ${convert_audio}; then
      # LibriSpeech is 16 kHz mono: another rate resamples it with sox pipes in wav.scp
      log "Stage 1: LibriSpeech (16 kHz) resampled to ${sample_rate} Hz by sox pipes in wav.scp"
      lopts+=(--convert-audio)
    fi
    rm -rf data/manifests/librispeech  # lhotse would reuse stale manifests
    $train_cmd exp/log/prepare_librispeech.log \
      python -m accent.bin.prepare_librispeech --corpus-dir "${librispeech_root}" --out-dir data \
        --manifest-dir data/manifests/librispeech --nj ${nj} --parts "${parts[@]}" "${lopts[@]}"
    echo "${settings}" > data/.librispeech.done
  fi
  if ${speed_perturb} && must_run data/train_sp/.done "$(fingerprint data/train/wav.scp)"; then
    $train_cmd exp/log/perturb_data_dir_speed.log utils/perturb_data_dir_speed.sh data/train data/train_sp
    fingerprint data/train/wav.scp > data/train_sp/.done
  fi
fi

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
  log "Stage 2: FBank features (${fbank_config}) and CMVN statistics"
  fbank_sets ${fbank_config} ${all_sets}
  cmvn_stats ${train_set} $(${use_libri} && echo libri_train)
fi

ctc_units=true  # stage 3 is for the CTC branches: skipped when no config trains one
if [ -z "${asr_config}${asr_finetune_config}" ] && \
   [ -z "$(python -m accent.bin.select_configs --with-ctc ${accent_configs} 2>/dev/null)" ]; then
  ctc_units=false
fi
if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ] && ! ${ctc_units}; then
  log "Stage 3: no config trains on CTC units (phones, BPE): nothing to do"
elif [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
  log "Stage 3: G2P (39 ARPAbet phones + blank) -> data/lang_phn, BPE ${bpe_size} -> data/lang_bpe_${bpe_size}"
  dirs=()
  for x in ${all_sets}; do dirs+=(data/${x}); done
  $train_cmd exp/log/prepare_lang_phn.log \
    python -m accent.bin.prepare_lang_phn --lang-dir data/lang_phn "${dirs[@]}"
  $train_cmd exp/log/train_bpe.log \
    python -m accent.bin.train_bpe --vocab-size ${bpe_size} --lang-dir data/lang_bpe_${bpe_size} data/train $(${use_libri} && echo data/libri_train)
fi

if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ]; then
  if [ -z "${asr_config}${asr_finetune_config}" ]; then
    log "Stage 4: no ASR config, nothing to pretrain"
  else
    log "Stage 4: phone-CTC ASR pretraining on data/libri_train"
  fi
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
  dirs=($(exp_dirs ${accent_configs}))
  if [ ${#dirs[@]} -gt 0 ]; then
    log "Stage 5: dev accuracy (best epoch) per experiment"
    python -m accent.bin.show_results "${dirs[@]}"
  fi
  if ${phonotactic}; then
    # the phonotactic system: what a real-speech English phone recogniser hears, as phone n-grams
    phon_sets="${train_set} dev"; [ -f data/test/utt2accent ] && phon_sets="${phon_sets} test"
    for x in ${phon_sets}; do
      settings="$(fingerprint data/${x}/wav.scp) lw ${phone_lw}"
      must_run data/${x}/.phone_rec.done "${settings}" || continue
      $train_cmd --num-threads ${nj} exp/log/decode_phones_${x}.log \
        python -m accent.bin.decode_phones --nj ${nj} data/${x} --language-weights ${phone_lw}
      echo "${settings}" > data/${x}/.phone_rec.done
    done
    phone_files=$(printf 'text.phone_rec_lw%g ' ${phone_lw})  # as decode_phones names them
    settings="$(for x in ${phon_sets}; do for f in ${phone_files} utt2dur; do fingerprint data/${x}/${f}; done; done) rate ${phone_rate}"
    if must_run exp/phonotactic/.done "${settings}"; then
      log "Stage 5: phonotactic accent classifier on ${phone_files}of data/${train_set} -> exp/phonotactic"
      phon_data=""; for x in ${phon_sets}; do [ ${x} != ${train_set} ] && phon_data="${phon_data} --data ${x}=data/${x}"; done
      $train_cmd exp/phonotactic/log/train.log \
        python -m accent.bin.train_phonotactic --train-data data/${train_set} --exp-dir exp/phonotactic \
          --language-weights ${phone_lw} --rate-scale ${phone_rate} ${phon_data}
      echo "${settings}" > exp/phonotactic/.done
    fi
  fi
  if ${refit}; then
    # every choice (configs, epochs, fusion weights) was made on dev above; the final systems train
    # on dev's speakers too (README "Real corpora": more speakers is what a small corpus lacks most)
    refit_set=${train_set}_dev
    phone_files=$(printf 'text.phone_rec_lw%g ' ${phone_lw})
    extra=""; ${phonotactic} && extra=${phone_files}
    settings="$(for x in ${train_set} dev; do fingerprint data/${x}/utt2spk data/${x}/feats.scp; done) ${extra}"
    if must_run data/${refit_set}/.done "${settings}"; then
      utils/combine_data.sh --extra-files "${extra}" data/${refit_set} data/${train_set} data/dev
      cp data/${train_set}/accents data/${refit_set}/accents
      echo "${settings}" > data/${refit_set}/.done
    fi
    cmvn_stats ${refit_set}
    log "Stage 5: refit on data/${refit_set} (dev is among its speakers: its accuracy there means nothing)"
    exp_tag=_refit train_configs 5 ${refit_set} dev ${accent_configs}
    if ${phonotactic}; then
      refit_data=""; [ -f data/test/utt2accent ] && refit_data="--data test=data/test"
      settings="$(for f in ${phone_files} utt2dur; do fingerprint data/${refit_set}/${f}; done) rate ${phone_rate} ${refit_data}"
      if must_run exp/phonotactic_refit/.done "${settings}"; then
        $train_cmd exp/phonotactic_refit/log/train.log \
          python -m accent.bin.train_phonotactic --train-data data/${refit_set} --exp-dir exp/phonotactic_refit \
            --language-weights ${phone_lw} --rate-scale ${phone_rate} ${refit_data}
        echo "${settings}" > exp/phonotactic_refit/.done
      fi
    fi
  fi
fi

if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ]; then
  log "Stage 6: scoring (per-accent accuracy, confusion matrices, embedding plots, training curves)"
  dirs=($(exp_dirs ${accent_configs}))
  # dev, test when its labels are known, and (--plots true) a training subsample for the plots
  score_experiments "$(score_sets data/${train_set} data/dev data/test)" "${dirs[@]}"
  if ${phonotactic} && [ ${#dirs[@]} -gt 0 ]; then
    # each accent model fused with the phonotactic system (its weight chosen on dev)
    fuse_sets=dev; [ -f data/test/utt2accent ] && fuse_sets="dev test"
    for dir in "${dirs[@]}"; do
      python -m accent.bin.fuse ${dir} exp/phonotactic --out-dir ${dir}_prlm_fusion --sets ${fuse_sets}
    done
    fused=()
    if [ ${#dirs[@]} -gt 1 ]; then  # and all of them together, in the order of --accent-configs
      python -m accent.bin.fuse "${dirs[@]}" exp/phonotactic --out-dir exp/fusion --sets ${fuse_sets}
      fused=(exp/fusion)
    fi
    dirs=(exp/phonotactic "${dirs[@]}" "${dirs[@]/%/_prlm_fusion}" "${fused[@]}")
  fi
  if ${refit}; then
    refit_dirs=($(exp_tag=_refit exp_dirs ${accent_configs}))
    if [ -f data/test/wav.scp ] && [ ${#refit_dirs[@]} -gt 0 ]; then
      # test only: dev's speakers are training speakers of the refitted systems
      score_experiments "--data test=data/test --no-plots" "${refit_dirs[@]}"
      if ${phonotactic} && [ -f data/test/utt2accent ]; then
        fused=()
        for dir in "${refit_dirs[@]}"; do  # with the weights their dev-split versions chose
          python -m accent.bin.fuse ${dir} exp/phonotactic_refit --out-dir ${dir}_prlm_fusion --sets test \
            --weights-from ${dir%_refit}_prlm_fusion
        done
        if [ ${#refit_dirs[@]} -gt 1 ]; then
          python -m accent.bin.fuse "${refit_dirs[@]}" exp/phonotactic_refit --out-dir exp/fusion_refit --sets test \
            --weights-from exp/fusion
          fused=(exp/fusion_refit)
        fi
        refit_dirs=(exp/phonotactic_refit "${refit_dirs[@]}" "${refit_dirs[@]/%/_prlm_fusion}" "${fused[@]}")
      fi
      dirs+=("${refit_dirs[@]}")
    else
      log "Stage 6: --refit true: no test set to score the refitted systems on"
    fi
  fi
  # RESULTS.md keeps the rows of experiments scored by earlier calls
  [ ${#dirs[@]} -gt 0 ] && python -m accent.bin.collect_results --out RESULTS.md "${dirs[@]}"
  log "Stage 6: RESULTS.md; per experiment exp/<name>/results.md, decode_<set>/confusion.png, plots/*.png"
fi

if [ ${stage} -le 7 ] && [ ${stop_stage} -ge 7 ]; then
  log "Stage 7: export for inference (TorchScript + ONNX, features in; ONNX, waveform in; checked against PyTorch to 1e-4)"
  export_experiments 7 "torchscript onnx onnx_wav" $(exp_dirs ${accent_configs}) \
    $(${refit} && exp_tag=_refit exp_dirs ${accent_configs})
  log "Stage 7: try it: accent-id --model exp/<name>/export/model_wav.onnx some.wav"
fi

log "Done."
