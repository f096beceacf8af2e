"""Refuse a learner whose state would not fit in memory, before allocating it."""

from __future__ import annotations

import os

__all__ = ["InfluenceMemoryError", "available_memory", "check_state_fits", "format_bytes"]


class InfluenceMemoryError(MemoryError):
    """The learner's state (the influence matrix, for exact RTRL) would not fit in memory."""


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def _cgroup_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
    return None


def available_memory() -> int:
    """Bytes this process can still allocate: MemAvailable, capped by a cgroup limit."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return 2**62  # unknown platform: do not refuse
    limit = _cgroup_limit()
    return min(avail, limit) if limit is not None else avail


def check_state_fits(learner, needed: int, alternatives) -> None:
    """Raise :class:`InfluenceMemoryError` if ``needed`` bytes exceed the available memory.

    ``alternatives()`` maps other learners' names to the bytes they would need for the same
    network (called only to write the error); those that fit are named in the message.
    """
    avail = available_memory()
    if needed <= avail:
        return
    alternatives = alternatives()
    fits = [f"{name!r} ({format_bytes(b)})" for name, b in alternatives.items() if b <= avail]
    hint = (
        "learners that would fit: " + ", ".join(fits)
        if fits
        else "no learner's state fits; reduce hidden_size"
    )
    raise InfluenceMemoryError(
        f"learner {learner.name!r} needs {format_bytes(needed)} ({needed} bytes) for its state "
        f"but only {format_bytes(avail)} is available; {hint}"
    )
