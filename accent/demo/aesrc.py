"""Demo AESRC2020 corpus in the on-disk layout of the real release.

Layout (under ``<out>/aesrc2020/``)::

    American English Speech Data/G00007/G00007S1001.wav   16 kHz 16-bit mono PCM
    American English Speech Data/G00007/G00007S1001.txt   one line, usually no final newline
    ...                                                   (8 accent folders, long names with spaces)
    AESRC2020-TESTSET/AESRC2020-TESTSET-00001.wav          unlabelled test set, new speakers
    test_labels.txt                                        "AESRC2020-TESTSET-00001 US" (also CA, ES)
    dev_spk.list                                           "US G00007": speaker-disjoint dev speakers

Quirks of the real corpus reproduced on purpose, because the data preparation
must cope with them: a 4-digit Indian speaker ID (``G0760``-like), one speaker
ID used under two accents (UK and KR), transcripts without a final newline
(a few with one), a RIFF ``LIST`` chunk in about 5 % of the WAVs, and test
labels of accents outside the eight.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from accent.data.aesrc import AESRC_ACCENTS
from accent.demo.accents import ACCENTS, EXTRA_TEST_ACCENTS, get_accent
from accent.demo.config import DemoConfig
from accent.demo.render import UttJob, render_all
from accent.demo.seeding import derive_seed, py_rng
from accent.demo.sentences import SentenceGenerator
from accent.demo.speakers import draw_speaker
from accent.demo.staging import build_once

logger = logging.getLogger(__name__)

ROOT_NAME = "aesrc2020"
TEST_DIR = "AESRC2020-TESTSET"
TEST_LABELS = "test_labels.txt"
DEV_LIST = "dev_spk.list"
FIRST_UTT = 1001  # real utterance ids run G00007S1001, S1002, ...
TEST_SPEAKERS_PER_ACCENT = 2
LIST_CHUNK_EVERY = 20  # ~5 % of the WAVs carry a LIST chunk
NEWLINE_EVERY = 10  # ~10 % of the transcripts end with a newline
INFO_SOFTWARE = ("Lavf58.29.100", "Recorder 2.1", "Android MediaRecorder")


@dataclass
class AesrcPlan:
    """Everything about the corpus except the audio samples."""

    speakers: dict[str, list[str]]  # accent -> speaker IDs (train + dev)
    dev: dict[str, list[str]]  # accent -> dev speaker IDs
    jobs: list[UttJob] = field(default_factory=list)
    transcripts: dict[Path, str] = field(default_factory=dict)  # relative .txt path -> content
    test_labels: list[tuple[str, str]] = field(default_factory=list)  # (utt id, accent)


def _speaker_ids(cfg: DemoConfig) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Train/dev speaker IDs per accent and test speaker IDs per accent (incl. CA, ES)."""
    rng = py_rng(cfg.seed, "aesrc-speaker-ids")
    n_test = TEST_SPEAKERS_PER_ACCENT * len(AESRC_ACCENTS) + len(EXTRA_TEST_ACCENTS)
    numbers = rng.sample(range(1, 100000), cfg.speakers_per_accent * len(AESRC_ACCENTS) + n_test)
    it = iter(numbers)
    speakers = {acc: [f"G{next(it):05d}" for _ in range(cfg.speakers_per_accent)] for acc in AESRC_ACCENTS}
    # Quirk 1: an Indian speaker with a 4-digit ID.
    speakers["IND"][0] = f"G{rng.randrange(1000, 10000):04d}"
    # Quirk 2: the same ID under two accents (two different people, as in the release).
    speakers["KR"][0] = speakers["UK"][0]
    test: dict[str, list[str]] = {}
    for acc in (*AESRC_ACCENTS, *EXTRA_TEST_ACCENTS):
        n = TEST_SPEAKERS_PER_ACCENT if acc in ACCENTS else 1
        test[acc] = [f"G{next(it):05d}" for _ in range(n)]
    return speakers, test


