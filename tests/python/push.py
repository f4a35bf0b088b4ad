"""Pushes to Hourglass with the stock prometheus_client Pushgateway helpers.

Usage: push.py <host:port>. Raises (non-zero exit) on any HTTP error; the
Rust test (tests/python_client.rs) then checks the values through PromQL.
"""
import sys

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)

addr = sys.argv[1]
group = {"instance": "host/1"}  # a '/' makes the client use @base64

reg = CollectorRegistry()
jobs = Counter("jobs_processed", "Jobs done \\ with\nnewline", ["queue"], registry=reg)
jobs.labels('a"b').inc(3)
Gauge("last_success_unixtime", "Last success.", registry=reg).set(17)
dur = Histogram("batch_duration_seconds", "Duration.", buckets=(0.1, 1, 5), registry=reg)
dur.observe(0.5)
dur.observe(3)
Summary("batch_items", "Items.", registry=reg).observe(2)
push_to_gateway(addr, job="pybatch", registry=reg, grouping_key=group)

extra = CollectorRegistry()
Gauge("extra_gauge", "Added by pushadd.", registry=extra).set(42)
pushadd_to_gateway(addr, job="pybatch", registry=extra, grouping_key=group)

zipped = CollectorRegistry()
Gauge("zipped_gauge", "Sent gzip-compressed.", registry=zipped).set(5)
try:
    push_to_gateway(addr, job="pyzip", registry=zipped, compression="gzip")
except TypeError:  # prometheus_client before 0.21 cannot compress
    push_to_gateway(addr, job="pyzip", registry=zipped)

doomed = CollectorRegistry()
Gauge("doomed_gauge", "Deleted again.", registry=doomed).set(1)
push_to_gateway(addr, job="pydelete", registry=doomed)
delete_from_gateway(addr, job="pydelete")
print("pushed")
