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

PIECE_SCRAPES=N streams instead: the span in pieces of N scrapes, piece
k as native-k.jsonl, classic-k.om and then a marker piece-k.ready (k of
three digits). The consumer loads the piece and deletes all three; at
most PIECES_AHEAD (default 2) pieces wait at a time, so the disk holds a
bounded share of the classic form (≈ 750 MB per 2 h of 1,000 series).

usage: histograms_gen.py OUT_DIR SERIES POINTS START_MS [SHAPE [RATE]]
"""
import glob
import json
import os
import sys
import time

import histograms_data as data


def write_piece(out, suffix, gens, first, n, start_ms, classic):
    """Scrapes first..first+n of every series into native{suffix}.jsonl
    and (with `classic`) classic{suffix}.om."""
    les = [repr(x) for x in data.BOUNDS] + ["+Inf"]
    om = open(f"{out}/classic{suffix}.om", "w") if classic else None
    with open(f"{out}/native{suffix}.jsonl", "w") as nj:
        if om:
            om.write("# TYPE h histogram\n")
        for s, gen in enumerate(gens):
            inst = f"i-{s:04d}"
            prefix = [f'h_bucket{{instance="{inst}",le="{le}"}} ' for le in les]
            count_prefix = f'h_count{{instance="{inst}"}} '
            sum_prefix = f'h_sum{{instance="{inst}"}} '
            hists, times = [], []
            lines = []
            for k in range(first, first + n):
                counts, count, total = next(gen)
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


def main():
    out, series, points, start_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    shape = sys.argv[5] if len(sys.argv) > 5 else "adversarial"
    rate = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
    classic = not os.environ.get("NATIVE_ONLY")
    gens = [data.series(shape, s, points, rate) for s in range(series)]
    piece = int(os.environ.get("PIECE_SCRAPES", "0"))
    if piece <= 0:
        write_piece(out, "", gens, 0, points, start_ms, classic)
        return
    ahead = int(os.environ.get("PIECES_AHEAD", "2"))
    for k, first in enumerate(range(0, points, piece)):
        while len(glob.glob(f"{out}/piece-*.ready")) >= ahead:
            time.sleep(0.5)
        write_piece(out, f"-{k:03d}", gens, first, min(piece, points - first), start_ms, classic)
        open(f"{out}/piece-{k:03d}.ready", "w").close()


if __name__ == "__main__":
    main()
