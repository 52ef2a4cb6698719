"""Data-directory tools behind utils/{validate_data_dir,fix_data_dir,split_data,combine_data,subset_data_dir,
perturb_data_dir_speed}.sh, with Kaldi's options of those scripts."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from accent.data.kaldi_dir import (combine_data_dirs, fix_data_dir, replacing_data_dir, select_utterances,
                                   split_data_dir, subset_data_dir, validate_data_dir)
from accent.data.perturb import speed_perturb_data_dir
from accent.utils.cli import run

log = logging.getLogger("accent")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check files, sorting and consistency")
    v.add_argument("--require", default="wav.scp,utt2spk,spk2utt", help="comma-separated files that must exist")
    # Kaldi's options: files not to require or check; --non-print and --no-spk-sort change nothing here
    v.add_argument("--no-text", action="store_true", help="do not check text")
    v.add_argument("--no-feats", action="store_true", help="do not check feats.scp")
    v.add_argument("--no-wav", action="store_true", help="do not require or check wav.scp")
    v.add_argument("--non-print", action="store_true", help=argparse.SUPPRESS)
    v.add_argument("--no-spk-sort", action="store_true", help=argparse.SUPPRESS)
    v.add_argument("data_dir", type=Path)
    f = sub.add_parser("fix", help="keep utterances present in every file, sort, rebuild spk2utt")
    f.add_argument("--utt-extra-files", default="", help="more per-utterance files to filter (space-separated)")
    f.add_argument("--spk-extra-files", default="", help="per-speaker files to filter (space-separated)")
    f.add_argument("data_dir", type=Path)
    s = sub.add_parser("split", help="split by speaker into data_dir/split<N>/{1..N}")
    s.add_argument("--per-utt", action="store_true", help="split by utterance, into data_dir/split<N>utt/")
    s.add_argument("data_dir", type=Path)
    s.add_argument("num_splits", type=int)
    c = sub.add_parser("combine", help="union of data dirs (files present in every source)")
    c.add_argument("--extra-files", default="", help="more per-utterance files to combine (space-separated)")
    c.add_argument("--skip-fix", choices=("true", "false"), default="false",
                   help="accepted for Kaldi; the result is always validated")
    c.add_argument("dst_dir", type=Path)
    c.add_argument("src_dirs", type=Path, nargs="+")
    ss = sub.add_parser("subset", help="a subset of the utterances (Kaldi's subset_data_dir.sh)")
    how = ss.add_mutually_exclusive_group()
    for name in ("first", "last", "speakers", "per-spk", "shortest"):
        how.add_argument(f"--{name}", dest="how", action="store_const", const=name)
    how.add_argument("--utt-list", type=Path, help="keep the utterances listed in this file")
    how.add_argument("--spk-list", type=Path, help="keep the speakers listed in this file")
    ss.add_argument("args", nargs="+", metavar="<src-dir> [<num-utt>] <dest-dir>")
    sp = sub.add_parser("perturb-speed", help="copies at other speeds (sox), IDs prefixed sp<f>-")
    sp.add_argument("--factors", default="0.9 1.0 1.1", help="speed factors, space- or comma-separated")
    sp.add_argument("src_dir", type=Path)
    sp.add_argument("dst_dir", type=Path)
    args = p.parse_args()
    if args.command == "validate":
        skip = [name for flag, name in ((args.no_text, "text"), (args.no_feats, "feats.scp"), (args.no_wav, "wav.scp"))
                if flag]
        n = validate_data_dir(args.data_dir, require=[x for x in args.require.split(",") if x], skip=skip)
        log.info("%s: valid, %d utterances", args.data_dir, n)
    elif args.command == "fix":
        n = fix_data_dir(args.data_dir, args.utt_extra_files.split(), args.spk_extra_files.split())
        log.info("%s: %d utterances kept", args.data_dir, n)
    elif args.command == "split":
        split_data_dir(args.data_dir, args.num_splits, per_utt=args.per_utt)
    elif args.command == "combine":
        n = combine_data_dirs(args.dst_dir, args.src_dirs, args.extra_files.split())
        log.info("%s: %d utterances from %s", args.dst_dir, n, " ".join(map(str, args.src_dirs)))
    elif args.command == "subset":
        lists = args.utt_list is not None or args.spk_list is not None
        if len(args.args) != (2 if lists else 3):
            ss.error("expected <src-dir> <num-utt> <dest-dir>, or --utt-list/--spk-list FILE <src-dir> <dest-dir>")
        src, dst = Path(args.args[0]), Path(args.args[-1])
        num = None
        if not lists:
            try:
                num = int(args.args[1])
            except ValueError:
                ss.error(f"<num-utt> must be a number, got {args.args[1]!r}")
        utts = select_utterances(src, num, args.how or "even", utt_list=args.utt_list, spk_list=args.spk_list)
        with replacing_data_dir(dst) as tmp:
            n = subset_data_dir(src, tmp, utts)
            validate_data_dir(tmp, require=("utt2spk", "spk2utt"))
        log.info("%s: %d of the utterances of %s", dst, n, src)
    else:
        try:
            factors = [float(f) for f in args.factors.replace(",", " ").split()]
        except ValueError:
            p.error(f"--factors: not numbers: {args.factors!r}")
        n = speed_perturb_data_dir(args.src_dir, args.dst_dir, factors)
        log.info("%s: %d utterances at speeds %s", args.dst_dir, n, " ".join(f"{f:g}" for f in factors))


if __name__ == "__main__":
    run(main)
