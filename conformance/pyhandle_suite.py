#!/usr/bin/env python3
"""Drives a live idnode with the unmodified pyhandle 1.5.0 REST client over HTTPS.

Usage: pyhandle_suite.py --url https://127.0.0.1:PORT (--cert DIR/tls/cert.pem | --insecure)
       --password-file FILE [--username 300:88.118.8/ADMIN]

Each test makes its own handles (random suffixes) and deletes them afterwards, so the tests are
independent of each other and of their order. Expectations follow pyhandle's own code
(`pyhandle/client/resthandleclient.py`, `handlesystemconnector.py`, `hsresponses.py` of 1.5.0) and
what the reference server answered it (`vectors/handle-rest/pyhandle-client-flow.json`).
The last line printed is `N passed, M failed`.
"""

from __future__ import annotations

import argparse
import re
import sys
import unittest
import uuid
import warnings

from pyhandle.client.resthandleclient import RESTHandleClient
from pyhandle.handleclient import PyHandleClient
from pyhandle.handleexceptions import (
    GenericHandleError,
    HandleAlreadyExistsException,
    HandleAuthenticationError,
    HandleNotFoundException,
)

PREFIX = "88.118.8"

# Filled in by main() from the command line.
CONFIG: dict[str, object] = {}


def new_handle(label: str) -> str:
    """A handle name no other test uses."""
    return f"{PREFIX}/pyhandle-{label}-{uuid.uuid4().hex[:12]}"


def by_type(record: dict) -> dict[str, list[dict]]:
    """The values of a JSON record grouped by type."""
    out: dict[str, list[dict]] = {}
    for value in record["values"]:
        out.setdefault(value["type"], []).append(value)
    return out


