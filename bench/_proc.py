"""What a benchmarked server process uses, read from /proc (Linux)."""

from __future__ import annotations

import os
from pathlib import Path


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: This process's niceness before ``yield_to_servers``: what servers started later get.
_BASE_NICE = os.getpriority(os.PRIO_PROCESS, 0)


def yield_to_servers(by: int) -> None:
    """Run the load generator (this process and what it starts, but servers started with
    ``as_server``) ``by`` steps nicer: on one machine it shares the CPUs with the server
    it measures, and should not take them from it when both want them (the clients of a
    real server run elsewhere). Both phases of a bench are treated alike."""
    if by > 0:
        os.nice(by)


def as_server(nice: int | None = None) -> None:
    """``preexec_fn`` of a server process: back to the niceness the bench started with
    (``nice``: to this one). Without the right to raise a priority again (not root) it
    keeps the clients' one, as if ``--client-nice 0`` had been given; the table prints
    what was in effect."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, _BASE_NICE if nice is None else nice)
    except OSError:
        pass


def base_nice() -> int:
    """The niceness the bench started with (for a process it spawns afresh)."""
    return _BASE_NICE


def nice_of(pid: int = 0) -> int:
    return os.getpriority(os.PRIO_PROCESS, pid)
