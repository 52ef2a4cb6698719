"""The pooled-FBank logistic-regression floor: separable data is solved, label noise is not."""

import kaldiio
import numpy as np

from accent.data.kaldi_dir import write_data_dir
from accent.evaluation.linear_baseline import linear_baseline_accuracy


def _dir(path, n_per_class, seed, shuffle_labels=False):
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    labels = ["US", "UK", "IND"]
    utt2accent = {}
    with kaldiio.WriteHelper(f"ark,scp:{path}/feats.ark,{path}/feats.scp") as w:
        for k, acc in enumerate(labels):
            for i in range(n_per_class):
                utt = f"{acc}-s{i}-u{i}"
                # the accent shifts the mean of a few bins: visible in pooled statistics
                mat = rng.standard_normal((50 + i, 40)).astype(np.float32)
                mat[:, k * 5:(k + 1) * 5] += 1.5
                w(utt, mat)
                utt2accent[utt] = acc
    if shuffle_labels:
        vals = list(utt2accent.values())
        rng.shuffle(vals)
        utt2accent = dict(zip(utt2accent, vals))
    write_data_dir(path, {"utt2accent": utt2accent, "utt2spk": {u: u.rsplit("-", 1)[0] for u in utt2accent}},
                   labels=labels)
    return path


def test_separable_accents_are_found(tmp_path):
    acc = linear_baseline_accuracy(_dir(tmp_path / "train", 20, 0), _dir(tmp_path / "dev", 10, 1))
    assert acc == 1.0


def test_random_labels_stay_near_chance(tmp_path):
    acc = linear_baseline_accuracy(_dir(tmp_path / "train", 30, 0, shuffle_labels=True),
                                   _dir(tmp_path / "dev", 30, 1, shuffle_labels=True))
    assert acc < 0.6
