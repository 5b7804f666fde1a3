"""Device memory: what is free before a large allocation, and the peak a run has used."""

from __future__ import annotations

import torch
import torch.distributed

from marcus.timings import peak_rss_mib


def available_memory_bytes(device: torch.device | None = None) -> int:
    """Free memory on ``device``: CUDA's free bytes, or MemAvailable of /proc/meminfo for the
    CPU; a huge number where it cannot be read (not Linux), so that nothing is refused."""
    if device is not None and device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2**62


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mib()  # this process's own peak, not a large parent's (see there)
