#!/usr/bin/env python3
"""Runs the conformance suites, each against a fresh idnode on free loopback ports.

For every suite: a new data directory in a temporary folder, `idnode init` with a known admin secret,
`idnode serve` on two free 127.0.0.1 ports (plain HTTP and HTTPS), a wait until `GET /healthz`
answers 200, the suite itself, then the node is stopped. Exits non-zero when the node cannot be
started or any suite fails; the last line printed is the total `N passed, M failed`.

The `native` suite (conformance/native/) also runs the offline checks of the native client, and
its node serves the native Handle protocol on a free port as well (`--handle`); while the idnode
binary has no `--handle` option, only the offline checks run and the live part is reported skipped.

The `federation` suite (conformance/federation/) starts a hierarchy of its own: a top-level node
and two secondaries from the configurations documented in docs/federation/; `federation-reference`
runs the reference Handle.Net server and client against idnode when HANDLE_NET_DIR is set.

Usage: run.py [--idnode PATH] [--suite rest-replay|pyhandle|native|federation|federation-reference ...] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PREFIX = "88.118.8"
# The secret the REST vectors were recorded with; using it lets recorded Basic headers go out as-is.
ADMIN_SECRET = "secret-pw"
SUMMARY = re.compile(r"^(?:\w+: )?(\d+) passed, (\d+) failed(?:, \d+ skipped)?$")
START_TIMEOUT = 60.0


def suite_commands(https: str, http: str, cert: Path, secret: Path, handle: str = "") -> dict[str, list[str]]:
    """The command line of each suite."""
    py = sys.executable
    return {
        "native": native_suite_command(https, http, cert, secret, handle),
        "rest-replay": [py, str(HERE / "rest_replay.py"), "--https", https, "--http", http,
                        "--cert", str(cert), "--admin-secret-file", str(secret)],
        "pyhandle": [py, str(HERE / "pyhandle_suite.py"), "--url", https, "--cert", str(cert),
                     "--password-file", str(secret)],
    }


# Suites that start nodes of their own, by script in conformance/federation/. The reference
# suite skips unless HANDLE_NET_DIR names a copy of the Handle.Net 9.3.1 distribution.
OWN_NODES = {"federation": "suite.py", "federation-reference": "reference_suite.py"}

# Suites whose node also serves the native Handle protocol (`idnode serve --handle ADDR`).
NATIVE_SUITES = {"native"}


def native_suite_command(https: str, http: str, cert: Path, secret: Path, handle: str) -> list[str]:
    """The native suite: offline checks always, the live tests when the node serves `--handle`."""
    command = [sys.executable, str(HERE / "native" / "suite.py"), "--offline"]
    if not handle:
        return command + ["--skip-live", "this idnode binary has no `serve --handle` option"]
    return command + ["--handle", handle, "--http", http, "--https", https, "--cert", str(cert),
                      "--admin-secret-file", str(secret)]


def serves_native(idnode: Path) -> bool:
    """Whether `idnode serve` takes `--handle` (the native protocol listener)."""
    out = subprocess.run([str(idnode), "serve", "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return "--handle" in out.stdout


def section(title: str) -> None:
    print(f"\n==== {title} ====", flush=True)


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (the node binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def default_idnode() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "idnode"


class NodeProcess:
    """One `idnode serve` child process and its log file."""

    def __init__(self, idnode: Path, data: Path, log_path: Path):
        self.idnode = idnode
        self.data = data
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.http = self.https = ""
        # Set to True before start() to also listen for the native protocol; `handle` is its address.
        self.native = False
        self.handle = ""

    def start(self) -> None:
        """Starts the node and waits for /healthz; retries with new ports if it dies while starting."""
        last_error = ""
        for _attempt in range(3):
            http_port, https_port = free_port(), free_port()
            while https_port == http_port:
                https_port = free_port()
            self.http = f"http://127.0.0.1:{http_port}"
            self.https = f"https://127.0.0.1:{https_port}"
            extra = []
            if self.native:
                handle_port = free_port()
                while handle_port in (http_port, https_port):
                    handle_port = free_port()
                self.handle = f"127.0.0.1:{handle_port}"
                extra = ["--handle", self.handle]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(self.idnode), "serve", "--data", str(self.data),
                     "--http", f"127.0.0.1:{http_port}", "--https", f"127.0.0.1:{https_port}", *extra],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                )
            last_error = self._wait_healthy()
            if not last_error:
                return
            self.stop()
        raise RuntimeError(f"idnode did not become ready: {last_error}")

    def _wait_healthy(self) -> str:
        """Polls /healthz until it answers 200; returns an error description or ''."""
        deadline = time.monotonic() + START_TIMEOUT
        delay = 0.05
        last = "no answer"
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return f"idnode serve exited with status {self.proc.returncode}"
            try:
                with urllib.request.urlopen(self.http + "/healthz", timeout=2) as resp:
                    if resp.status == 200 and (self.data / "tls" / "cert.pem").exists():
                        return ""
                    last = f"/healthz answered {resp.status}"
            except urllib.error.HTTPError as exc:
                last = f"/healthz answered {exc.code}"
            except OSError as exc:
                last = str(exc)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        return f"timed out after {START_TIMEOUT:.0f} s ({last})"

    def stop(self) -> None:
        """Stops the node (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def stream_suite(command: list[str]) -> tuple[int | None, int | None, int]:
    """Runs a suite's command, echoing its output; returns its summary counts (None without a
    summary line) and its exit status."""
    passed = failed = None
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, cwd=str(REPO))
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        match = SUMMARY.match(line.strip())
        if match:
            passed, failed = int(match.group(1)), int(match.group(2))
    return passed, failed, proc.wait()


