"""Demo Common Voice English in the on-disk layout of a recent release.

Layout (under ``<out>/cv-corpus-demo/``)::

    en/validated.tsv   client_id path sentence_id sentence sentence_domain up_votes down_votes
                       age gender accents variant locale segment   (tab-separated, a header line)
    en/train.tsv  en/dev.tsv  en/test.tsv                          the release's own split, same columns
    en/clips/common_voice_en_<N>.mp3                               48 kHz mono MP3

Four of the CommonAccent classes are spoken (us: en-us voices, england: en-gb voices, scotland:
en-gb-scotland, indian: the Hindi transfer of :mod:`accent.demo.accents`), their ``accents`` field
the names Common Voice offered; one us speaker adds a descriptor of their own after a comma.  Rows
the recipe must leave out and count are there too: speakers without an accent, one with a
free-text accent the table does not know, one naming two classes.  Speakers are ``client_id``
hashes of 128 hex digits, as in the release.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

from accent.demo.accents import ACCENTS, Accent
from accent.demo.config import DemoConfig
from accent.demo.render import UttJob, render_all
from accent.demo.seeding import derive_seed, py_rng
from accent.demo.sentences import SentenceGenerator
from accent.demo.speakers import draw_speaker
from accent.demo.staging import build_once

logger = logging.getLogger(__name__)

ROOT_NAME = "cv-corpus-demo"
RATE = 48000
COLUMNS = ("client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes",
           "age", "gender", "accents", "variant", "locale", "segment")
# class -> (how it is spoken, its accents field)
CLASSES: dict[str, tuple[Accent, str]] = {
    "us": (dataclasses.replace(ACCENTS["US"], code="us"), "United States English"),
    "england": (Accent("england", None, ("en-gb", "en-gb-x-rp")), "England English"),
    "scotland": (Accent("scotland", None, ("en-gb-scotland",)), "Scottish English"),
    "indian": (dataclasses.replace(ACCENTS["IND"], code="indian"),
               "India and South Asia (India, Pakistan, Sri Lanka)"),
}
# speakers left out by the recipe: their accents fields
LEFT_OUT = ("", "", "Midwestern drawl, a bit of everything", "England English|Scottish English")
LEFT_OUT_CLIPS = 2
REFINED = "United States English, Midwestern United States English"  # one us speaker's field
AGES = ("teens", "twenties", "thirties", "fourties", "fifties", "sixties")


def _client_id(seed: int, n: int) -> str:
    return hashlib.sha512(f"demo-cv-{seed}-{n}".encode()).hexdigest()


def plan_commonvoice(cfg: DemoConfig, lang: Path) -> tuple[list[UttJob], list[dict[str, str]]]:
    """The clips to render and the validated.tsv rows, in speaker order."""
    speakers = [(cls, CLASSES[cls][0], CLASSES[cls][1]) for cls in CLASSES for _ in range(cfg.cv_speakers_per_class)]
    speakers[0] = (speakers[0][0], speakers[0][1], REFINED)
    speakers += [("", CLASSES["us"][0], field) for field in LEFT_OUT]
    prompts = SentenceGenerator(derive_seed(cfg.seed, "cv-prompts")).sentences(max(200, 4 * cfg.cv_clips_per_speaker))
    rng = py_rng(cfg.seed, "cv-clip-numbers")
    numbers = iter(rng.sample(range(10_000_000, 40_000_000), len(speakers) * (cfg.cv_clips_per_speaker + 1)))
    jobs, rows = [], []
    for n, (cls, accent, field) in enumerate(speakers):
        client = _client_id(cfg.seed, n)
        female = n % 2 == 1
        profile = draw_speaker(cfg.seed, accent, client[:16], female=female)
        # speakers record different numbers of clips; the left-out ones need only a few
        count = LEFT_OUT_CLIPS if not cls else max(1, cfg.cv_clips_per_speaker + n % 3 - 1)
        texts = py_rng(cfg.seed, "cv-texts", n).sample(prompts, count)
        age = AGES[n % len(AGES)]
        for i, text in enumerate(texts):
            name = f"common_voice_en_{next(numbers)}.mp3"
            jobs.append(UttJob(lang / "clips" / name, text, profile, cfg.seed, i, "mp3", rate=RATE))
            rows.append({"client_id": client, "path": name,
                         "sentence_id": hashlib.sha256(text.encode()).hexdigest(), "sentence": text,
                         "sentence_domain": "", "up_votes": "2", "down_votes": "0", "age": age,
                         "gender": "female_feminine" if female else "male_masculine", "accents": field,
                         "variant": "", "locale": "en", "segment": ""})
    return jobs, rows


def _write_tsv(path: Path, rows: list[dict[str, str]]) -> None:
    lines = ["\t".join(COLUMNS)] + ["\t".join(r[c] for c in COLUMNS) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _fill(cfg: DemoConfig, tmp: Path) -> str:
    lang = tmp / "en"
    (lang / "clips").mkdir(parents=True)
    jobs, rows = plan_commonvoice(cfg, lang)
    _write_tsv(lang / "validated.tsv", rows)
    # the release's own speaker-disjoint split: the last speaker of every 10 is dev, the next test
    clients = list(dict.fromkeys(r["client_id"] for r in rows))
    part = {c: ("dev" if k % 10 == 8 else "test" if k % 10 == 9 else "train") for k, c in enumerate(clients)}
    for name in ("train", "dev", "test"):
        _write_tsv(lang / f"{name}.tsv", [r for r in rows if part[r["client_id"]] == name])
    hours = sum(render_all(jobs, cfg.num_jobs, "commonvoice")) / 3600
    return f"{len(jobs)} clips, {hours:.2f} h"


def make_demo_commonvoice(out_dir: Path | str, cfg: DemoConfig) -> Path:
    """Generate the demo release under ``<out_dir>/cv-corpus-demo`` and return its ``en`` folder.

    A no-op when a complete corpus with the same settings is already there.
    """
    cfg.validate()
    return build_once(Path(out_dir) / ROOT_NAME, cfg.commonvoice_stamp(), lambda tmp: _fill(cfg, tmp)) / "en"
