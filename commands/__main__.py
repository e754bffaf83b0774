"""`python -m commands <subcommand>`: what `./postflow` runs inside the project's venv."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys

from settings import load_settings

SUBCOMMANDS = (
    "up", "api", "worker", "ingress", "migrate", "bootstrap", "healthcheck", "test", "bench",
)


def run_tests(extra: list[str]) -> int:
    """The whole suite. pytest's 'no tests collected' (exit 5) is a failure, never a pass."""
    env = dict(os.environ)
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env.setdefault("ORT_DISABLE_TELEMETRY", "1")
    code = subprocess.call([sys.executable, "-m", "pytest", *extra], env=env)  # noqa: S603
    if code == 5:
        print("postflow test: pytest collected no tests; failing", file=sys.stderr)
        return 1
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="postflow")
    parser.add_argument("command", choices=SUBCOMMANDS)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    if ns.command == "test":
        return run_tests(ns.args)
    if ns.command == "bench":
        # Benchmarks print figures and ratios to same-run baselines; see bench/README in README.
        return subprocess.call([sys.executable, "-m", "bench", *ns.args])  # noqa: S603
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from commands import services

    if ns.command == "up":
        from commands.up import run_up

        return run_up(settings)
    if ns.command == "api":
        services.run_api(settings)
    elif ns.command == "worker":
        services.run_worker(settings)
    elif ns.command == "ingress":
        services.run_ingress(settings)
    elif ns.command == "migrate":
        services.migrate(settings)
    elif ns.command == "bootstrap":
        services.bootstrap(settings)
    elif ns.command == "healthcheck":
        return services.healthcheck(settings, ns.args[0] if ns.args else "worker")
    return 0


if __name__ == "__main__":
    sys.exit(main())
