"""Extracts the JSON-LD of a morgue page with extruct, as search engines' tools do, and prints
what it found as JSON.

Usage: python3 jsonld_extract.py URL
"""
import json
import sys
import urllib.request

import extruct

url = sys.argv[1]
with urllib.request.urlopen(url) as response:
    html = response.read().decode("utf-8")
print(json.dumps(extruct.extract(html, base_url=url, syntaxes=["json-ld"], uniform=True)["json-ld"]))
