"""Prometheus text metrics: requests by command and outcome, latency, cache sizes, API requests."""

from __future__ import annotations

import threading

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = {}
        self.latency_count: dict[str, int] = {}

    def observe(self, handler: str, command: str, outcome: str, seconds: float) -> None:
        with self.lock:
            key = (handler, command, outcome)
            self.requests[key] = self.requests.get(key, 0) + 1
            counts = self.latency.setdefault(command, [0] * len(BUCKETS))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            self.latency_sum[command] = self.latency_sum.get(command, 0.0) + seconds
            self.latency_count[command] = self.latency_count.get(command, 0) + 1

    def render(self, gauges: dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]]) -> str:
        lines = ["# HELP multus_requests_total CNI requests the daemon served, by handler, command and outcome.",
                 "# TYPE multus_requests_total counter"]
        with self.lock:
            for (handler, command, outcome), count in sorted(self.requests.items()):
                lines.append(f'multus_requests_total{{handler="{handler}",command="{command}",outcome="{outcome}"}} '
                             f'{count}')
            lines += ["# HELP multus_request_duration_seconds Time to answer a CNI request.",
                      "# TYPE multus_request_duration_seconds histogram"]
            for command, counts in sorted(self.latency.items()):
                for bound, in_bucket in zip(BUCKETS, counts, strict=True):
                    lines.append(f'multus_request_duration_seconds_bucket{{command="{command}",le="{bound:g}"}} {in_bucket}')
                lines.append(f'multus_request_duration_seconds_bucket{{command="{command}",le="+Inf"}} '
                             f'{self.latency_count[command]}')
                lines.append(f'multus_request_duration_seconds_sum{{command="{command}"}} '
                             f'{self.latency_sum[command]:.6f}')
                lines.append(f'multus_request_duration_seconds_count{{command="{command}"}} '
                             f'{self.latency_count[command]}')
        for name, (help_text, samples) in sorted(gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            for labels, value in sorted(samples.items()):
                label = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"{name}{{{label}}} {value:g}" if label else f"{name} {value:g}")
        return "\n".join(lines) + "\n"
