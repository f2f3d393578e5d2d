"""SDK conformance suite (issue 6 item 2): starts the fake upstream and the proxy, drives
them with the official `openai` and `anthropic` SDKs, prints one line per check and,
last, `N passed, M failed`. Exit status 1 on any failure. Run it through `tests/sdk/run`,
which builds the binaries and prepares the virtualenv.

    suite.py --proxy PATH --fake PATH [-k SUBSTRING ...] [--list]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
import warnings


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy", required=True, help="the copilot-api binary")
    parser.add_argument("--fake", required=True, help="the fake-upstream example binary")
    parser.add_argument("-k", action="append", default=[], help="run checks whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    parser.add_argument("--limit", type=float, default=30.0, help="seconds allowed per check")
    args = parser.parse_args()

    # The SDKs read these; the suite passes everything explicitly and talks to loopback only.
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "ANTHROPIC_")) or name.upper().endswith("_PROXY"):
            del os.environ[name]
    warnings.simplefilter("ignore")

    try:
        import anthropic
        import openai

        import harness
        import checks_openai  # noqa: F401 - registers its checks
        import checks_anthropic  # noqa: F401
        import checks_errors  # noqa: F401
    except ImportError as e:
        print(f"sdk suite: a Python dependency is missing: {e}")
        print("0 passed, 1 failed")
        return 1

    selected = [c for c in harness.CHECKS if not args.k or any(k in c.name for k in args.k)]
    if args.list:
        for c in selected:
            print(c.name)
        return 0

    # A SIGTERM (CI cancelling) unwinds through `finally`, which stops both processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs = harness.Processes()
    started = time.monotonic()
    passed, failed = 0, 0
    try:
        stack = procs.start(args.proxy, args.fake)
        print(f"sdk suite: openai {openai.__version__}, anthropic {anthropic.__version__}; "
              f"proxy {stack.base}, fake upstream {stack.fake}; {len(selected)} checks")
        passed, failed = harness.run_checks(stack, selected, args.limit)
        if failed:
            print(f"sdk suite: logs kept in {procs.dir}")
    except Exception as e:  # noqa: BLE001 - the harness itself failed
        print(f"sdk suite: could not run: {harness.describe(e)}")
        print(f"sdk suite: logs kept in {procs.dir}")
        failed += 1
    finally:
        procs.stop()
    if not failed:
        shutil.rmtree(procs.dir, ignore_errors=True)
    print(f"sdk suite: {time.monotonic() - started:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
