"""Run every benchmark (or those named): `python -m bench [devnet signer gas ...]`.

Each writes its figures to bench/results.json and bench/RESULTS.md through bench.results.record.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "devnet": "bench.bench_devnet",
    "signer": "bench.bench_signer",
    "gas": "bench.bench_gas",
    "committee": "bench.bench_committee",
    "relayer": "bench.bench_relayer",
    "xcm": "bench.bench_xcm",
    "confidential": "bench.bench_confidential",
    "checkpoint": "bench.bench_checkpoint",
    "confidential-state": "bench.bench_confidential_state",
    "refund": "bench.bench_refund",
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        try:
            module = importlib.import_module(BENCHMARKS[name])
        except ModuleNotFoundError as exc:
            print(f"== {name}: not available ({exc})", file=sys.stderr)
            failed.append(name)
            continue
        print(f"== {name}")
        module.main()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
