"""The facts of the machine and libraries that change floating-point results.

The same code, data, config and seed give bit-identical numbers only where these facts agree:
PyTorch (and numpy) pick their kernels at run time by the CPU's instruction set (AVX2, AVX-512,
...), oneDNN/MKL block their reductions by ISA and thread count, and library versions change
kernels.  Training logs, ``results.json`` and checkpoints record them (:func:`numeric_environment`),
and the demo corpus manifest records them with the generator's tool versions, so two runs that
differ can be told apart by their records.
"""

from __future__ import annotations

import os
import platform
import re
from typing import Dict, Optional


def cpu_model() -> Optional[str]:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def numpy_cpu_dispatch() -> Optional[str]:
    """The SIMD extensions numpy dispatches to on this CPU (its ufuncs' kernels), e.g. ``AVX512F AVX512_SKX``."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
        except ImportError:
            return None
    return " ".join(k for k in __cpu_dispatch__ if __cpu_features__.get(k))


def _config_fact(text: str, pattern: str) -> Optional[str]:
    m = re.search(pattern, text)
    return m.group(1).strip() if m else None


def numeric_environment() -> Dict[str, Optional[str]]:
    """Plain strings (JSON- and ``weights_only``-safe): versions, thread count, CPU and kernels."""
    import numpy as np
    import torch

    config = torch.__config__.show()
    env = {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "torch_threads": str(torch.get_num_threads()),
        "cpu": cpu_model(),
        "cpu_count": str(os.cpu_count()),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "numpy_cpu_dispatch": numpy_cpu_dispatch(),
        "mkl": _config_fact(config, r"Math Kernel Library Version ([^\n]+?) for") if torch.backends.mkl.is_available()
        else None,
        "onednn": _config_fact(config, r"MKL-DNN (v[\d.]+)") if torch.backends.mkldnn.is_available() else None,
        "blas": _config_fact(config, r"BLAS_INFO=(\w+)"),
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    # plain str: torch.__version__ is a TorchVersion, which weights_only loading refuses
    return {k: None if v is None else str(v) for k, v in env.items()}


def describe(env: Dict[str, Optional[str]]) -> str:
    """One log line of :func:`numeric_environment`."""
    return ", ".join(f"{k} {v}" for k, v in env.items() if v is not None)
