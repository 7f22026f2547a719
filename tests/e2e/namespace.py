"""A Linux network namespace with only `lo`, its own resolv.conf and hosts file, and the processes started in it.

Nothing can leave such a namespace: it has no interface but loopback, so a connect to an address that is not
assigned to `lo` fails at once with "network unreachable". That makes the namespace itself the network guard
for the end-to-end tier (tests/netguard cannot be used there: the tool must reach 10.x and public addresses, which
exist only inside the namespace). `ip netns exec` bind-mounts /etc/netns/NAME/{resolv.conf,hosts} over /etc, so
the tool reads its "system" resolver and hosts file without any flag (ip-netns(8)).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

PREFIX = "aoaie2e-"
NETNS_ETC = Path("/etc/netns")
_counter = itertools.count(1)  # next() is atomic under the GIL: scenarios build namespaces from several threads


class NamespaceError(RuntimeError):
    """A namespace operation failed; the message carries the command's stderr."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if check and proc.returncode != 0:
        raise NamespaceError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def unsupported_reason() -> str | None:
    """Why this machine cannot run the end-to-end tier, or None when a probe namespace could be created."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "end-to-end tier needs root (ip netns add)"
    if shutil.which("ip") is None:
        return "end-to-end tier needs iproute2 (`ip` not found)"
    name = f"{PREFIX}{os.getpid()}-probe"
    try:
        proc = _ip("netns", "add", name, check=False)
        if proc.returncode != 0:
            return f"`ip netns add` failed: {proc.stderr.strip() or proc.returncode}"
        lo = _ip("-n", name, "link", "set", "lo", "up", check=False)
        if lo.returncode != 0:
            return f"cannot bring up lo in a namespace: {lo.stderr.strip()}"
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`ip netns add` failed: {exc}"
    finally:
        _ip("netns", "del", name, check=False)
    return None


def nft_reason() -> str | None:
    """Why packet-drop scenarios cannot run, or None."""
    if shutil.which("nft") is None:
        return "nftables (`nft`) not installed: drop scenarios need it"
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> list[str]:
    """Delete namespaces (and /etc/netns dirs) with our prefix whose creating pytest process is gone."""
    removed = []
    listing = _ip("netns", "list", check=False).stdout
    names = {line.split()[0] for line in listing.splitlines() if line.startswith(PREFIX)}
    if NETNS_ETC.is_dir():
        names |= {p.name for p in NETNS_ETC.iterdir() if p.name.startswith(PREFIX)}
    for name in sorted(names):
        owner = name[len(PREFIX) :].split("-")[0]
        if owner.isdigit() and _pid_alive(int(owner)) and int(owner) != 0:
            continue  # another live session's namespace
        _kill_namespace_pids(name)
        _ip("netns", "del", name, check=False)
        shutil.rmtree(NETNS_ETC / name, ignore_errors=True)
        removed.append(name)
    return removed


def _kill_namespace_pids(name: str) -> None:
    # Only processes living inside our own namespace: everything there was started by this harness.
    out = _ip("netns", "pids", name, check=False).stdout
    for token in out.split():
        if token.isdigit():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(token), signal.SIGKILL)


class Namespace:
    """One scenario's namespace. Use as a context manager, or call close() from a finalizer."""

    def __init__(self, label: str) -> None:
        number = next(_counter)
        safe = "".join(c if c.isalnum() else "-" for c in label)[:20].strip("-")
        # The creating pid is part of the name so the session sweep can tell stale namespaces from live ones.
        self.name = f"{PREFIX}{os.getpid()}-{number}-{safe}"[:60]
        self.etc = NETNS_ETC / self.name
        self.processes: list[subprocess.Popen[bytes]] = []
        self._created = False

    # lifecycle -----------------------------------------------------------------------------------------------
    def create(self, addresses: Iterable[str], resolv_conf: str, hosts: str) -> Namespace:
        _ip("netns", "add", self.name)
        self._created = True
        _ip("-n", self.name, "link", "set", "lo", "up")
        for address in sorted(set(addresses)):
            _ip("-n", self.name, "addr", "add", f"{address}/32", "dev", "lo")
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "resolv.conf").write_text(resolv_conf)
        (self.etc / "hosts").write_text(hosts)
        return self

    def close(self) -> None:
        for proc in self.processes:
            self._stop(proc)
        self.processes.clear()
        if self._created:
            _kill_namespace_pids(self.name)
            _ip("netns", "del", self.name, check=False)
            self._created = False
        shutil.rmtree(self.etc, ignore_errors=True)

    def __enter__(self) -> Namespace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=2)

    # running things inside -----------------------------------------------------------------------------------
    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(
        self, argv: Sequence[str], env: dict[str, str], timeout: float, cwd: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.exec_argv(argv), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )

    def start(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: str,
        log_dir: Path,
        ready: str = "ready",
        timeout: float = 15.0,
    ) -> subprocess.Popen[bytes]:
        """Start a long-running server inside the namespace and wait until it prints `ready` on stdout.

        Output goes to files (not pipes) so a chatty server can never block on a full pipe.
        """
        index = len(self.processes)
        out_path, err_path = log_dir / f"proc{index}.out", log_dir / f"proc{index}.err"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                self.exec_argv(argv),
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group, so stopping it cannot touch anything else
            )
        self.processes.append(proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready.encode() in out_path.read_bytes():
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        raise NamespaceError(
            f"{' '.join(argv)} did not print {ready!r} within {timeout}s (exit {proc.poll()}); "
            f"stdout={out_path.read_bytes()[-300:]!r} stderr={err_path.read_bytes()[-1500:]!r}"
        )

    def nft(self, ruleset: str) -> None:
        proc = subprocess.run(
            self.exec_argv(["nft", "-f", "-"]), input=ruleset, capture_output=True, text=True, timeout=10, check=False
        )
        if proc.returncode != 0:
            raise NamespaceError(f"nft in {self.name}: {proc.stderr.strip()}")

    def drop_rules(self, drops: Iterable[tuple[str, int]]) -> None:
        """Silently drop outgoing TCP to (address, port): a connect then times out instead of being refused."""
        rules = "\n".join(f"    ip daddr {addr} tcp dport {port} drop" for addr, port in drops)
        self.nft(
            "table inet aoai_e2e {\n  chain out {\n    type filter hook output priority 0; policy accept;\n"
            f"{rules}\n  }}\n}}\n"
        )
