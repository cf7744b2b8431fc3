"""`python -m tests.benchmarks [NAME]`: run every benchmark, or the one named, each in a fresh
environment (its own SQLite database and Redis). Figures go to stdout as `metric value` lines;
everything else a benchmark and its processes print goes to its log file (harness.environment()),
and stderr gets only the log file's name and failures. The exit status is 1 if a benchmark
failed, 2 on a usage error."""
from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("snippet", "ingest", "worker", "email", "click", "segments", "automation", "load", "wildcard",
              "imports", "api")
USAGE = f"usage: python -m tests.benchmarks [{'|'.join(BENCHMARKS)}]"


def formatted(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def summary(module) -> str:
    """The first paragraph of a benchmark's docstring, on one line."""
    return " ".join(module.__doc__.strip().split("\n\n")[0].split())


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0] not in BENCHMARKS):
        print(USAGE, file=sys.stderr)
        return 2
    from tests.benchmarks.harness import BenchmarkFailed, environment, log, log_path

    failed = []
    for name in argv or BENCHMARKS:
        # Each module has run(env) -> {metric: value}; its docstring says what it measures.
        module = importlib.import_module(f"tests.benchmarks.{name}")
        try:
            with environment(name) as env:
                log(f"benchmark {summary(module)}")
                metrics = module.run(env)
        except BenchmarkFailed as failure:
            log(f"benchmark {name} FAILED: {failure} (its log: {log_path(name)})")
            failed.append(name)
            continue
        for metric, value in metrics.items():
            print(f"{metric} {formatted(value)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
