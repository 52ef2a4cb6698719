"""Synthetic speakers: an espeak voice with its own timbre, prosody, accent strength and room."""

from __future__ import annotations

from dataclasses import dataclass

from accent.demo.accents import Accent
from accent.demo.channel import ChannelProfile, draw_channel
from accent.demo.espeak import Voice
from accent.demo.seeding import np_rng

#: Voice variants (files in espeak-ng-data/voices/!v): each shifts formants and pitch range,
#: i.e. gives a different vocal tract; they work with every language voice.
MALE_VARIANTS: tuple[str, ...] = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")
FEMALE_VARIANTS: tuple[str, ...] = ("f1", "f2", "f3", "f4")


@dataclass(frozen=True)
class SpeakerProfile:
    accent: Accent
    speaker_id: str  # corpus speaker ID, e.g. "G00042" or "1034"
    voice: Voice
    strength: float  # probability that an L1 transfer rule fires
    channel: ChannelProfile


def draw_speaker(seed: int, accent: Accent, speaker_id: str, female: bool, studio: bool = False) -> SpeakerProfile:
    """Draw a speaker from its identity alone, so any worker gets the same speaker.

    The caller chooses the sex so that every accent (and its dev part) is balanced:
    with ten-odd speakers per accent, a chance imbalance would make timbre a cue.
    The channel is drawn from its own stream, unrelated to the accent, so that the
    recording conditions are not a cue to the accent either.
    """
    rng = np_rng(seed, "speaker", accent.code, speaker_id)
    voice = Voice(
        language=str(rng.choice(accent.voices)),
        variant=str(rng.choice(FEMALE_VARIANTS if female else MALE_VARIANTS)),
        pitch=int(rng.integers(35, 66)),
        speed=int(rng.integers(accent.speed[0], accent.speed[1] + 1)),
        word_gap=int(rng.choice(accent.word_gaps)),
    )
    channel = draw_channel(np_rng(seed, "channel", accent.code, speaker_id), studio=studio)
    return SpeakerProfile(accent, speaker_id, voice, float(rng.uniform(0.6, 1.0)), channel)
