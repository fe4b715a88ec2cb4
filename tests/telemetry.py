"""In-memory OpenTelemetry for tests: the SDK's InMemorySpanExporter and InMemoryMetricReader,
installed once as the global providers (OpenTelemetry allows that once per process), so what
vmdr/telemetry.py emits through the global API is what the tests read."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def points(self, name: str) -> list:
        """Every data point of the metric `name` collected so far (cumulative)."""
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
        exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
        tracing = TracerProvider()
        tracing.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(tracing)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _installed = Telemetry(exporter, reader)
    _installed.spans.clear()
    return _installed
