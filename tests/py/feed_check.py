"""Parses a morgue Atom feed as feed readers do, with feedparser, and lists its RFC 6721
deleted entries with the standard library's XML parser (feedparser does not report them).
Prints JSON: feedparser's bozo flag and exception, the entries (id, title, updated, link,
authors, summary) and the deleted entries (ref, when, comment).

Usage: python3 feed_check.py URL
"""
import json
import sys
import urllib.request
import xml.etree.ElementTree as ET

import feedparser

url = sys.argv[1]
with urllib.request.urlopen(url) as response:
    body = response.read()
    content_type = response.headers.get("content-type")
parsed = feedparser.parse(body, response_headers={"content-type": content_type})
AT = "{http://purl.org/atompub/tombstones/1.0}"
deleted = [
    {
        "ref": d.get("ref"),
        "when": d.get("when"),
        "comment": (d.find(AT + "comment").text if d.find(AT + "comment") is not None else None),
    }
    for d in ET.fromstring(body).iter(AT + "deleted-entry")
]
print(json.dumps({
    "contentType": content_type,
    "bozo": bool(parsed.bozo),
    "bozoException": str(parsed.get("bozo_exception", "")),
    "version": parsed.version,
    "title": parsed.feed.get("title"),
    "entries": [
        {
            "id": e.get("id"),
            "title": e.get("title"),
            "updated": e.get("updated"),
            "link": e.get("link"),
            "authors": [a.get("name") for a in e.get("authors", [])],
            "summary": e.get("summary"),
        }
        for e in parsed.entries
    ],
    "deleted": deleted,
}))
