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
import subprocess
from pathlib import Path
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


ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
             "amx_bf16", "amx_int8")
# settings that change which kernels run (so the numbers), when a user sets them
KERNEL_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
              "MKL_CBWR", "NPY_DISABLE_CPU_FEATURES", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_isa() -> Optional[str]:
    """The vector-instruction flags of the CPU that oneDNN and MKL choose their kernels by."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return " ".join(x for x in ISA_FLAGS if x in have) or None
    except OSError:
        pass
    return None


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
        "cpu_isa": cpu_isa(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "numpy_cpu_dispatch": numpy_cpu_dispatch(),
        "mkl": _config_fact(config, r"Math Kernel Library Version ([^\n]+?) for") if torch.backends.mkl.is_available()
        else None,
        "onednn": _config_fact(config, r"MKL-DNN (v[\d.]+)") if torch.backends.mkldnn.is_available() else None,
        "blas": _config_fact(config, r"BLAS_INFO=(\w+)"),
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "kernel_env": " ".join(f"{k}={os.environ[k]}" for k in KERNEL_ENV if k in os.environ) or None,
    }
    # plain str: torch.__version__ is a TorchVersion, which weights_only loading refuses
    return {k: None if v is None else str(v) for k, v in env.items()}


def describe(env: Dict[str, Optional[str]]) -> str:
    """One log line of :func:`numeric_environment`."""
    return ", ".join(f"{k} {v}" for k, v in env.items() if v is not None)


def code_version() -> Dict[str, Optional[str]]:
    """``{"version": accent.__version__, "commit": <short hash>[-dirty] or None}``.  The commit is
    that of the git checkout whose top directory holds this ``accent`` package (None for an
    installed copy or without git); ``-dirty`` when tracked files differ from it."""
    import accent

    root = Path(accent.__file__).resolve().parent.parent
    commit = None

    def git(*args: str) -> Optional[str]:
        try:
            r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top and Path(top).resolve() == root:
        commit = git("rev-parse", "--short", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no")
        if commit and status:
            commit += "-dirty"
    return {"version": accent.__version__, "commit": commit}
