#!/usr/bin/env python3
"""The federation suite: a top-level node and two secondaries (88.118 and 88.119) as separate
processes on loopback, each started from its documented configuration in docs/federation/
(with free ports and temporary paths put in), checked by an independent client that knows
only the top-level node (walk.py, the §8.1 algorithm).

Checks:
  * both secondaries' identifiers resolve through the top-level node over UDP, TCP and HTTP;
  * an enterprise prefix approved at a secondary becomes resolvable through the top-level node
    (docking creates its prefix handle there), and stops resolving once disabled;
  * secondary 88.118 resolves 88.119's identifiers recursively over UDP, TCP and HTTP.

Usage: suite.py --idnode PATH [--keep]. The last line is `N passed, M failed`.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "native"))
import hdlclient as h  # noqa: E402
from walk import Walker, WalkError, site_json_to_bytes  # noqa: E402

ADMIN_SECRET = "federation-admin-secret"
USCC = "91350100M000100Y43"
ADDRESS = re.compile(r"127\.0\.0\.1:(\d+)")


class Tally:
    """The checks of a suite: each runs, is reported and counted; `summary` is the last line."""

    def __init__(self) -> None:
        self.passed = self.failed = 0

    def check(self, name: str, fn) -> None:
        try:
            fn()
            self.passed += 1
            print(f"ok   {name}", flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported and counted
            self.failed += 1
            print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)

    def setup_failed(self, nodes: list["Node"]) -> None:
        """Counts a failure outside any check, with the nodes' logs."""
        self.failed += 1
        print(f"FAIL set-up\n{traceback.format_exc()}")
        for node in nodes:
            print(f"--- {node.name} log ---\n{node.log_tail()}")

    def summary(self) -> int:
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue


class Node:
    def __init__(self, name: str, prefix: str, config: str, idnode: Path, work: Path):
        self.name, self.prefix, self.idnode, self.work = name, prefix, idnode, work
        self.config_path = work / f"{name}.toml"
        self.config_path.write_text(config, encoding="utf-8")
        self.data = work / f"data-{name}"
        self.proc: subprocess.Popen | None = None
        listen = dict(re.findall(r'\[(\w+)\]\s*\nlisten = "127\.0\.0\.1:(\d+)"', config))
        self.http = int(listen["http"])
        self.https = int(listen["https"])
        self.native = int(listen["native"])

    def run(self, *args: str) -> str:
        out = subprocess.run([str(self.idnode), *args, "--data", str(self.data), "--config", str(self.config_path)],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=str(self.work))
        if out.returncode != 0:
            raise RuntimeError(f"{self.name}: idnode {args[0]} failed:\n{out.stdout}{out.stderr}")
        return out.stdout

    def start(self) -> None:
        log = open(self.work / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen([str(self.idnode), "serve", "--data", str(self.data), "--config",
                                      str(self.config_path)], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=str(self.work))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def log_tail(self) -> str:
        path = self.work / f"{self.name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-30:]) if path.exists() else ""

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}{path}", timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def snms(self, path: str, body: dict, auth: bool = True) -> dict:
        """A POST over HTTPS (credentials count only there) as the node administrator."""
        context = ssl.create_default_context(cafile=str(self.data / "tls" / "cert.pem"))
        context.check_hostname = False
        headers = {"Content-Type": "application/json"}
        if auth:
            user = f"300%3A{self.prefix}/ADMIN:{ADMIN_SECRET}"
            headers["Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
        req = urllib.request.Request(f"https://127.0.0.1:{self.https}{path}", data=json.dumps(body).encode(),
                                     headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30, context=context) as r:
                return json.load(r)
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read() or b"{}")

    def create(self, handle: str, url: str) -> None:
        admin = h.SecretKeyIdentity(f"{self.prefix}/ADMIN", 300, ADMIN_SECRET.encode(), mode="sha1")
        client = h.Client(h.TcpTransport("127.0.0.1", self.native))
        resp = client.create(handle, [h.admin_value(100, h.PERM_ALL, admin.handle, 300),
                                      h.text_value(1, "URL", url)], identity=admin)
        if resp.rc != h.RC.SUCCESS:
            raise RuntimeError(f"create {handle} at {self.name}: RC {resp.rc} {resp.message}")


def documented(name: str, ports: dict[int, int], work: Path) -> str:
    """A documented configuration with free ports and paths in this work folder."""
    text = (REPO / "docs" / "federation" / name).read_text(encoding="utf-8")
    text = ADDRESS.sub(lambda m: f"127.0.0.1:{ports.setdefault(int(m.group(1)), free_port())}", text)
    return re.sub(r'identity_key = "([^"]+)"', lambda m: f'identity_key = "{work / m.group(1)}"', text)


