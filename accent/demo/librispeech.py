"""Demo LibriSpeech corpus in the on-disk layout of the real one.

Layout (under ``<out>/LibriSpeech/``)::

    SPEAKERS.TXT
    train-clean-100/19/198/19-198-0000.flac     16 kHz mono FLAC
    train-clean-100/19/198/19-198.trans.txt     "19-198-0000 UPPER CASE TEXT WITH DON'T"
    dev-clean/...

The real part names let lhotse's ``prepare_librispeech(dataset_parts="auto")``
find the parts.  Readers are native-English espeak voices in near-studio
conditions (audiobooks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from accent.demo.accents import LIBRISPEECH_READER
from accent.demo.config import DemoConfig
from accent.demo.render import UttJob, render_all
from accent.demo.seeding import derive_seed, py_rng
from accent.demo.sentences import FIRST_NAMES, SURNAMES, SentenceGenerator, to_librispeech_transcript
from accent.demo.speakers import FEMALE_VARIANTS, SpeakerProfile, draw_speaker
from accent.demo.staging import build_once

logger = logging.getLogger(__name__)

ROOT_NAME = "LibriSpeech"
TRAIN_PART = "train-clean-100"
DEV_PART = "dev-clean"


@dataclass
class LibriPlan:
    jobs: list[UttJob] = field(default_factory=list)
    transcripts: dict[Path, list[str]] = field(default_factory=dict)  # relative trans.txt -> lines
    speakers: list[tuple[int, SpeakerProfile, str]] = field(default_factory=list)  # id, profile, part


def plan_librispeech(cfg: DemoConfig, root: Path) -> LibriPlan:
    rng = py_rng(cfg.seed, "libri-ids")
    n_spk = cfg.libri_train_speakers + cfg.libri_dev_speakers
    speaker_ids = rng.sample(range(10, 9000), n_spk)
    chapter_ids = iter(rng.sample(range(100, 300000), 2 * n_spk))
    text_gen = SentenceGenerator(derive_seed(cfg.seed, "libri-text"))
    plan = LibriPlan()
    parts = [TRAIN_PART] * cfg.libri_train_speakers + [DEV_PART] * cfg.libri_dev_speakers
    for n_spk, (spk, part) in enumerate(zip(speaker_ids, parts)):
        n_utts = cfg.libri_train_utts if part == TRAIN_PART else cfg.libri_dev_utts
        profile = draw_speaker(cfg.seed, LIBRISPEECH_READER, str(spk), female=n_spk % 2 == 1, studio=True)
        # One or two chapters per reader, utterances numbered from 0000 within each.
        n_chapters = 2 if n_utts >= 4 and rng.random() < 0.5 else 1
        sizes = [n_utts // n_chapters + (1 if c < n_utts % n_chapters else 0) for c in range(n_chapters)]
        index = 0
        for size in sizes:
            chapter = next(chapter_ids)
            rel_dir = Path(part) / str(spk) / str(chapter)
            lines = []
            for u in range(size):
                # Audiobook segments are longer than prompts: one or two sentences.
                text = " ".join(text_gen.sentences(1 + (rng.random() < 0.4)))
                utt = f"{spk}-{chapter}-{u:04d}"
                plan.jobs.append(UttJob(root / rel_dir / f"{utt}.flac", text, profile, cfg.seed, index, "flac"))
                lines.append(f"{utt} {to_librispeech_transcript(text)}")
                index += 1
            plan.transcripts[rel_dir / f"{spk}-{chapter}.trans.txt"] = lines
        plan.speakers.append((spk, profile, part))
    return plan


def _write_speakers_txt(plan: LibriPlan, durations: list[float], root: Path, seed: int) -> None:
    rng = py_rng(seed, "libri-names")
    lines = [
        "; Demo LibriSpeech speakers (synthetic espeak-ng voices), in the format of LibriSpeech's SPEAKERS.TXT",
        ";ID  |SEX| SUBSET           |MINUTES| NAME",
    ]
    minutes: dict[str, float] = {}
    for job, dur in zip(plan.jobs, durations):
        minutes[job.speaker.speaker_id] = minutes.get(job.speaker.speaker_id, 0.0) + dur / 60
    for spk, profile, part in sorted(plan.speakers, key=lambda s: s[0]):
        sex = "F" if profile.voice.variant in FEMALE_VARIANTS else "M"
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        lines.append(f"{spk:<5}| {sex} | {part:<16} | {minutes[str(spk)]:5.2f} | {name}")
    (root / "SPEAKERS.TXT").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _fill_librispeech(cfg: DemoConfig, tmp: Path) -> str:
    plan = plan_librispeech(cfg, tmp)
    logger.info("generating demo LibriSpeech: %s %d speakers x %d, %s %d speakers x %d utterances",
                TRAIN_PART, cfg.libri_train_speakers, cfg.libri_train_utts, DEV_PART,
                cfg.libri_dev_speakers, cfg.libri_dev_utts)
    for rel, lines in plan.transcripts.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text("\n".join(lines) + "\n", encoding="utf-8")
    durations = render_all(plan.jobs, cfg.num_jobs, "LibriSpeech")
    _write_speakers_txt(plan, durations, tmp, cfg.seed)
    return f"{len(plan.jobs)} files, {sum(durations) / 3600:.2f} h"


def make_demo_librispeech(out_dir: Path | str, cfg: DemoConfig) -> Path:
    """Generate the demo LibriSpeech under ``<out_dir>/LibriSpeech`` and return that path.

    A no-op when a complete corpus with the same settings is already there.
    """
    cfg.validate()
    return build_once(Path(out_dir) / ROOT_NAME, cfg.librispeech_stamp(), lambda tmp: _fill_librispeech(cfg, tmp))
