"""`python -m bench [accept|pipeline|otp|webhooks|profile ...] [--scale F]`: run the inbound benchmarks.

Prints machine facts, each benchmark's figures with the ratio to a baseline measured in the
same run, and a summary table. Exits 1 only when a benchmark could not run (an error), never
because a goal was missed; 130 after Ctrl-C (everything started is stopped first).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
import time
import traceback
from pathlib import Path

# The repository root, so `settings`, `commands` and `tests.helpers` import from anywhere.
REPO = str(Path(__file__).resolve().parents[1])
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.harness import Stack  # noqa: E402
from bench.report import Result, load_average, machine_facts, summary  # noqa: E402

BENCHES = {
    "accept": "bench.accept_rate",
    "pipeline": "bench.pipeline_throughput",
    "otp": "bench.otp_latency",
    "webhooks": "bench.webhooks",
    "profile": "bench.profile_inbound",
    "search": "bench.search_quality",
    "send": "bench.send",
}


def _on_sigterm(signum: int, frame: object) -> None:
    print(f"\nreceived {signal.Signals(signum).name}; stopping", file=sys.stderr)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "benches",
        nargs="*",
        metavar="{" + ",".join(BENCHES) + "}",
        help="benchmarks to run (default: all)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply message and trial counts (e.g. 0.2 for a quick smoke run)",
    )
    parser.add_argument(
        "--cprofile", action="store_true", help="profile: print the top functions by CPU"
    )
    parser.add_argument(
        "--steps-only", action="store_true",
        help="profile: skip the whole-pipeline worker phase (ingress and single steps only)",
    )
    opts = parser.parse_args(argv)
    unknown = [b for b in opts.benches if b not in BENCHES and b != "all"]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHES)}")
    selected = [
        b for b in BENCHES if not opts.benches or "all" in opts.benches or b in opts.benches
    ]
    if opts.scale <= 0:
        parser.error("--scale must be positive")
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl-C must stop us (and so everything we started) even if SIGINT came in ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    print("Postflow inbound benchmarks (all traffic on 127.0.0.1)")
    print("machine:")
    for line in machine_facts():
        print(line)
    try:
        from bench import pg

        url, cluster = pg.admin_url()
        if cluster is None:  # a throwaway cluster is started by each benchmark, not here
            print(f"  {pg.server_facts(url)}")
    except Exception as exc:  # reported again, as an error, by the benchmark that needs it
        print(f"  PostgreSQL: unavailable ({exc})")
    sys.stdout.flush()

    results: list[Result] = []
    errors: dict[str, str] = {}
    started = time.monotonic()
    for name in selected:
        module = importlib.import_module(BENCHES[name])
        print(f"\n=== {name}: {(module.__doc__ or '').strip().splitlines()[0]}")
        t0 = time.monotonic()
        try:
            with Stack(name) as stack:
                try:
                    results += asyncio.run(module.run(stack, opts))
                except Exception:
                    for proc_name in stack.logged():
                        print(f"--- last lines of {proc_name}'s log:\n{stack.log_tail(proc_name)}")
                    raise
        except KeyboardInterrupt:
            print(f"\ninterrupted during {name}; everything it started has been stopped")
            return 130
        except Exception as exc:
            traceback.print_exc()
            errors[name] = f"{type(exc).__name__}: {exc}"
        print(f"  [{name}: {time.monotonic() - t0:.0f} s; load average {load_average()}]")
        sys.stdout.flush()

    print(f"\n=== summary ({time.monotonic() - started:.0f} s; load average {load_average()})")
    for line in summary(results, errors):
        print(line)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
