"""Run every benchmark script in bench/ (``*_bench.py``), one process each, and print a summary.

Each script prints its own report, ideally ending with a ``summary:`` line; this runner
shows the reports as they are, then one line per script: status, wall time and its summary
(or, without one, its last line of output). Scripts run with their default arguments.
Exit 1 when any script fails.

    .venv/bin/python bench/run_all.py            # make bench
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main() -> int:
    """Run the scripts in name order; return 0 when all succeeded."""
    scripts = sorted(BENCH_DIR.glob("*_bench.py"))
    results: list[tuple[str, int, float, list[str]]] = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        started = time.perf_counter()
        # A fresh interpreter per script: one benchmark's caches and heap do not skew the next.
        done = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        print(done.stdout, end="", flush=True)
        if done.stderr:
            print(done.stderr, end="", file=sys.stderr, flush=True)
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        summaries = [
            line.removeprefix("summary:").strip() for line in lines if line.startswith("summary:")
        ] or lines[-1:]
        results.append((script.name, done.returncode, elapsed, summaries))
        print()

    print("== summary")
    for name, code, elapsed, summaries in results:
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"{name:28} {status:16} {elapsed:6.1f} s  {'; '.join(summaries)}")
    if not scripts:
        print("no *_bench.py scripts in bench/")
    return 0 if all(code == 0 for _, code, _, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
