"""Validates IPTC ninjs objects against IPTC's published JSON Schema with the `jsonschema`
package's Draft 2020-12 validator (formats checked where the package can check them).

Usage: python3 ninjs_validate.py SCHEMA FILE...
Each FILE holds one ninjs object per line (JSON Lines); a file holding a single JSON document
spread over several lines is read whole. Prints {"valid": N} as JSON and exits 0 when every
object is valid; otherwise prints each error (file, line, path, message) and exits 1.
"""
import json
import sys

from jsonschema import Draft202012Validator


def objects(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        yield 1, json.loads(text)
        return
    except json.JSONDecodeError:
        pass
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield number, json.loads(line)


schema_path, files = sys.argv[1], sys.argv[2:]
with open(schema_path, encoding="utf-8") as f:
    schema = json.load(f)
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
valid, errors = 0, []
for path in files:
    for number, obj in objects(path):
        found = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
        for e in found:
            errors.append(f"{path}:{number}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}")
        if not found:
            valid += 1
if errors:
    print("\n".join(errors))
    sys.exit(1)
print(json.dumps({"valid": valid}))
