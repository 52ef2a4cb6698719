"""``--device`` values (auto, cpu, cuda, cuda:1, ...) as torch devices, one rule for every tool."""

from __future__ import annotations


def resolve_device(device: str = "auto"):
    """``auto``: CUDA when available, else CPU; a CUDA device asked for on a machine without one is
    an error saying so."""
    import torch

    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available here")
    return dev


def module_device(module):
    """The device of a module's parameters (its first one: the toolkit's modules live on one)."""
    return next(module.parameters()).device
