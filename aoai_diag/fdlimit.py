"""How many targets may run at once within this process's open-file limit.

Each running target holds sockets: one per DNS (server, name) in flight, the OS resolver's, the TCP, TLS and HTTPS
connections, IMDS. A fleet that runs out of descriptors turns its last questions into "Too many open files" errors,
so before a fleet run the runner raises the soft limit toward the hard one (what Go programs have done at start
since Go 1.19: https://go.dev/doc/go1.19) and then runs no more targets at once than the limit leaves room for.
macOS starts processes with a soft limit of 256; Linux usually with 1024. Windows has no such limit for sockets.
"""

from __future__ import annotations

import os

# Sockets one running target may hold at its peak: three configured DNS servers asked four names each (12), the
# public resolver's three names, the OS resolver's lookups, the connections of the path probes and IMDS. Measured
# on loopback (bench/many_targets.py, 50 at once): 7.5 per running target with a stand-in OS resolver.
SOCKETS_PER_TARGET = 24
# Descriptors kept for everything else: the interpreter's own files, logs, the Azure SDK's connection pool.
RESERVED = 64
# Raising the soft limit beyond this gains nothing for a run (and macOS refuses values above its per-process cap).
WANTED = 8192


def raise_soft_limit(wanted: int = WANTED) -> int | None:
    """Raise the soft open-file limit to `wanted` (at most the hard limit); the soft limit now, or None where the
    platform has no such limit (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # a sandbox may refuse: run within the limit there is
            pass
    return None if soft == resource.RLIM_INFINITY else int(soft)


def open_descriptors() -> int:
    """Descriptors this process holds now (a generous guess where the system does not list them)."""
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(listing))
        except OSError:
            continue
    return RESERVED


def parallel_within(requested: int, soft_limit: int | None, in_use: int) -> int:
    """`requested` targets at once, or fewer if their sockets would not fit under `soft_limit` (at least one)."""
    if soft_limit is None:
        return max(1, requested)
    room = soft_limit - in_use - RESERVED
    return max(1, min(requested, room // SOCKETS_PER_TARGET))


def fleet_parallel(requested: int) -> int:
    """How many targets to run at once when `requested` were asked for: raises the soft limit first."""
    return parallel_within(requested, raise_soft_limit(), open_descriptors())
