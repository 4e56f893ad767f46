#!/usr/bin/env python3
"""The federation suite against the reference Handle.Net 9.3.1 server and its client tools,
from a local copy of the distribution that HANDLE_NET_DIR points to (the `handle-9.3.1`
folder, prepared as docs/federation.md says; it is never part of this repository). Without
the variable the suite skips with a message.

  1. The reference server as the top-level node of an idnode secondary (88.118): it holds
     `0.NA/88.118` (with a stale site) and the secondary's identity, allowed to add and delete
     derived prefixes and change values; the secondary docks with it: it corrects its
     HS_SITE and HS_SITE.PREFIX there, an enterprise prefix approved at the secondary appears
     there as `0.NA/88.118.8` (created by idnode over the native protocol, authenticated as
     300:0.NA/88.118 by challenge-response), the reference client, whose only root is the
     reference server, resolves `88.118.8/E.<USCC>` down to idnode (`HDLTrace`, certified
     answers), and the prefix handle is deleted there once the enterprise is disabled.
  2. An idnode top-level node as the only root of the reference client, which resolves an
     identifier of an idnode secondary (88.119) through it.

Usage: reference_suite.py --idnode PATH [--keep]. The last line is `N passed, M failed[, K skipped]`.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "native"))
sys.path.insert(0, str(HERE))  # first: `suite` is this folder's, not conformance/native's
import hdlclient as h  # noqa: E402
from suite import ADMIN_SECRET, USCC, Node, Tally, documented, eventually, free_port  # noqa: E402

NA_SECRET = "na-pw"
ROOT_SECRET = "root-pw"
TS = "2026-01-01T00:00:00Z"


class Reference:
    """Runs classes of the distribution with private configuration directories."""

    def __init__(self, home: Path, work: Path):
        jars = sorted(home.glob("lib/*.jar")) + sorted(home.glob("lib/*/*.jar"))
        self.classpath = ":".join(str(j) for j in jars)
        self.work = work

    def java(self, config_dir: Path, *args: str, stdin: str = "", timeout: float = 120,
             background: bool = False, log: Path | None = None):
        command = ["java", f"-Duser.home={self.work / 'home'}", f"-Dnet.handle.configDir={config_dir}",
                   "-cp", self.classpath, *args]
        if background:
            out = open(log or os.devnull, "ab")
            return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=str(self.work), start_new_session=True)
        return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=timeout,
                              cwd=str(self.work))


def value(index: int, vtype: str, data: dict, **extra) -> dict:
    return {"index": index, "type": vtype, "data": data, "ttl": 86400, "timestamp": TS, **extra}


def admin(handle: str, index: int, batch_perms: str) -> dict:
    # The loader's permission string is the reverse of the batch order (handle-net-federation.md §2).
    return {"format": "admin", "value": {"handle": handle, "index": index, "permissions": batch_perms[::-1]}}


def client_config(directory: Path, root_site: dict, root_key: dict) -> Path:
    """A reference client configuration whose only root is `root_site`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.dct").write_text('{\n  "auto_update_root_info" = "no"\n}\n')
    bootstrap = {"lastUpdate": 4102444800000, "handles": {
        "0.0/0.0": {"handle": "0.0/0.0", "values": [value(300, "HS_PUBKEY", root_key)]},
        "0.NA/0.NA": {"handle": "0.NA/0.NA", "values": [value(1, "HS_SITE", {"format": "site", "value": root_site})]},
    }}
    (directory / "bootstrap_handles").write_text(json.dumps(bootstrap))
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--idnode", type=Path, required=True)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    home = os.environ.get("HANDLE_NET_DIR")
    if not home:
        print("skipped: HANDLE_NET_DIR is not set (the reference Handle.Net 9.3.1 distribution; "
              "see docs/federation.md, \"Against the reference server\")")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    if shutil.which("java") is None:
        print("skipped: no java on PATH")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    args.idnode = args.idnode.resolve()
    work = Path(tempfile.mkdtemp(prefix="idnode-reference-"))
    ref = Reference(Path(home), work)
    tally = Tally()
    check = tally.check
    procs: list[subprocess.Popen] = []
    nodes: list[Node] = []

    try:
        (work / "admin.secret").write_text(ADMIN_SECRET + "\n")
        (work / "identity-88.118.secret").write_text(NA_SECRET + "\n")
        # The idnode secondary 88.118, docking with the reference server.
        ref_port, ref_http = free_port(), free_port()
        ports: dict[int, int] = {}
        config = documented("secondary-88.118.toml", ports, work).replace(
            f'top_level = ["127.0.0.1:{ports[2741]}"]', f'top_level = ["127.0.0.1:{ref_port}"]').replace(
            "report_interval = 3600", "report_interval = 2")
        secondary = Node("secondary", "88.118", config, args.idnode, work)
        nodes.append(secondary)
        secondary.run("init", "--prefix", "88.118", "--admin-secret-file", str(work / "admin.secret"))
        secondary.start()
        idnode_site = secondary.get("/api/site")[1]["site"]

        # The reference server: keys, site, configuration, seed, start.
        svr = work / "svr"
        svr.mkdir()
        keygen = ref.java(work, "net.handle.apps.tools.KeyGenerator", str(svr / "privkey.bin"),
                          str(svr / "pubkey.bin"), stdin="n\n")
        assert (svr / "pubkey.bin").exists(), keygen.stdout + keygen.stderr
        pub = base64.b64encode((svr / "pubkey.bin").read_bytes()).decode()
        ref_site = {"version": 1, "protocolVersion": "2.11", "serialNumber": 1, "primarySite": True,
                    "multiPrimary": False, "attributes": [{"name": "desc", "value": "reference top-level node"}],
                    "servers": [{"serverId": 1, "address": "127.0.0.1", "publicKey": {"format": "base64", "value": pub},
                                 "interfaces": [{"query": True, "admin": True, "protocol": "TCP", "port": ref_port},
                                                {"query": True, "admin": False, "protocol": "UDP", "port": ref_port},
                                                {"query": True, "admin": True, "protocol": "HTTP", "port": ref_http}]}]}
        (svr / "siteinfo.json").write_text(json.dumps(ref_site))
        interfaces = "".join(
            f'  "hdl_{kind}_config" = {{\n    "bind_address" = "127.0.0.1"\n    "num_threads" = "15"\n'
            f'    "bind_port" = "{port}"\n    "backlog" = "5"\n    "log_accesses" = "yes"\n  }}\n'
            for kind, port in (("http", ref_http), ("udp", ref_port), ("tcp", ref_port)))
        (svr / "config.dct").write_text(
            "{\n" + interfaces + '  "server_type" = "server"\n  "log_save_config" = { "log_save_interval" = "Never" }\n'
            '  "no_udp_resolution" = "n"\n  "interfaces" = ( "hdl_udp" "hdl_tcp" "hdl_http" )\n'
            '  "server_config" = {\n    "server_admins" = ( "300:0.NA/0.NA" )\n    "replication_admins" = ( )\n'
            '    "auto_homed_prefixes" = ( "0.NA/0.NA" )\n    "max_session_time" = "86400000"\n'
            '    "this_server_id" = "1"\n    "max_auth_time" = "60000"\n    "server_admin_full_access" = "yes"\n'
            '    "allow_na_admins" = "yes"\n    "case_sensitive" = "no"\n    "enable_txn_queue" = "no"\n'
            '    "allow_recursion" = "no"\n    "allow_list_hdls" = "yes"\n    "auto_update_root_info" = "no"\n'
            '    "enable_monitor_daemon" = "no"\n  }\n}\n')
        # A stale site (port 1): docking must correct it there.
        stale_site = json.loads(json.dumps(idnode_site))
        for interface in stale_site["servers"][0]["interfaces"]:
            interface["port"] = 1
        site = {"format": "site", "value": stale_site}
        records = {
            "0.NA/0.NA": [value(100, "HS_ADMIN", admin("0.NA/0.NA", 300, "111111111111")),
                          value(300, "HS_SECKEY", {"format": "string", "value": ROOT_SECRET}, permissions="1100"),
                          value(1, "HS_SITE", {"format": "site", "value": ref_site})],
            "0.NA/88.118": [value(100, "HS_ADMIN", admin("0.NA/0.NA", 300, "111111111111")),
                            value(101, "HS_ADMIN", admin("0.NA/88.118", 300, "001111110000")),
                            value(300, "HS_SECKEY", {"format": "string", "value": NA_SECRET}, permissions="1100"),
                            value(1, "HS_SITE", site), value(2, "HS_SITE.PREFIX", site)],
        }
        seed = {"homedPrefixes": ["0.NA/0.NA"],
                "handleRecords": {k: {"handle": k, "values": v} for k, v in records.items()}}
        (work / "seed.json").write_text(json.dumps(seed))
        server_client = client_config(work / "svrclientcfg", ref_site, {"format": "base64", "value": pub})
        loaded = ref.java(server_client, "net.handle.apps.tools.LoadHandlesIntoStorageFromJson",
                          "-f", str(work / "seed.json"), "-h", str(svr))
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        procs.append(ref.java(server_client, "-Xmx200M", "net.handle.server.Main", str(svr),
                              background=True, log=work / "reference.log"))

        def reference_up() -> bool:
            try:
                return h.Client(h.TcpTransport("127.0.0.1", ref_port, timeout=2)).resolve(
                    "0.NA/88.118", flags=h.FLAG_PO).rc == h.RC.SUCCESS
            except Exception:  # noqa: BLE001 - not up yet
                return False
        eventually("the reference server answers", reference_up, timeout=90)

        native_port = next(i["port"] for i in idnode_site["servers"][0]["interfaces"] if i["protocol"] == "TCP")

        def site_corrected() -> None:
            def names_idnode() -> bool:
                resp = h.Client(h.TcpTransport("127.0.0.1", ref_port, timeout=5)).resolve(
                    "0.NA/88.118", flags=h.FLAG_PO | h.FLAG_DNRF)
                sites = [h.parse_site_info(v.data) for v in resp.values or []
                         if v.type in ("HS_SITE", "HS_SITE.PREFIX")]
                return len(sites) == 2 and all(
                    any(port == native_port for _k, _p, port in s["servers"][0]["interfaces"]) for s in sites)
            eventually("0.NA/88.118's HS_SITE and HS_SITE.PREFIX at the reference server name idnode",
                       names_idnode, timeout=60)
        check("idnode corrects its HS_SITE at the reference server (MODIFY_VALUE as 300:0.NA/88.118)",
              site_corrected)

        def enterprise_prefix_at_reference() -> None:
            applied = secondary.snms("/snms/api/v3/ent/apply", {
                "uscc": USCC, "orgName": "福建示范化工有限公司", "industryCode": "C2614",
                "regionCode": "350100", "address": "福州市示范路1号", "prefix": "88.118.8"}, auth=False)
            assert applied.get("status") == 1, applied
            for action in ("start", "approve"):
                reviewed = secondary.snms("/snms/api/v3/ent/review", {"uscc": USCC, "action": action})
                assert reviewed.get("status") == 1, reviewed

            def created() -> bool:
                resp = h.Client(h.TcpTransport("127.0.0.1", ref_port, timeout=5)).resolve(
                    "0.NA/88.118.8", flags=h.FLAG_PO | h.FLAG_DNRF)
                return resp.rc == h.RC.SUCCESS and any(v.type == "HS_SITE" for v in resp.values or [])
            eventually("0.NA/88.118.8 created at the reference server by idnode", created, timeout=60)
        check("idnode registers 0.NA/88.118.8 at the reference server (challenge-response as 300:0.NA/88.118)",
              enterprise_prefix_at_reference)

        def reference_client_resolves_through(root_site, root_key, handle, cfg_name) -> None:
            cfg = client_config(work / cfg_name, root_site, root_key)
            out = ref.java(cfg, "net.handle.apps.simple.HDLTrace", handle, timeout=120)
            text = out.stdout + out.stderr
            assert out.returncode == 0, text
            assert f"rc=1" in text and handle.lower() in text.lower(), text
            assert "HandleException" not in text, text

        check("the reference client, rooted at the reference server, resolves 88.118.8/E.<USCC> down to idnode",
              lambda: reference_client_resolves_through(ref_site, {"format": "base64", "value": pub},
                                                        f"88.118.8/E.{USCC}", "root-reference"))

        def withdrawn_at_reference() -> None:
            disabled = secondary.snms("/snms/api/v3/ent/review", {"uscc": USCC, "action": "disable",
                                                                   "reason": "licence suspended"})
            assert disabled.get("status") == 1, disabled

            def gone() -> bool:
                resp = h.Client(h.TcpTransport("127.0.0.1", ref_port, timeout=5)).resolve(
                    "0.NA/88.118.8", flags=h.FLAG_PO | h.FLAG_DNRF)
                return resp.rc == h.RC.HANDLE_NOT_FOUND
            eventually("0.NA/88.118.8 deleted at the reference server", gone, timeout=60)
        check("a disabled enterprise prefix is withdrawn from the reference server (DELETE as 300:0.NA/88.118)",
              withdrawn_at_reference)

        def no_reports() -> None:
            log = work / "secondary.log"
            eventually("the secondary notices that the reference server takes no reports",
                       lambda: "takes no operation reports" in log.read_text(errors="replace"), timeout=30)
            assert secondary.proc is not None and secondary.proc.poll() is None, "the secondary stopped"
        check("the reference server takes no operation reports; the secondary says so and goes on", no_reports)

        # 2. An idnode top-level node as the reference client's root.
        ports2: dict[int, int] = {}
        top = Node("top", "88", documented("top-level.toml", ports2, work), args.idnode, work)
        b = Node("b", "88.119", documented("secondary-88.119.toml", ports2, work), args.idnode, work)
        nodes.extend([top, b])
        (work / "identity-88.119.secret").write_text("88.119-identity-secret\n")
        for node in (top, b):
            node.run("init", "--prefix", node.prefix, "--admin-secret-file", str(work / "admin.secret"))
        b.start()
        (work / "88.119-site.json").write_text(json.dumps(b.get("/api/site")[1]))
        top.run("delegate", "--prefix", "88.119", "--site", str(work / "88.119-site.json"),
                "--admin-secret-file", str(work / "identity-88.119.secret"))
        top.start()
        b.create("88.119/chem-2", "https://b.example/chem-2")
        top_site = top.get("/api/site")[1]["site"]
        top_key = {"format": "key", "value": top_site["servers"][0]["publicKey"]["value"]}
        check("the reference client, rooted at an idnode top-level node, resolves 88.119/chem-2 at an idnode secondary",
              lambda: reference_client_resolves_through(top_site, top_key, "88.119/chem-2", "root-idnode"))
    except Exception:  # noqa: BLE001 - a set-up failure fails the suite
        tally.setup_failed(nodes)
        log = work / "reference.log"
        if log.exists():
            print("--- reference server ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:]))
    finally:
        for node in nodes:
            node.stop()
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return tally.summary()


if __name__ == "__main__":
    sys.exit(main())
