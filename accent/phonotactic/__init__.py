"""Phonotactic accent recognition (PRLM: phone recognition followed by a language model of the
phone strings, the classic language-ID system of Zissman 1996): a phone recogniser trained on real
English speech (pocketsphinx's US-English acoustic model, shipped with the package, so it works
offline) writes what it hears, and a classifier of phone n-grams learns which sequences each accent
produces.  It sees the speech through another model than the toolkit's acoustic encoders, so its
scores are fused with theirs (:mod:`accent.evaluation.fusion`)."""
