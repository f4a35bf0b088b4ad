#!/usr/bin/env python3
"""The data of benches/histograms_vs.sh, in two forms of the same numbers.

SERIES latency histograms (20 buckets of schema 2 from bucket -22, as
query/benches/histogram_eval.rs builds them) scraped every 15 s for
POINTS scrapes from START_MS:

  native.jsonl    native histograms as `hourglass import` reads them
  classic.om      the equivalent classic histogram (`h_bucket` with the
                  20 upper bounds and +Inf, `h_count`, `h_sum`) as
                  OpenMetrics for `promtool tsdb create-blocks-from openmetrics`

usage: histograms_gen.py OUT_DIR SERIES POINTS START_MS
"""
import json
import sys

BUCKETS = 20
STEP_MS = 15_000


def main():
    out, series, points, start_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    bounds = [2 ** ((-22 + b) / 4) for b in range(BUCKETS)]
    les = [repr(x) for x in bounds] + ["+Inf"]
    weight = [BUCKETS // 2 - min(abs(b - 10), 9) for b in range(BUCKETS)]
    with open(f"{out}/native.jsonl", "w") as nj, open(f"{out}/classic.om", "w") as om:
        om.write("# TYPE h histogram\n")
        for s in range(series):
            inst = f"i-{s:04d}"
            counts = [0] * BUCKETS
            hists, times = [], []
            lines = []
            for k in range(points):
                for b in range(BUCKETS):
                    counts[b] += 1 + ((s + b * 7 + k) % 5) * weight[b]
                count = sum(counts)
                t = start_ms + k * STEP_MS
                hists.append({
                    "schema": 2,
                    "zero_threshold": 2.0 ** -128,
                    "count": count,
                    "sum": count * 0.1,
                    "positive_spans": [{"offset": -22, "length": BUCKETS}],
                    "positive_counts": list(counts),
                })
                times.append(t)
                ts = f"{t // 1000}.{t % 1000:03d}"
                cum = 0
                for b in range(BUCKETS):
                    cum += counts[b]
                    lines.append(f'h_bucket{{instance="{inst}",le="{les[b]}"}} {cum} {ts}\n')
                lines.append(f'h_bucket{{instance="{inst}",le="+Inf"}} {count} {ts}\n')
                lines.append(f'h_count{{instance="{inst}"}} {count} {ts}\n')
                lines.append(f'h_sum{{instance="{inst}"}} {repr(count * 0.1)} {ts}\n')
                if len(lines) > 100_000:
                    om.writelines(lines)
                    lines.clear()
            om.writelines(lines)
            nj.write(json.dumps({
                "metric": {"__name__": "h", "instance": inst},
                "histograms": hists,
                "timestamps": times,
            }, separators=(",", ":")))
            nj.write("\n")
        om.write("# EOF\n")


if __name__ == "__main__":
    main()
