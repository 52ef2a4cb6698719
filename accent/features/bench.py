"""Speed and agreement of the FBank front end against the implementations it replaces.

kaldi-native-fbank (knf), the front end before :class:`accent.features.fbank.Fbank`, is kept
here only as the reference: :func:`knf_fbank` computes features exactly as ``compute_fbank``
did with it (the tests compare against it).
"""

from __future__ import annotations

import numpy as np

from accent.features.fbank import FbankConfig


def knf_fbank(samples: np.ndarray, config: FbankConfig) -> np.ndarray:
    """(frames, bins) float32 features of samples in [-1, 1] by kaldi-native-fbank, frame by frame
    from Python as the old ``compute_fbank`` did; (0, bins) for input shorter than a frame."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = config.sample_rate
    opts.frame_opts.frame_length_ms = config.frame_length_ms
    opts.frame_opts.frame_shift_ms = config.frame_shift_ms
    opts.frame_opts.dither = config.dither
    opts.frame_opts.snip_edges = config.snip_edges
    opts.mel_opts.num_bins = config.num_mel_bins
    opts.mel_opts.low_freq = config.low_freq
    opts.mel_opts.high_freq = config.high_freq
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(config.sample_rate, samples * 32768.0)  # Kaldi's int16 scale
    fbank.input_finished()
    frames = [fbank.get_frame(i) for i in range(fbank.num_frames_ready)]
    return np.stack(frames).astype(np.float32) if frames else np.zeros((0, config.num_mel_bins), np.float32)