def run_own_nodes(name: str, command: list[str]) -> tuple[int, int, bool]:
    """Runs a suite that starts its own nodes; returns (passed, failed, ok)."""
    passed, failed, status = stream_suite(command)
    if passed is None or failed is None:
        print(f"{name}: no summary line (exit status {status})")
        return 0, 1, False
    return passed, max(failed, 0 if status == 0 else 1), status == 0


def run_suite(name: str, idnode: Path, workdir: Path) -> tuple[int, int, bool]:
    """Runs one suite against a fresh node; returns (passed, failed, ok)."""
    section(f"conformance: {name}")
    if name in OWN_NODES:
        return run_own_nodes(name, [sys.executable, str(HERE / "federation" / OWN_NODES[name]),
                                    "--idnode", str(idnode)])
    suite_dir = workdir / name
    data = suite_dir / "data"
    suite_dir.mkdir(parents=True)
    secret = suite_dir / "admin-secret"
    secret.write_text(ADMIN_SECRET + "\n", encoding="utf-8")
    init = subprocess.run(
        [str(idnode), "init", "--data", str(data), "--prefix", PREFIX, "--admin-secret-file", str(secret)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    if init.returncode != 0:
        print(f"idnode init failed with status {init.returncode}:\n{init.stdout}{init.stderr}")
        return 0, 1, False

    node = NodeProcess(idnode, data, suite_dir / "node.log")
    node.native = name in NATIVE_SUITES and serves_native(idnode)
    try:
        try:
            node.start()
        except RuntimeError as exc:
            print(f"{exc}\n--- node log ---\n{node.log_tail()}")
            return 0, 1, False
        print(f"node ready: {node.https} (HTTPS), {node.http} (HTTP), data {data}", flush=True)
        command = suite_commands(node.https, node.http, data / "tls" / "cert.pem", secret, node.handle)[name]
        if node.handle:
            # The native suite starts a second node of its own with a low-quota configuration.
            command += ["--idnode", str(idnode)]
        passed, failed, status = stream_suite(command)
        ok = status == 0
        if passed is None:
            print(f"{name}: no summary line (exit status {status})")
            passed, failed = 0, 1
        if not ok:
            if failed == 0:
                failed = 1
            print(f"--- last lines of the node log ({node.log_path.name}) ---\n{node.log_tail()}")
        return passed, failed, ok
    finally:
        node.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--idnode", type=Path, default=default_idnode(), help="the idnode binary")
    parser.add_argument("--suite", action="append", choices=["rest-replay", "pyhandle", "native", *OWN_NODES],
                        help="run only this suite (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (data, logs)")
    args = parser.parse_args()
    if not args.idnode.is_file():
        print(f"idnode binary not found at {args.idnode}; build it with `cargo build -p idnode --bin idnode`")
        print("0 passed, 1 failed")
        return 1

    suites = args.suite or ["rest-replay", "pyhandle", "native", *OWN_NODES]
    workdir = Path(tempfile.mkdtemp(prefix="idnode-conformance-"))
    total_passed = total_failed = 0
    all_ok = True
    try:
        for name in suites:
            passed, failed, ok = run_suite(name, args.idnode, workdir)
            total_passed += passed
            total_failed += failed
            all_ok = all_ok and ok
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    section("conformance: total")
    print(f"{total_passed} passed, {total_failed} failed")
    return 0 if all_ok and total_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
