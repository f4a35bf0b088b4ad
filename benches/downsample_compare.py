#!/usr/bin/env python3
"""PromQL answers of a downsampled store against those of its raw copy.

downsample_compare.py RAW_URL DS_URL START_S END_S

Asks both servers the same queries over the downsampled range [START_S,
END_S) (seconds, whole 5m intervals), every evaluation time 1 ms before
an interval boundary so that a window holds the same raw samples as the
intervals it covers: instant queries over the whole range for every
series, and range queries with 1h and 1d windows for six metrics (three
counters, three gauges) of every host; one query per metric name, since
range functions drop it. rate and increase ask counters only. Prints, per
function and window, the points compared, how many are exactly equal,
the largest and mean relative error, and the downsampled server's
warnings (the resolution it used); exits 1 when a point is missing on
one side or an exact function is not exact.
"""
import json
import sys
import urllib.parse
import urllib.request

raw_url, ds_url, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
EXACT = ("max_over_time", "min_over_time", "count_over_time")
FUNCS = ("rate", "increase", "avg_over_time", "max_over_time", "min_over_time",
         "count_over_time", "sum_over_time")
# node_metric_N is a counter when N % 10 < 3 (benches/support/node.rs).
# Range functions drop the metric name, so each query asks for one.
NAMES = [f"node_metric_{n}" for n in range(100)]
SAMPLE = ["node_metric_0", "node_metric_11", "node_metric_22", "node_metric_5",
          "node_metric_47", "node_metric_99"]


def ask(base, path, params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=1000) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise SystemExit(f"{url}: {body}")
    return body


def points(body, name):
    out = {}
    for s in body["data"]["result"]:
        key = (name,) + tuple(sorted(s["metric"].items()))
        for t, v in s.get("values") or [s["value"]]:
            out[(key, round(float(t) * 1000))] = float(v)
    return out


def names(fn, among):
    counters = fn in ("rate", "increase")
    return [n for n in among if not counters or int(n.rsplit("_", 1)[1]) % 10 < 3]


def cases():
    whole = f"{(end - start) // 86400}d"
    for fn in FUNCS:
        yield f"{fn} [{whole}] at the range's end, every series", fn, whole, names(fn, NAMES), \
            "/api/v1/query", {"time": f"{end - 0.001:.3f}"}
    for win, step in (("1h", 3600), ("1d", 86400)):
        for fn in FUNCS:
            ns = names(fn, SAMPLE)
            yield f"{fn} [{win}] every {win}, {len(ns)} metrics, every host", fn, win, ns, \
                "/api/v1/query_range", \
                {"start": f"{start + step - 0.001:.3f}", "end": f"{end - 0.001:.3f}", "step": str(step)}


bad = 0
print(f"{'query':<52} {'points':>8} {'exact':>8} {'max rel err':>12} {'mean rel err':>12}  resolution")
for title, fn, win, ns, path, params in cases():
    ra, rb, warn = {}, {}, set()
    for n in ns:
        p = dict(params, query=f'{fn}({{__name__="{n}",job="node"}}[{win}])')
        a, b = ask(raw_url, path, p), ask(ds_url, path, p)
        ra.update(points(a, n))
        rb.update(points(b, n))
        warn.update(b.get("warnings", []))
    missing = len(set(ra) ^ set(rb))
    errs = []
    for k, x in ra.items():
        if k in rb:
            y = rb[k]
            errs.append(0.0 if x == y else abs(x - y) / max(abs(x), 1e-300))
    exact = sum(1 for e in errs if e == 0.0)
    mx = max(errs, default=0.0)
    mean = sum(errs) / len(errs) if errs else 0.0
    print(f"{title:<52} {len(errs):>8} {exact:>8} {mx:>12.3e} {mean:>12.3e}  {'; '.join(sorted(warn))[:70]}")
    if missing or not errs:
        print(f"  {missing} points on one side only, {len(errs)} compared")
        bad += 1
    if fn in EXACT and exact != len(errs):
        print("  not exact")
        bad += 1
sys.exit(1 if bad else 0)
