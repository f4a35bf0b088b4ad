#!/usr/bin/env python3
"""The data of benches/histograms_vs.sh and histograms_bytes.sh, in two
forms of the same numbers.

SERIES latency histograms of SHAPE (benches/histograms_data.py: 20
buckets of schema 2; `realistic` at RATE requests/s or `adversarial`,
the default) scraped every 15 s for POINTS scrapes from START_MS:

  native.jsonl    native histograms as `hourglass import` reads them
  classic.om      the equivalent classic histogram (`h_bucket` with the
                  20 upper bounds and +Inf, `h_count`, `h_sum`) as
                  OpenMetrics for `promtool tsdb create-blocks-from
                  openmetrics` (not written with NATIVE_ONLY=1)

usage: histograms_gen.py OUT_DIR SERIES POINTS START_MS [SHAPE [RATE]]
"""
import json
import os
import sys

import histograms_data as data


def main():
    out, series, points, start_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    shape = sys.argv[5] if len(sys.argv) > 5 else "adversarial"
    rate = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
    classic = not os.environ.get("NATIVE_ONLY")
    les = [repr(x) for x in data.BOUNDS] + ["+Inf"]
    om = open(f"{out}/classic.om", "w") if classic else None
    with open(f"{out}/native.jsonl", "w") as nj:
        if om:
            om.write("# TYPE h histogram\n")
        for s in range(series):
            inst = f"i-{s:04d}"
            prefix = [f'h_bucket{{instance="{inst}",le="{le}"}} ' for le in les]
            count_prefix = f'h_count{{instance="{inst}"}} '
            sum_prefix = f'h_sum{{instance="{inst}"}} '
            hists, times = [], []
            lines = []
            for k, (counts, count, total) in enumerate(data.series(shape, s, points, rate)):
                t = start_ms + k * data.STEP_MS
                hists.append({
                    "schema": data.SCHEMA,
                    "zero_threshold": 2.0 ** -128,
                    "count": count,
                    "sum": total,
                    "positive_spans": [{"offset": data.OFFSET, "length": data.BUCKETS}],
                    "positive_counts": counts,
                })
                times.append(t)
                if not om:
                    continue
                ts = f" {t // 1000}.{t % 1000:03d}\n"
                cum = 0
                for b in range(data.BUCKETS):
                    cum += counts[b]
                    lines.append(prefix[b] + str(cum) + ts)
                lines.append(prefix[data.BUCKETS] + str(count) + ts)
                lines.append(count_prefix + str(count) + ts)
                lines.append(sum_prefix + repr(total) + ts)
                if len(lines) > 100_000:
                    om.writelines(lines)
                    lines.clear()
            if om:
                om.writelines(lines)
            nj.write(json.dumps({
                "metric": {"__name__": "h", "instance": inst},
                "histograms": hists,
                "timestamps": times,
            }, separators=(",", ":")))
            nj.write("\n")
    if om:
        om.write("# EOF\n")
        om.close()


if __name__ == "__main__":
    main()
