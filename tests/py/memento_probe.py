"""Asks a morgue page for its memento at a date with the Memento project's own Python client
(memento_client), as archivists' tools do, and prints what the client found as JSON.

The page is its own TimeGate (RFC 7089's pattern 2.1): the client sees `Vary: accept-datetime`
on it, so it sends its request to the TimeGate base it is given followed by the page's URL; an
empty base makes that the page itself.

Usage: python3 memento_probe.py URL "Tue, 20 Mar 2001 20:35:00 GMT"
"""
import json
import sys

from memento_client import MementoClient

url, when = sys.argv[1], sys.argv[2]
client = MementoClient(timegate_uri="", check_native_timegate=True)
info = client.get_memento_info(url, MementoClient.convert_to_datetime(when))


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


print(json.dumps(plain(info)))
