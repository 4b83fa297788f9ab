"""``make bench``: run every ``bench/bench_*.py`` on this machine, then print one table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _stack import ComparisonRow, print_comparison

from vigie_shared.kit.kafka_jars import kafka_unavailable_reason

HERE = Path(__file__).resolve().parent
# Each script with each argument list here (once with none otherwise). Audit query latency is
# measured at 10 million entries, the scale docs/audit-log.md reports (the script's own default
# is smaller, for quick runs); the backbone and ingestion on both brokers, the embedded Tansu and
# Apache Kafka (skipped, saying why, where its jars cannot be had).
ARGS: dict[str, list[list[str]]] = {
    "bench_audit.py": [["--rows", "10000000"], ["--rows", "0", "--broker", "kafka"]],
    "bench_backbone.py": [[], ["--broker", "kafka"]],
}


def tables(
    rows: list[dict[str, Any]],
) -> list[tuple[str, list[str], list[ComparisonRow]]]:
    """One table per benchmark, each figure on one line with every reference it was measured
    beside (the gateway's beside oidc-provider and Keycloak), in the order they were printed."""
    by_bench: dict[str, dict[tuple[str, str], tuple[float, dict[str, float | None]]]] = {}
    names: dict[str, list[str]] = {}
    for row in rows:
        bench = row.get("bench") or row["figure"]
        figures = by_bench.setdefault(bench, {})
        references = names.setdefault(bench, [])
        name = row["reference_name"] or "reference"
        if name not in references:
            references.append(name)
        _, refs = figures.setdefault((row["figure"], row["unit"]), (row["ours"], {}))
        refs[name] = row["reference"]
    return [
        (
            bench,
            names[bench],
            [
                (figure, ours, [refs.get(name) for name in names[bench]], unit)
                for (figure, unit), (ours, refs) in figures.items()
            ],
        )
        for bench, figures in by_bench.items()
    ]


def main() -> int:
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as handle:
        results = Path(handle.name)
    env = dict(os.environ, VIGIE_BENCH_RESULTS=str(results))
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        for args in ARGS.get(script.name, [[]]):
            if "kafka" in args and kafka_unavailable_reason() is not None:
                print(f"== {script.name} {' '.join(args)}: skipped ({kafka_unavailable_reason()})")
                continue
            print(f"== {script.name} {' '.join(args)}", flush=True)
            command = [sys.executable, str(script), *args]
            if subprocess.run(command, env=env, check=False).returncode:
                failed.append(f"{script.name} {' '.join(args)}".strip())
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    results.unlink()
    print("\nAll benchmarks (ours beside the references measured in the same run)")
    for bench, references, table in tables(rows):
        print_comparison(bench, table, references)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
