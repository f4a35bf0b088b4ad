"""Exports metrics to Hourglass with OpenTelemetry's Python SDK over
OTLP/HTTP (protobuf), every second, then once more at shutdown.

Usage: otlp_export.py <url of /v1/metrics> <seconds to run>
"""

import sys
import time

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource

url, seconds = sys.argv[1], float(sys.argv[2])
resource = Resource.create(
    {
        "service.name": "checkout",
        "service.namespace": "shop",
        "service.instance.id": "pod-1",
        "deployment.environment": "test",
        "host.name": "h1",
    }
)
reader = PeriodicExportingMetricReader(
    OTLPMetricExporter(endpoint=url, timeout=5), export_interval_millis=1000
)
provider = MeterProvider(
    resource=resource,
    metric_readers=[reader],
    views=[
        View(
            instrument_name="http.server.duration",
            aggregation=ExplicitBucketHistogramAggregation(boundaries=[0.1, 0.5, 1]),
        ),
        View(
            instrument_name="rpc.duration",
            aggregation=ExponentialBucketHistogramAggregation(max_size=160, max_scale=20),
        ),
    ],
)
meter = provider.get_meter("hourglass-test", "1.0")

orders = meter.create_counter("orders.processed", unit="{orders}", description="Orders done.")
network = meter.create_counter("network.io", unit="By")
queue = meter.create_up_down_counter("queue.depth", unit="{items}")
duration = meter.create_histogram("http.server.duration", unit="s")
rpc = meter.create_histogram("rpc.duration", unit="ms")
meter.create_observable_gauge(
    "cpu.utilization", callbacks=[lambda _options: [Observation(0.42, {"cpu": "0"})]], unit="1"
)

orders.add(5, {"payment.method": "card"})
network.add(1024, {"direction": "tx"})
queue.add(7)
queue.add(-2)
for v in (0.05, 0.3, 2.0):
    duration.record(v, {"http.route": "/pay"})
for v in (1.0, 2.0, 3.0, 100.0):
    rpc.record(v, {"rpc.method": "Pay"})

time.sleep(seconds)
provider.shutdown()
print("ok")