class PyhandleAgainstNode(unittest.TestCase):
    """pyhandle's REST client against the node, one behaviour per test."""

    client: RESTHandleClient

    @classmethod
    def setUpClass(cls):
        cls.client = PyHandleClient("rest").instantiate_with_username_and_password(
            CONFIG["url"], CONFIG["username"], CONFIG["password"], HTTPS_verify=CONFIG["verify"]
        )

    def setUp(self):
        self.created: list[str] = []

    def tearDown(self):
        for handle in self.created:
            try:
                self.client.delete_handle(handle)
            except (HandleNotFoundException, GenericHandleError):
                pass

    def register(self, label: str, url: str = "https://example.org/item", **extra) -> str:
        handle = new_handle(label)
        self.created.append(handle)
        self.assertEqual(self.client.register_handle(handle, url, **extra), handle)
        return handle

    # Instantiation.

    def test_instantiation_via_rest_client_class(self):
        client = RESTHandleClient.instantiate_with_username_and_password(
            CONFIG["url"], CONFIG["username"], CONFIG["password"], HTTPS_verify=CONFIG["verify"]
        )
        self.assertIsNone(client.retrieve_handle_record_json(new_handle("absent")))

    def test_instantiation_with_unknown_username_handle(self):
        # pyhandle GETs the username's handle first; 404 + RC 100 raises HandleNotFoundException.
        with self.assertRaises(HandleNotFoundException):
            RESTHandleClient.instantiate_with_username_and_password(
                CONFIG["url"], f"300:{PREFIX}/NO-SUCH-USER-{uuid.uuid4().hex[:8]}", "x", HTTPS_verify=CONFIG["verify"]
            )

    def test_wrong_password_is_refused(self):
        client = RESTHandleClient.instantiate_with_username_and_password(
            CONFIG["url"], CONFIG["username"], "wrong-" + uuid.uuid4().hex, HTTPS_verify=CONFIG["verify"]
        )
        handle = new_handle("wrong-pw")
        self.created.append(handle)
        with self.assertRaises(HandleAuthenticationError):
            client.register_handle(handle, "https://example.org/never")
        self.assertIsNone(self.client.retrieve_handle_record_json(handle))

    # register_handle.

    def test_register_handle_overwrite_false(self):
        handle = self.register("register", "https://example.org/r", checksum="abc123", EMAIL="reg@example.org")
        record = self.client.retrieve_handle_record_json(handle)
        self.assertEqual(record["responseCode"], 1)
        self.assertEqual(record["handle"], handle)
        values = by_type(record)
        self.assertEqual(sorted(values), ["CHECKSUM", "EMAIL", "HS_ADMIN", "URL"])
        self.assertEqual(values["URL"][0]["index"], 1)
        self.assertEqual(values["URL"][0]["data"], {"format": "string", "value": "https://example.org/r"})
        self.assertEqual(values["CHECKSUM"][0]["data"]["value"], "abc123")
        admin = values["HS_ADMIN"][0]
        self.assertEqual(admin["index"], 100)
        # pyhandle sends the admin index as the string "200"; the server answers an integer.
        self.assertEqual(admin["data"], {
            "format": "admin",
            "value": {"handle": f"0.NA/{PREFIX}", "index": 200, "permissions": "011111110011"},
        })
        for value in record["values"]:
            self.assertIn("timestamp", value, value)
            self.assertEqual(value.get("ttl"), 86400, value)

    def test_register_existing_handle_raises_already_exists(self):
        handle = self.register("exists", "https://example.org/first")
        with self.assertRaises(HandleAlreadyExistsException):
            self.client.register_handle(handle, "https://example.org/second")
        self.assertEqual(self.client.get_value_from_handle(handle, "URL"), "https://example.org/first")

    def test_register_handle_overwrite_true_replaces_the_record(self):
        handle = self.register("overwrite", "https://example.org/old", EXTRA="gone after overwrite")
        result = self.client.register_handle(handle, "https://example.org/new", overwrite=True)
        self.assertEqual(result, handle)
        record = self.client.retrieve_handle_record(handle)
        self.assertEqual(record["URL"], "https://example.org/new")
        self.assertNotIn("EXTRA", record)

    def test_register_handle_overwrite_true_creates(self):
        handle = new_handle("overwrite-new")
        self.created.append(handle)
        self.assertEqual(self.client.register_handle(handle, "https://example.org/o", overwrite=True), handle)
        self.assertEqual(self.client.get_value_from_handle(handle, "URL"), "https://example.org/o")

    # Reading.

    def test_retrieve_handle_record_json(self):
        handle = self.register("retrieve", "https://example.org/ret", DESC="retrieved")
        record = self.client.retrieve_handle_record_json(handle)
        self.assertEqual(record["handle"], handle)
        self.assertEqual(by_type(record)["DESC"][0]["data"]["value"], "retrieved")
        only_url = self.client.retrieve_handle_record_json(handle, indices=[1])
        self.assertEqual([v["type"] for v in only_url["values"]], ["URL"])

    def test_retrieve_handle_record_as_dict(self):
        handle = self.register("dict", "https://example.org/d", DESC="as dict")
        record = self.client.retrieve_handle_record(handle)
        self.assertEqual(record["URL"], "https://example.org/d")
        self.assertEqual(record["DESC"], "as dict")
        self.assertIn("HS_ADMIN", record)

    def test_get_value_from_handle(self):
        handle = self.register("getvalue", "https://example.org/gv", EMAIL="gv@example.org")
        self.assertEqual(self.client.get_value_from_handle(handle, "URL"), "https://example.org/gv")
        self.assertEqual(self.client.get_value_from_handle(handle, "EMAIL"), "gv@example.org")
        self.assertIsNone(self.client.get_value_from_handle(handle, "NO_SUCH_TYPE"))

    def test_not_found(self):
        handle = new_handle("absent")
        self.assertIsNone(self.client.retrieve_handle_record_json(handle))
        self.assertIsNone(self.client.retrieve_handle_record(handle))
        with self.assertRaises(HandleNotFoundException):
            self.client.get_value_from_handle(handle, "URL")

    # Changing values.

    def test_modify_handle_value(self):
        handle = self.register("modify", "https://example.org/before", EMAIL="keep@example.org")
        self.assertEqual(
            self.client.modify_handle_value(handle, URL="https://example.org/after", DESC="added by modify"), handle
        )
        record = self.client.retrieve_handle_record_json(handle)
        values = by_type(record)
        self.assertEqual(values["URL"][0]["data"]["value"], "https://example.org/after")
        self.assertEqual(values["URL"][0]["index"], 1)
        self.assertEqual(values["DESC"][0]["data"]["value"], "added by modify")
        self.assertEqual(values["EMAIL"][0]["data"]["value"], "keep@example.org")
        for value in record["values"]:
            self.assertIn("timestamp", value, value)
        # A second modification reads the first one's output back (timestamps included).
        self.client.modify_handle_value(handle, DESC="modified again")
        self.assertEqual(self.client.get_value_from_handle(handle, "DESC"), "modified again")

    def test_modify_missing_handle(self):
        with self.assertRaises(HandleNotFoundException):
            self.client.modify_handle_value(new_handle("absent"), URL="https://example.org/x")

    def test_add_handle_value(self):
        handle = self.register("add", "https://example.org/add")
        self.client.add_handle_value(handle, EMAIL="added@example.org")
        self.assertEqual(self.client.get_value_from_handle(handle, "EMAIL"), "added@example.org")
        # Adding a type that exists sends its index with overwrite=false: the server answers 409.
        with self.assertRaises(GenericHandleError):
            self.client.add_handle_value(handle, EMAIL="other@example.org")
        self.assertEqual(self.client.get_value_from_handle(handle, "EMAIL"), "added@example.org")

    def test_delete_handle_value(self):
        handle = self.register("delvalue", "https://example.org/dv", EMAIL="e@example.org", DESC="d", NOTE="n")
        self.assertEqual(self.client.delete_handle_value(handle, "EMAIL"), handle)
        record = self.client.retrieve_handle_record(handle)
        self.assertNotIn("EMAIL", record)
        self.assertEqual(record["URL"], "https://example.org/dv")
        self.client.delete_handle_value(handle, ["DESC", "NOTE"])
        self.assertEqual(sorted(self.client.retrieve_handle_record(handle)), ["HS_ADMIN", "URL"])
        # A type the record does not have: pyhandle sends nothing and returns None.
        self.assertIsNone(self.client.delete_handle_value(handle, "NO_SUCH_TYPE"))

    # Deleting handles.

    def test_delete_handle(self):
        handle = self.register("delete", "https://example.org/del")
        self.assertEqual(self.client.delete_handle(handle), handle)
        self.assertIsNone(self.client.retrieve_handle_record_json(handle))
        with self.assertRaises(HandleNotFoundException):
            self.client.delete_handle(handle)

    # Generated names.

    def test_generate_and_register_handle(self):
        handle = self.client.generate_and_register_handle(PREFIX, "https://example.org/generated", checksum="c0ffee")
        self.created.append(handle)
        self.assertRegex(handle, re.escape(PREFIX) + r"/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")
        record = self.client.retrieve_handle_record(handle)
        self.assertEqual(record["URL"], "https://example.org/generated")
        self.assertEqual(record["CHECKSUM"], "c0ffee")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", required=True, help="the node's HTTPS base URL, e.g. https://127.0.0.1:8443")
    parser.add_argument("--cert", help="the node's certificate (DIR/tls/cert.pem), given to pyhandle as HTTPS_verify")
    parser.add_argument("--insecure", action="store_true", help="HTTPS_verify=False")
    parser.add_argument("--username", default=f"300:{PREFIX}/ADMIN")
    parser.add_argument("--password-file", required=True)
    parser.add_argument("-k", dest="patterns", action="append", help="only tests whose name contains this")
    args = parser.parse_args()
    if not args.cert and not args.insecure:
        parser.error("give --cert DIR/tls/cert.pem, or --insecure")
    if args.insecure:
        # Unverified TLS was asked for explicitly; its warnings would only hide the results.
        warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    with open(args.password_file, encoding="utf-8") as f:
        password = f.read().strip()
    CONFIG.update(url=args.url, username=args.username, password=password, verify=False if args.insecure else args.cert)

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = [f"*{p}*" for p in args.patterns]
    suite = loader.loadTestsFromTestCase(PyhandleAgainstNode)
    total = suite.countTestCases()
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=CountingResult).run(suite)
    skipped = len(result.skipped)
    passed = len(result.successes)
    # Tests that never ran because setUpClass failed count as failed.
    failed = total - passed - skipped
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 0 if failed == 0 and passed > 0 else 1


class CountingResult(unittest.TextTestResult):
    """A text result that also remembers which tests passed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.successes: list[unittest.TestCase] = []

    def addSuccess(self, test):
        super().addSuccess(test)
        self.successes.append(test)


if __name__ == "__main__":
    sys.exit(main())
