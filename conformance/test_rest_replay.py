#!/usr/bin/env python3
"""Offline tests of rest_replay.py's logic, run on the recorded vectors themselves (no node needed)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rest_replay as rr  # noqa: E402

SCENARIOS = {s["name"]: s for s in rr.load_scenarios(rr.DEFAULT_VECTORS)}
SEED = rr.load_seed(rr.DEFAULT_VECTORS)


def recorded_as_live(response: dict) -> rr.Response:
    """The recorded response in the shape of a live one."""
    raw = response.get("body_raw")
    if raw is None:
        body = response.get("body")
        raw = body if isinstance(body, str) else json.dumps(body)
    return rr.Response(response["status"], [tuple(h) for h in response.get("headers", [])], raw.encode("utf-8"))


class SelfComparison(unittest.TestCase):
    """Every recorded response must compare equal to itself, through the live-run code path."""

    def test_every_exchange_matches_itself(self):
        count = 0
        for name, scenario in SCENARIOS.items():
            state = rr.RunState()
            for number, exchange in enumerate(scenario["exchanges"]):
                _, target = rr.request_target(exchange["request"])
                live = recorded_as_live(exchange["response"])
                state.learn(target, exchange["response"], live)
                diffs = rr.compare_response(exchange["response"], live, state.reverse, target)
                self.assertEqual(diffs, [], f"{name} #{number}")
                count += 1
        self.assertGreater(count, 60)

    def test_every_file_has_exchanges_and_a_target(self):
        for name, scenario in SCENARIOS.items():
            self.assertTrue(scenario["exchanges"], name)
            for exchange in scenario["exchanges"]:
                scheme, target = rr.request_target(exchange["request"])
                self.assertIn(scheme, ("http", "https"), name)
                self.assertTrue(target.startswith("/api/"), name)


class Normalisation(unittest.TestCase):
    def setUp(self):
        self.exchange = SCENARIOS["get-handle"]["exchanges"][0]
        self.target = "/api/handles/88.118.8/chem-67-64-1"

    def live_with(self, mutate) -> rr.Response:
        body = copy.deepcopy(self.exchange["response"]["body"])
        mutate(body)
        headers = [tuple(h) for h in self.exchange["response"]["headers"]]
        return rr.Response(200, headers, json.dumps(body).encode())

    def diffs(self, mutate):
        return rr.compare_response(self.exchange["response"], self.live_with(mutate), {}, self.target)

    def test_timestamps_are_ignored(self):
        def change(body):
            for value in body["values"]:
                value["timestamp"] = "2031-01-01T00:00:00Z"
        self.assertEqual(self.diffs(change), [])

    def test_missing_timestamp_is_ignored_too(self):
        self.assertEqual(self.diffs(lambda b: b["values"][0].pop("timestamp")), [])

    def test_value_order_is_ignored(self):
        self.assertEqual(self.diffs(lambda b: b["values"].reverse()), [])

    def test_changed_value_is_reported_by_index(self):
        def change(body):
            body["values"][1]["data"]["value"] = "https://example.org/other"
        self.assertEqual([p for p, _ in self.diffs(change)], ["body.values[index=1].data.value"])

    def test_missing_and_extra_values(self):
        def change(body):
            body["values"].pop(2)
            body["values"].append({"index": 9, "type": "X", "data": {"format": "string", "value": "x"}})
        self.assertEqual(sorted(p for p, _ in self.diffs(change)), ["body.values[index=2]", "body.values[index=9]"])

    def test_types_are_strict(self):
        def change(body):
            body["values"][0]["data"]["value"]["index"] = "300"
        self.assertEqual([p for p, _ in self.diffs(change)], ["body.values[index=100].data.value.index"])

    def test_status_and_content_type(self):
        live = rr.Response(201, [("Content-Type", "text/plain")], json.dumps(self.exchange["response"]["body"]).encode())
        paths = [p for p, _ in rr.compare_response(self.exchange["response"], live, {}, self.target)]
        self.assertEqual(paths, ["status", "header:content-type"])

    def test_pretty_needs_indentation(self):
        exchange = SCENARIOS["get-handle-pretty"]["exchanges"][0]
        live = rr.Response(200, [("Content-Type", "application/json")], json.dumps(exchange["response"]["body"]).encode())
        paths = [p for p, _ in rr.compare_response(exchange["response"], live, {}, "/api/handles/x?pretty")]
        self.assertEqual(paths, ["body:pretty"])

    def test_jsonp_callback_name(self):
        exchange = SCENARIOS["get-handle-jsonp"]["exchanges"][0]
        raw = exchange["response"]["body_raw"].replace("cb(", "other(", 1)
        live = rr.Response(200, [("Content-Type", "application/javascript")], raw.encode())
        paths = [p for p, _ in rr.compare_response(exchange["response"], live, {}, "/api/handles/x?callback=cb")]
        self.assertEqual(paths, ["body:callback"])

    def test_list_totals_are_strings_in_the_vectors(self):
        exchange = SCENARIOS["list-handles-page"]["exchanges"][0]
        body = copy.deepcopy(exchange["response"]["body"])
        body["totalCount"] = 115
        live = rr.Response(200, [("Content-Type", "application/json")], json.dumps(body).encode())
        paths = [p for p, _ in rr.compare_response(exchange["response"], live, {}, "/api/handles?prefix=88.118.8")]
        self.assertEqual(paths, ["body.totalCount"])

    def test_site_identity_is_masked(self):
        exchange = SCENARIOS["get-site"]["exchanges"][0]
        body = copy.deepcopy(exchange["response"]["body"])
        server = body["site"]["servers"][0]
        server["publicKey"] = {"format": "key", "value": {"kty": "OKP"}}
        server["address"] = "127.0.0.2"
        server["interfaces"][2]["port"] = 9999
        body["site"]["attributes"][0]["value"] = "idnode"
        live = rr.Response(200, [("Content-Type", "application/json")], json.dumps(body).encode())
        self.assertEqual(rr.compare_response(exchange["response"], live, {}, "/api/site"), [])
        body["site"]["protocolVersion"] = "2.10"
        live = rr.Response(200, [("Content-Type", "application/json")], json.dumps(body).encode())
        paths = [p for p, _ in rr.compare_response(exchange["response"], live, {}, "/api/site")]
        self.assertEqual(paths, ["body.site.protocolVersion"])

    def test_challenge_shape_ignores_values(self):
        exchange = SCENARIOS["put-no-auth"]["exchanges"][0]
        headers = [
            ("WWW-Authenticate", 'Basic realm="handle"'),
            ("WWW-Authenticate", 'Handle sessionId="abc", nonce="AAAAAAAAAAAAAAAAAAAAAA=="'),
            ("Content-Type", "application/json"),
        ]
        live = rr.Response(401, headers, json.dumps(exchange["response"]["body"]).encode())
        self.assertEqual(rr.compare_response(exchange["response"], live, {}, "/api/handles/88.118.8/rest-2"), [])
        live.headers = headers[1:]
        paths = [p for p, _ in rr.compare_response(exchange["response"], live, {}, "/api/handles/88.118.8/rest-2")]
        self.assertEqual(paths, ["header:www-authenticate"])


class PerRunValues(unittest.TestCase):
    def test_minted_handle_maps_back(self):
        exchange = SCENARIOS["put-mint-new-suffix"]["exchanges"][0]
        _, target = rr.request_target(exchange["request"])
        state = rr.RunState()
        live = rr.Response(201, [("Content-Type", "application/json")],
                           b'{"responseCode":1,"handle":"88.118.8/mint-0123456789abcdef"}')
        state.learn(target, exchange["response"], live)
        self.assertEqual(state.minted, ["88.118.8/mint-0123456789abcdef"])
        self.assertEqual(rr.compare_response(exchange["response"], live, state.reverse, target), [])

    def test_minted_handle_must_keep_the_stem(self):
        exchange = SCENARIOS["put-mint-new-suffix"]["exchanges"][0]
        _, target = rr.request_target(exchange["request"])
        state = rr.RunState()
        live = rr.Response(201, [("Content-Type", "application/json")], b'{"responseCode":1,"handle":"88.118.8/other"}')
        state.learn(target, exchange["response"], live)
        paths = [p for p, _ in rr.compare_response(exchange["response"], live, state.reverse, target)]
        self.assertEqual(paths, ["body.handle"])

    def test_session_ids_must_stay_consistent(self):
        exchanges = SCENARIOS["session-seckey-hmac-sha256"]["exchanges"]
        state = rr.RunState()
        first = rr.Response(201, [("Content-Type", "application/json"), ("Location", "/api/sessions/this")],
                            b'{"sessionId":"live-1","nonce":"AAECAwQFBgcICQoLDA0ODw=="}')
        state.learn("/api/sessions", exchanges[0]["response"], first)
        self.assertEqual(rr.compare_response(exchanges[0]["response"], first, state.reverse, "/api/sessions"), [])
        self.assertEqual(state.nonces["live-1"], bytes(range(16)))
        # A later answer naming another session is a difference.
        other = rr.Response(200, [("Content-Type", "application/json")],
                            b'{"sessionId":"live-2","nonce":"AAECAwQFBgcICQoLDA0ODw==","authenticated":true,'
                            b'"id":"300:88.118.8/ADMIN"}')
        paths = [p for p, _ in rr.compare_response(exchanges[2]["response"], other, state.reverse, "/api/sessions/this")]
        self.assertEqual(paths, ["body.sessionId"])
        # Requests carry the live session id.
        headers = rr.prepare_headers(exchanges[2]["request"]["headers"], state, rr.Identities.from_seed(SEED, None))
        self.assertIn(("Authorization", 'Handle sessionId="live-1"'), headers)


class Signatures(unittest.TestCase):
    """The recomputed signatures equal the recorded ones when given the recorded nonce."""

    def check_scenario(self, name):
        scenario = SCENARIOS[name]
        ids = rr.Identities.from_seed(SEED, None)
        state = rr.RunState()
        first = scenario["exchanges"][0]
        _, target = rr.request_target(first["request"])
        state.learn(target, first["response"], recorded_as_live(first["response"]))
        self.assertTrue(state.nonces, "a nonce was learned")
        signed = next(e for e in scenario["exchanges"]
                      if "signature=" in dict(e["request"]["headers"]).get("Authorization", ""))
        recorded_auth = dict(signed["request"]["headers"])["Authorization"]
        rebuilt = dict(rr.prepare_headers(signed["request"]["headers"], state, ids))["Authorization"]
        self.assertEqual(rebuilt, recorded_auth)

    def test_hmac_sha256_session(self):
        self.check_scenario("session-seckey-hmac-sha256")

    def test_rsa_sha256_session(self):
        self.check_scenario("session-pubkey-rsa-sha256")

    def test_challenge_in_www_authenticate(self):
        self.check_scenario("challenge-then-handle-auth")

    def test_sha1_seckey_construction(self):
        ids = rr.Identities.from_seed(SEED, None)
        got = rr.handle_signature(ids, rr.ADMIN_USER, "HS_SECKEY", "SHA1", b"n", b"c")
        self.assertEqual(got, hashlib.sha1(b"secret-pwnc" + b"secret-pw").digest())

    def test_basic_secret_is_swapped_for_the_live_one(self):
        ids = rr.Identities.from_seed(SEED, "other")
        header = SCENARIOS["put-create"]["exchanges"][0]["request"]["headers"]
        auth = dict(rr.prepare_headers(header, rr.RunState(), ids))["Authorization"]
        self.assertEqual(base64.b64decode(auth.split()[1]), b"300%3A88.118.8%2FADMIN:other")
        # Other identities keep their recorded secret.
        header = SCENARIOS["put-not-admin"]["exchanges"][0]["request"]["headers"]
        self.assertEqual(rr.prepare_headers(header, rr.RunState(), ids), [tuple(h) for h in header])

    def test_basic_auth_encoding_matches_the_vectors(self):
        recorded = dict(SCENARIOS["put-create"]["exchanges"][0]["request"]["headers"])["Authorization"]
        self.assertEqual(rr.basic_auth(rr.ADMIN_USER, "secret-pw"), recorded)


class KnownDifferences(unittest.TestCase):
    def test_file_is_well_formed(self):
        entries = rr.load_differences(rr.DEFAULT_DIFFERENCES)
        for entry in entries:
            self.assertIn(entry["scenario"], SCENARIOS, entry)
            self.assertGreater(len(entry.get("reason", "").strip()), 10, entry)
            exchange = entry.get("exchange", "*")
            if isinstance(exchange, int):
                self.assertLess(exchange, len(SCENARIOS[entry["scenario"]]["exchanges"]), entry)
            else:
                self.assertIn(exchange, ("*", "seed"), entry)

    def test_classify_known_unknown_and_stale(self):
        checks = [
            rr.Check("a", 0, [("status", "x"), ("body.message", "y")]),
            rr.Check("b", 1, []),
        ]
        entries = [
            {"scenario": "a", "exchange": 0, "path": "body.*", "reason": "r"},
            {"scenario": "b", "exchange": "*", "path": "*", "reason": "r"},
        ]
        stale = rr.classify(checks, entries)
        self.assertEqual(checks[0].known, [("body.message", "y")])
        self.assertEqual(checks[0].unknown, [("status", "x")])
        self.assertEqual(stale, [entries[1]])
        lines = []
        passed, failed = rr.report(checks, stale, False, out=lines.append)
        self.assertEqual((passed, failed), (1, 2))


class Seeding(unittest.TestCase):
    def test_global_records_include_the_listing_set(self):
        replayer = rr.Replayer(node=None, ids=rr.Identities.from_seed(SEED, None), seed=SEED)
        listed = SCENARIOS["list-handles-count"]["exchanges"][0]["response"]["body"]["handles"]
        records = replayer.global_records()
        under_prefix = sorted(h.upper() for h in records if h.startswith("88.118.8/"))
        self.assertEqual(under_prefix, sorted(listed))

    def test_admin_secret_goes_into_the_identity_record(self):
        ids = rr.Identities.from_seed(SEED, "live-secret")
        values = rr.admin_secret_in(SEED["records"]["88.118.8/ADMIN"], ids, "88.118.8/ADMIN")
        self.assertEqual([v["data"]["value"] for v in values if v["type"] == "HS_SECKEY"], ["live-secret"])
        values = rr.admin_secret_in(SEED["records"]["88.118.8/USER1"], ids, "88.118.8/USER1")
        self.assertEqual([v["data"]["value"] for v in values if v["type"] == "HS_SECKEY"], ["user1-pw"])


if __name__ == "__main__":
    unittest.main()
