"""Compares two Prometheus API query_range answers point by point
(relative difference at most 1e-9, NaN equal to NaN): `same(points(a),
points(b))` gives "same" or the first difference. Used by the shell benches;
as a command, `python3 benches/answers_same.py A.json B.json` prints it."""
import json
import math
import sys


def points(path):
    d = json.load(open(path))["data"]["result"]
    return {tuple(sorted(s["metric"].items())): [(p[0], p[1]) for p in s["values"]] for s in d}


def same(a, b):
    if a.keys() != b.keys():
        return f"series differ ({len(a)} vs {len(b)})"
    for k in a:
        if [p[0] for p in a[k]] != [p[0] for p in b[k]]:
            return f"steps differ for {dict(k)}"
        for (_, x), (_, y) in zip(a[k], b[k]):
            x, y = float(x), float(y)
            if not (x == y or (math.isnan(x) and math.isnan(y)) or abs(x - y) <= 1e-9 * max(abs(x), abs(y))):
                return f"values differ for {dict(k)}: {x} vs {y}"
    return "same"


if __name__ == "__main__":
    try:
        print(same(points(sys.argv[1]), points(sys.argv[2])))
    except Exception as e:  # a failed or missing answer
        print(f"unreadable: {e}")
