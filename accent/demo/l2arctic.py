"""Demo L2-ARCTIC in the on-disk layout of the release, as lhotse's ``prepare_l2_arctic`` reads it.

Layout (under ``<out>/l2arctic/``)::

    ABA/wav/arctic_a0001.wav                44.1 kHz 16-bit mono PCM
    ABA/transcript/arctic_a0001.txt         the prompt, one line without a final newline
    ABA/annotation/arctic_a0001.TextGrid    for the first two prompts (the release annotates 150)
    ...                                     the 24 speakers of the release (lhotse's table), 4 per L1

Every speaker reads the same prompts (as in ARCTIC); one speaker lacks a prompt, as some speakers
of the release did not read every sentence.  L1s: Mandarin, Hindi and Korean through the phoneme
transfer of :mod:`accent.demo.accents`; Spanish and Vietnamese by their espeak voices reading the
English text; Arabic by espeak's ``ar`` voice, which hands Latin-script words to its English rules,
so the demo's Arabic speakers differ from native English only in voice, tempo and pauses.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from accent.demo.accents import ACCENTS, EXTRA_TEST_ACCENTS, Accent
from accent.demo.config import DemoConfig
from accent.demo.render import UttJob, render_all
from accent.demo.seeding import derive_seed
from accent.demo.sentences import SentenceGenerator
from accent.demo.speakers import draw_speaker
from accent.demo.staging import build_once

logger = logging.getLogger(__name__)

ROOT_NAME = "l2arctic"
RATE = 44100
ANNOTATED = 2
# lhotse's L1 names (its speaker table) -> how the demo speaks them
L1S: dict[str, Accent] = {
    "Arabic": Accent("Arabic", None, ("ar",), None, (120, 170), (0, 1, 2)),
    "Chinese": dataclasses.replace(ACCENTS["CHN"], code="Chinese"),
    "Hindi": dataclasses.replace(ACCENTS["IND"], code="Hindi"),
    "Korean": dataclasses.replace(ACCENTS["KR"], code="Korean"),
    "Spanish": dataclasses.replace(EXTRA_TEST_ACCENTS["ES"], code="Spanish"),
    "Vietnamese": Accent("Vietnamese", None, ("vi",), None, (120, 170), (0, 1, 2)),
}


def speakers() -> dict[str, dict[str, str]]:
    """The release's speakers: ``ABA -> {gender: M, native_lang: Arabic}`` (lhotse's table)."""
    from lhotse.recipes.l2_arctic import _parse_speaker_description

    return {spk.upper(): meta for spk, meta in _parse_speaker_description().items()}


def _textgrid(text: str, seconds: float) -> str:
    return (f'File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\nxmax = {seconds:.3f}\ntiers? <exists>\n'
            f'size = 1\nitem []:\n    item [1]:\n        class = "IntervalTier"\n        name = "words"\n'
            f'        xmin = 0\n        xmax = {seconds:.3f}\n        intervals: size = 1\n        intervals [1]:\n'
            f'            xmin = 0\n            xmax = {seconds:.3f}\n            text = "{text.replace(chr(34), 2 * chr(34))}"\n')


def _fill(cfg: DemoConfig, tmp: Path) -> str:
    prompts = SentenceGenerator(derive_seed(cfg.seed, "l2arctic-prompts")).sentences(cfg.l2_utts_per_speaker)
    jobs, names = [], []
    for n, (spk, meta) in enumerate(sorted(speakers().items())):
        profile = draw_speaker(cfg.seed, L1S[meta["native_lang"]], spk, female=meta["gender"] == "F")
        for sub in ("wav", "transcript", "annotation"):
            (tmp / spk / sub).mkdir(parents=True)
        for i, text in enumerate(prompts):
            if n == 0 and i == len(prompts) - 1 and i > 0:
                continue  # a sentence this speaker did not read
            stem = f"arctic_a{i + 1:04d}"
            (tmp / spk / "transcript" / f"{stem}.txt").write_text(text, encoding="utf-8")
            jobs.append(UttJob(tmp / spk / "wav" / f"{stem}.wav", text, profile, cfg.seed, i, "wav", rate=RATE))
            names.append((spk, stem, text))
    durations = render_all(jobs, cfg.num_jobs, "l2arctic")
    for (spk, stem, text), seconds in zip(names, durations):
        if int(stem[-4:]) <= ANNOTATED:
            (tmp / spk / "annotation" / f"{stem}.TextGrid").write_text(_textgrid(text, seconds), encoding="utf-8")
    return f"{len(jobs)} files, {sum(durations) / 3600:.2f} h"


def make_demo_l2arctic(out_dir: Path | str, cfg: DemoConfig) -> Path:
    """Generate the demo L2-ARCTIC under ``<out_dir>/l2arctic`` and return that path.

    A no-op when a complete corpus with the same settings is already there.
    """
    cfg.validate()
    return build_once(Path(out_dir) / ROOT_NAME, cfg.l2arctic_stamp(), lambda tmp: _fill(cfg, tmp))