def _test_allocation(cfg: DemoConfig) -> list[str]:
    """Accent of each test utterance (before shuffling): ~10 % CA/ES, the rest round-robin."""
    n_extra = 0 if cfg.test_utts < 10 else max(2, cfg.test_utts // 10)
    extra = list(EXTRA_TEST_ACCENTS)
    accents = [extra[k % len(extra)] for k in range(n_extra)]
    accents += [AESRC_ACCENTS[k % len(AESRC_ACCENTS)] for k in range(cfg.test_utts - n_extra)]
    return accents


def plan_aesrc(cfg: DemoConfig, root: Path) -> AesrcPlan:
    """Plan speakers, texts and files of the demo AESRC2020 corpus written under ``root``."""
    speakers, test_speakers = _speaker_ids(cfg)
    n_dev = cfg.dev_speakers_per_accent
    # Index 0 holds the quirky IDs; dev speakers come from the end, so the quirks stay in train.
    dev = {acc: spks[len(spks) - n_dev:] for acc, spks in speakers.items()}
    plan = AesrcPlan(speakers=speakers, dev=dev)
    prompts = SentenceGenerator(derive_seed(cfg.seed, "aesrc-prompts")).sentences(
        max(400, 4 * cfg.utts_per_speaker))

    k = 0  # global utterance counter: deterministic quirk placement
    for acc in AESRC_ACCENTS:
        accent = ACCENTS[acc]
        sex_offset = py_rng(cfg.seed, "aesrc-sex", acc).randrange(2)
        for n_spk, spk in enumerate(speakers[acc]):
            # Alternate the sexes; the dev speakers (the last ones) are as balanced as possible.
            profile = draw_speaker(cfg.seed, accent, spk, female=(n_spk + sex_offset) % 2 == 1)
            texts = py_rng(cfg.seed, "aesrc-texts", acc, spk).sample(prompts, cfg.utts_per_speaker)
            for i, text in enumerate(texts):
                utt = f"{spk}S{FIRST_UTT + i:04d}"
                rel = Path(accent.dir_name or acc) / spk / utt
                info = None
                if k % LIST_CHUNK_EVERY == 0:
                    info = {"INAM": utt, "ISFT": INFO_SOFTWARE[(k // LIST_CHUNK_EVERY) % len(INFO_SOFTWARE)]}
                plan.jobs.append(UttJob(root / rel.with_suffix(".wav"), text, profile, cfg.seed, i, "wav", info))
                plan.transcripts[rel.with_suffix(".txt")] = text + ("\n" if k % NEWLINE_EVERY == 3 else "")
                k += 1

    order = _test_allocation(cfg)
    py_rng(cfg.seed, "aesrc-test-order").shuffle(order)
    test_rng = py_rng(cfg.seed, "aesrc-test-texts")
    counters: dict[str, int] = {}
    for n, acc in enumerate(order, start=1):
        c = counters.get(acc, 0)
        counters[acc] = c + 1
        n_spk = c % len(test_speakers[acc])
        spk = test_speakers[acc][n_spk]
        profile = draw_speaker(cfg.seed, get_accent(acc), spk, female=n_spk % 2 == 1)
        utt = f"{TEST_DIR}-{n:05d}"
        plan.jobs.append(UttJob(root / TEST_DIR / f"{utt}.wav", test_rng.choice(prompts), profile, cfg.seed,
                                c, "wav"))
        plan.test_labels.append((utt, acc))
    return plan


def _write_text_files(plan: AesrcPlan, root: Path) -> None:
    for rel, content in plan.transcripts.items():
        (root / rel).write_text(content, encoding="utf-8")
    with open(root / DEV_LIST, "w", encoding="utf-8") as f:
        for acc in AESRC_ACCENTS:
            for spk in sorted(plan.dev[acc]):
                f.write(f"{acc} {spk}\n")
    with open(root / TEST_LABELS, "w", encoding="utf-8") as f:
        for utt, acc in sorted(plan.test_labels):
            f.write(f"{utt} {acc}\n")


def _fill_aesrc(cfg: DemoConfig, tmp: Path) -> str:
    plan = plan_aesrc(cfg, tmp)
    logger.info("generating demo AESRC2020: %d accents x %d speakers x %d utterances + %d test utterances",
                len(AESRC_ACCENTS), cfg.speakers_per_accent, cfg.utts_per_speaker, len(plan.test_labels))
    for job in plan.jobs:
        job.path.parent.mkdir(parents=True, exist_ok=True)
    _write_text_files(plan, tmp)
    hours = sum(render_all(plan.jobs, cfg.num_jobs, "aesrc2020")) / 3600
    return f"{len(plan.jobs)} files, {hours:.2f} h"


def make_demo_aesrc(out_dir: Path | str, cfg: DemoConfig) -> Path:
    """Generate the demo AESRC2020 corpus under ``<out_dir>/aesrc2020`` and return that path.

    A no-op when a complete corpus with the same settings is already there.
    """
    cfg.validate()
    return build_once(Path(out_dir) / ROOT_NAME, cfg.aesrc_stamp(), lambda tmp: _fill_aesrc(cfg, tmp))
