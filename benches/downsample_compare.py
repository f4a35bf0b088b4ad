#!/usr/bin/env python3
"""PromQL answers of a downsampled store against those of its raw copy.

downsample_compare.py RAW_URL DS_URL START_S END_S

Asks both servers the same queries over the downsampled range [START_S,
END_S) (seconds, whole 5m intervals), every evaluation time 1 ms before
an interval boundary so that a window holds the same raw samples as the
intervals it covers: instant queries over the whole range for every
series, and range queries with 1h and 1d windows for five hosts (500
series). Prints, per query, the points compared, how many are exactly
equal, the largest and mean relative error, and the resolution the
downsampled server said it used; exits 1 when a point is missing on one
side or an exact function is not exact.
"""
import json
import sys
import urllib.parse
import urllib.request

raw_url, ds_url, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
COUNTERS = '__name__=~"node_metric_[0-9]*[012]"'
HOSTS = 'instance=~"host-000[0-4]:9100"'
EXACT = ("max_over_time", "min_over_time", "count_over_time")
FUNCS = ("rate", "increase", "avg_over_time", "max_over_time", "min_over_time",
         "count_over_time", "sum_over_time")


def ask(base, path, params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=600) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise SystemExit(f"{url}: {body}")
    return body


def points(body):
    out = {}
    for s in body["data"]["result"]:
        key = tuple(sorted(s["metric"].items()))
        for t, v in s.get("values") or [s["value"]]:
            out[(key, round(float(t) * 1000))] = float(v)
    return out


def selector(fn, scope):
    matchers = [f'job="node"']
    if fn in ("rate", "increase"):
        matchers.append(COUNTERS)
    if scope:
        matchers.append(scope)
    return "{" + ",".join(matchers) + "}"


def cases():
    whole = f"{(end - start) // 86400}d"
    for fn in FUNCS:
        yield f"{fn} [{whole}] at the range's end, every series", \
            f"{fn}({selector(fn, None)}[{whole}])", "/api/v1/query", {"time": f"{end - 0.001:.3f}"}
    for win, step in (("1h", 3600), ("1d", 86400)):
        for fn in FUNCS:
            yield f"{fn} [{win}] every {win}, 500 series", \
                f"{fn}({selector(fn, HOSTS)}[{win}])", "/api/v1/query_range", \
                {"start": f"{start + step - 0.001:.3f}", "end": f"{end - 0.001:.3f}", "step": str(step)}


bad = 0
print(f"{'query':<52} {'points':>8} {'exact':>8} {'max rel err':>12} {'mean rel err':>12}  resolution")
for name, q, path, params in cases():
    p = dict(params, query=q)
    a, b = ask(raw_url, path, p), ask(ds_url, path, p)
    ra, rb = points(a), points(b)
    missing = len(set(ra) ^ set(rb))
    errs = []
    for k, x in ra.items():
        if k in rb:
            y = rb[k]
            errs.append(0.0 if x == y else abs(x - y) / max(abs(x), 1e-300))
    exact = sum(1 for e in errs if e == 0.0)
    mx = max(errs, default=0.0)
    mean = sum(errs) / len(errs) if errs else 0.0
    res = "; ".join(w for w in b.get("warnings", []) if "resolution" in w or "downsampl" in w)[:60]
    print(f"{name:<52} {len(errs):>8} {exact:>8} {mx:>12.3e} {mean:>12.3e}  {res}")
    if missing:
        print(f"  {missing} points on one side only")
        bad += 1
    if name.split()[0] in EXACT and exact != len(errs):
        print("  not exact")
        bad += 1
sys.exit(1 if bad else 0)
