#!/usr/bin/env python3
"""Hash EPCIS JSON-LD documents with the reference event hash generator, for differential tests.

Usage: epcis_differential.py DOCUMENTS.json

DOCUMENTS.json holds a JSON array of EPCIS documents. The script prints one JSON object:
{"version": "<generator version>", "results": [...]}, with one entry per document, in order:
{"prehashes": [...], "hashes": [...]} or {"error": "<exception>"}. The reference drops an
event whose pre-hash fails, so a list can be shorter than the document's event list.

Each document is hashed on its own: the generator keeps the namespaces it reads from @context
in a module-level table, which is cleared between documents. Times without a zone are read in
UTC (the generator uses the process time zone).

Needs only the standard library and the pinned PyPI package `epcis-event-hash-generator`
(conformance/requirements.txt).
"""

import json
import logging
import os
import sys
import time
from importlib import metadata


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    os.environ["TZ"] = "UTC"
    time.tzset()
    logging.disable(logging.CRITICAL)

    from epcis_event_hash_generator import hash_generator, json_to_py

    with open(sys.argv[1], encoding="utf-8") as handle:
        documents = json.load(handle)

    results = []
    for document in documents:
        json_to_py._namespaces.clear()
        try:
            events = json_to_py.event_list_from_epcis_document_json(document)
            prehashes = hash_generator.derive_prehashes_from_events(events)
            hashes = hash_generator.calculate_hashes_from_pre_hashes(prehashes)
            results.append({"prehashes": prehashes, "hashes": hashes})
        except Exception as error:  # noqa: BLE001 - every failure is a result to compare
            results.append({"error": f"{type(error).__name__}: {error}"})

    json.dump(
        {"version": metadata.version("epcis-event-hash-generator"), "results": results},
        sys.stdout,
        ensure_ascii=True,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
