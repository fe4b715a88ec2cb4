"""In-memory OpenTelemetry for tests: the SDK's InMemorySpanExporter and InMemoryMetricReader,
installed once as the global providers (OpenTelemetry allows that once per process), so what
vmdr/telemetry.py emits through the global API is what the tests read. Histograms are read as
deltas: each test sees only what was recorded since `in_memory()` (or its last `points()`)."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def points(self, name: str) -> list:
        """The data points of the metric `name` recorded since the last collection."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


_installed: Telemetry | None = None


def in_memory() -> Telemetry:
    global _installed
    if _installed is None:
        exporter = InMemorySpanExporter()
        reader = InMemoryMetricReader(
            preferred_temporality={Histogram: AggregationTemporality.DELTA})
        tracing = TracerProvider()
        tracing.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(tracing)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _installed = Telemetry(exporter, reader)
    _installed.spans.clear()
    _installed.reader.get_metrics_data()  # what earlier tests recorded is collected, and gone
    return _installed
