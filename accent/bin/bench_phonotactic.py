"""Choose the phonotactic system's decodings on training speakers: speaker-grouped cross-validation
of the phone n-gram classifier for each set of pocketsphinx language weights.

    python -m accent.bin.bench_phonotactic --data exp/bench_real/seed0/data/{train,dev} \\
        --systems 2 0.5 1 "2 0.5" "2 1" --rate-scales 0 0.3 --folds 5 --repeats 3

The data dirs (wav.scp, utt2accent, utt2spk) are pooled; a decoding missing from one
(text.phone_rec_lw<W>) is written there first.  Each system is measured with each speaking-rate
weight of --rate-scales (0: phone n-grams alone).  Give training speakers only: the figures are for
choosing, so no test speaker belongs in them.  Prints mean ± sd over the repeats.  Each fold picks
its own C by an inner grouped CV: on SAA-dev's 150 speakers, 3 systems x 3 repeats took 28 CPU-min.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.phonotactic.classifier import RATE_SCALE
from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, nargs="+", required=True, help="data dirs of training speakers, pooled")
    p.add_argument("--systems", nargs="+", default=["2", "0.5", "2 0.5"],
                   help='language-weight sets, one quoted list each (e.g. "2 0.5")')
    p.add_argument("--rate-scales", type=float, nargs="+", default=[RATE_SCALE],
                   help="weights of the speaking-rate columns (0: none); every system with each")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3, help="shuffles of the speakers into folds")
    p.add_argument("--nj", type=int, default=1, help="recogniser processes, for decodings not yet written")
    args = p.parse_args()
    from accent.evaluation.real_benchmark import mean_sd
    from accent.phonotactic.cross_validation import compare_weights, pooled_decodings

    systems = [tuple(float(w) for w in s.split()) for s in args.systems]
    weights = sorted({w for s in systems for w in s})
    streams, utt2accent, utt2spk, utt2dur = pooled_decodings(args.data, weights, args.nj)
    results = compare_weights(streams, systems, utt2accent, utt2spk, args.folds, args.repeats, utt2dur,
                              args.rate_scales)
    print(f"{len(utt2accent)} utterances, {len(set(utt2spk.values()))} speakers, {args.folds} speaker folds x "
          f"{args.repeats} repeats\n\n"
          "| language weights, speaking-rate weight | per segment | per speaker |\n|---|--:|--:|")
    for name, r in results.items():
        print(f"| {name} | {mean_sd([100 * x for x in r.segment])} | {mean_sd([100 * x for x in r.speaker])} |")


if __name__ == "__main__":
    run(main)
