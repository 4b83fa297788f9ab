"""``make bench``: run every ``bench/bench_*.py`` on this machine, then print one table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Audit query latency is measured at 10 million entries, the scale docs/audit-log.md reports;
# the script's own default is smaller, for quick runs.
ARGS = {"bench_audit.py": ["--rows", "10000000"]}


def main() -> int:
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as handle:
        results = Path(handle.name)
    env = dict(os.environ, VIGIE_BENCH_RESULTS=str(results))
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        args = ARGS.get(script.name, [])
        if subprocess.run([sys.executable, str(script), *args], env=env, check=False).returncode:
            failed.append(script.name)
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    results.unlink()
    print("\nAll benchmarks (ours beside the reference measured in the same run)")
    print(f"{'figure':<58} {'ours':>12} {'reference':>12} {'ratio':>7}  unit / reference")
    for row in rows:
        ref = row["reference"]
        ratio = f"{row['ours'] / ref:7.2f}" if ref else f"{'-':>7}"
        ref_text = f"{ref:12.1f}" if ref is not None else f"{'-':>12}"
        print(
            f"{row['figure'][:58]:<58} {row['ours']:12.1f} {ref_text} {ratio}  "
            f"{row['unit']}{' / ' + row['reference_name'] if row['reference_name'] else ''}"
        )
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
