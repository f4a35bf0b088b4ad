"""Writes points to Hourglass with InfluxDB's Python client (v2 API).

Usage: influx_write.py <host:port> <token> <base unix seconds>

Every point of precision p is at base + k seconds (k = 0 for ns, 1 for us,
2 for ms, 3 for s), carries tags and fields of every type; the test reads
them back through PromQL.
"""

import sys

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

addr, token, base = sys.argv[1], sys.argv[2], int(sys.argv[3])
scale = {
    WritePrecision.NS: 1_000_000_000,
    WritePrecision.US: 1_000_000,
    WritePrecision.MS: 1_000,
    WritePrecision.S: 1,
}

with InfluxDBClient(url=f"http://{addr}", token=token, org="acme") as client:
    write = client.write_api(write_options=SYNCHRONOUS)
    for k, (precision, per_s) in enumerate(scale.items()):
        ts = (base + k) * per_s
        point = (
            Point("weather")
            .tag("location", "us-midwest")
            .tag("precision", str(precision))
            .field("temperature", 82.5 + k)
            .field("humidity", 40 + k)
            .field("raining", k % 2 == 0)
            .field("note", "strings are skipped")
            .time(ts, precision)
        )
        write.write(bucket="metrics", record=point, write_precision=precision)
    # Unsigned integers and escapes, as raw line protocol.
    raw = (
        "disk\\ io,host=a\\,b,path=/var\\ log used=12u,free=3.5e3 "
        f"{(base + 4) * 1_000_000_000}"
    )
    write.write(bucket="metrics", record=raw)
print("ok")
