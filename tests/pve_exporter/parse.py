"""Parses Prometheus text-format files with the official Python client's parser.

    python parse.py FILE...

Prints one JSON object: for each file, its metric families in order, each
{"name", "type", "documentation", "samples": [{"name", "labels", "value"}]}, values as
Python's repr() of the float (the shortest text that reads back as the same double, 'nan' and
'inf' included), so the caller compares them exactly. Exits non-zero, with the parser's error,
when a file does not parse.

pvekit serve's metrics test runs it on prometheus-pve-exporter's `/pve` output and on
pvekit's, so both are read by the same real parser (prometheus_client.parser).
"""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def families(text):
    out = []
    for family in text_string_to_metric_families(text):
        out.append({
            "name": family.name,
            "type": family.type,
            "documentation": family.documentation,
            "samples": [
                {"name": s.name, "labels": dict(s.labels), "value": repr(float(s.value))}
                for s in family.samples
            ],
        })
    return out


def main(paths):
    result = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        try:
            result[path] = families(text)
        except Exception as error:  # pylint: disable=broad-except
            print(f"{path}: does not parse: {error!r}", file=sys.stderr)
            return 1
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
