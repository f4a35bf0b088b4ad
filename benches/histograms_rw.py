#!/usr/bin/env python3
"""Remote-writes the native histograms of benches/histograms_gen.py
(SERIES latency histograms of SHAPE, benches/histograms_data.py, every
15 s) to URL as remote write 1.0 integer histograms, time by time (all
series of one scrape per request), so a server that only appends in order
(Prometheus) takes them all. No dependencies: the protobuf is written by
hand and the snappy block holds literals only (valid snappy, uncompressed).

usage: histograms_rw.py URL SERIES POINTS START_MS [SHAPE [RATE]]
"""
import struct
import sys
import urllib.request

import histograms_data as data


def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zigzag(v):
    return (v << 1) ^ (v >> 63)


def field(num, wire, payload):
    key = uvarint((num << 3) | wire)
    if wire == 0:
        return key + uvarint(payload)
    if wire == 1:
        return key + struct.pack("<d", payload)
    return key + uvarint(len(payload)) + payload


def snappy_literal(data):
    out = bytearray(uvarint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


def histogram(counts, count, total, t):
    deltas, prev = bytearray(), 0
    for c in counts:
        deltas += uvarint(zigzag(c - prev))
        prev = c
    span = field(1, 0, zigzag(data.OFFSET)) + field(2, 0, data.BUCKETS)
    return (field(1, 0, count) + field(3, 1, total) + field(4, 0, zigzag(data.SCHEMA))
            + field(5, 1, 2.0 ** -128) + field(6, 0, 0) + field(11, 2, span)
            + field(12, 2, bytes(deltas)) + field(15, 0, t))


def main():
    url, series, points, start_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    shape = sys.argv[5] if len(sys.argv) > 5 else "adversarial"
    rate = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
    gens = [data.series(shape, s, points, rate) for s in range(series)]
    labels = [field(1, 2, field(1, 2, b"__name__") + field(2, 2, b"h"))
              + field(1, 2, field(1, 2, b"instance") + field(2, 2, f"i-{s:04d}".encode()))
              for s in range(series)]
    for k in range(points):
        t = start_ms + k * data.STEP_MS
        body = bytearray()
        for s in range(series):
            counts, count, total = next(gens[s])
            body += field(1, 2, labels[s] + field(4, 2, histogram(counts, count, total, t)))
        req = urllib.request.Request(url, data=snappy_literal(bytes(body)), headers={
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
        })
        with urllib.request.urlopen(req) as r:
            if r.status // 100 != 2:
                sys.exit(f"{url}: {r.status} at scrape {k}")


if __name__ == "__main__":
    main()