def eventually(what: str, check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - reported when time is up
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"not in time: {what} (last: {last!r})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--idnode", type=Path, required=True)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    args.idnode = args.idnode.resolve()
    work = Path(tempfile.mkdtemp(prefix="idnode-federation-"))
    (work / "admin.secret").write_text(ADMIN_SECRET + "\n")
    ports: dict[int, int] = {}
    top = Node("top", "88", documented("top-level.toml", ports, work), args.idnode, work)
    a = Node("a", "88.118", documented("secondary-88.118.toml", ports, work), args.idnode, work)
    b = Node("b", "88.119", documented("secondary-88.119.toml", ports, work), args.idnode, work)
    nodes = [top, a, b]
    tally = Tally()
    check = tally.check

    def hash_vector() -> None:
        # handle-protocol.md §8.3: MD5("88.118.8/ABC"), last four bytes, 3 servers: index 1.
        from walk import server_index
        site = {"servers": [{}, {}, {}], "hash_option": 2}
        assert server_index(site, "88.118.8/abc") == 1
    check("the server hash of §8.3 matches its vector", hash_vector)

    try:
        for node in nodes:
            node.run("init", "--prefix", node.prefix, "--admin-secret-file", str(work / "admin.secret"))
        for node in (a, b):
            (work / f"identity-{node.prefix}.secret").write_text(f"{node.prefix}-identity-secret\n")
            node.start()
            status, site = node.get("/api/site")
            assert status == 200, site
            (work / f"{node.prefix}-site.json").write_text(json.dumps(site))
            top.run("delegate", "--prefix", node.prefix, "--site", str(work / f"{node.prefix}-site.json"),
                    "--admin-secret-file", str(work / f"identity-{node.prefix}.secret"))
        top.start()
        a.create("88.118/chem-1", "https://a.example/chem-1")
        b.create("88.119/chem-2", "https://b.example/chem-2")
        # The client knows only the top-level node's site information.
        roots = [h.parse_site_info(site_json_to_bytes(top.get("/api/site")[1]["site"]))]

        def url_of(values) -> str:
            return next(v.data.decode() for v in values if v.type == "URL")

        for proto in ("udp", "tcp", "http"):
            for handle, url in (("88.118/chem-1", "https://a.example/chem-1"),
                                ("88.119/chem-2", "https://b.example/chem-2")):
                def walk(proto=proto, handle=handle, url=url):
                    rc, values = Walker(roots, proto).resolve(handle)
                    assert rc == h.RC.SUCCESS, f"RC {rc}"
                    assert url_of(values) == url
                check(f"through the top-level node over {proto}: {handle}", walk)

        def onboarding() -> None:
            applied = b.snms("/snms/api/v3/ent/apply", {
                "uscc": USCC, "orgName": "福建示范化工有限公司", "industryCode": "C2614",
                "regionCode": "350100", "address": "福州市示范路1号", "prefix": "88.119.5"}, auth=False)
            assert applied.get("status") == 1, applied
            for action in ("start", "approve"):
                reviewed = b.snms("/snms/api/v3/ent/review", {"uscc": USCC, "action": action})
                assert reviewed.get("status") == 1, reviewed
            record = f"88.119.5/E.{USCC}"
            eventually("the approved enterprise resolves through the top-level node",
                       lambda: Walker(roots, "udp").resolve(record)[0] == h.RC.SUCCESS)
            disabled = b.snms("/snms/api/v3/ent/review", {"uscc": USCC, "action": "disable",
                                                           "reason": "licence suspended"})
            assert disabled.get("status") == 1, disabled

            def gone() -> bool:
                try:
                    rc, _ = Walker(roots, "udp").resolve(record)
                    return rc == h.RC.HANDLE_NOT_FOUND
                except WalkError as exc:
                    return "not registered" in str(exc)
            eventually("the disabled enterprise stops resolving", gone)
        check("an approved enterprise prefix resolves through the top-level node; a disabled one does not",
              onboarding)

        for proto in ("udp", "tcp"):
            def recursive(proto=proto):
                transport = (h.UdpTransport("127.0.0.1", a.native) if proto == "udp"
                             else h.TcpTransport("127.0.0.1", a.native))
                try:
                    resp = h.Client(transport).resolve("88.119/chem-2", flags=h.FLAG_REC | h.FLAG_PO)
                finally:
                    transport.close()
                assert resp.rc == h.RC.SUCCESS, f"RC {resp.rc} {resp.message}"
                assert url_of(resp.values) == "https://b.example/chem-2"
            check(f"secondary 88.118 resolves 88.119's identifiers recursively over {proto}", recursive)

        def recursive_http() -> None:
            status, body = a.get("/api/handles/88.119/chem-2")
            assert status == 200 and body["responseCode"] == 1, body
        check("secondary 88.118 resolves 88.119's identifiers recursively over HTTP", recursive_http)
    except Exception:  # noqa: BLE001 - a set-up failure fails the suite
        tally.setup_failed(nodes)
    finally:
        for node in nodes:
            node.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return tally.summary()


if __name__ == "__main__":
    sys.exit(main())
