"""Offline demo corpora: synthetic AESRC2020 and LibriSpeech in the real on-disk layouts.

Entry points: :mod:`accent.demo.corpus` (``DemoConfig``, ``make_demo_aesrc``,
``make_demo_librispeech``) and ``python -m accent.bin.make_demo_corpus``.

How an utterance is made::

    sentences.py  template grammar -> mixed-case English sentence
    speech.py     US/UK/PT: an espeak-ng voice reads the text itself;
                  CHN/IND/JPN/KR/RU: en-us phonemes (espeak.py) -> L1 transfer rules
                  (accents.py tables, transfer.py engine) -> the L1 voice speaks [[phonemes]]
    speakers.py   per speaker: voice variant, pitch, tempo, accent strength, channel
    channel.py    noise, band limits, tilt, reverberation, level, silences
    wavio.py      16-bit WAV (optionally with a RIFF LIST chunk) or FLAC
    render.py     parallel rendering of planned utterances; aesrc.py / librispeech.py plan
                  the layouts; staging.py makes the output appear atomically

espeak-ng 1.51 facts this relies on (checked by tests/test_demo_corpus.py):

* ``espeak-ng -q -x --sep=' ' -v en-us TEXT`` prints one clause per line, words
  separated by two spaces, phonemes by one, stress marks prefixed to vowels.
* Non-English voices do not read English text with an accent (they switch
  Latin words to English, ja spells them), but they speak phoneme input
  ``[[...]]`` written in their own mnemonics; an unknown mnemonic silently
  drops the rest of the word, and a phoneme clause beyond ~700 characters is
  truncated.  cmn vowels take tone digits (``a51``).
* Mnemonics per voice (from native-script text): see the comments of the
  tables in :mod:`accent.demo.accents`.

Difficulty (default sizes, seed 0): a mean+std pooled 40-dim log-mel +
logistic regression classifier gets about 45-50 % accuracy on the
speaker-disjoint dev speakers (chance 12.5 %), a frame-level MLP with
utterance posterior averaging about 70 %.
"""
