#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Chaos runs of internvl-streamd as a real process: faults from outside (cameras dying, a full
disk, hostile network peers) and load (memory over half an hour, half-open HTTP connections)
while it publishes, with one result line per scenario giving its
figures and PASSED or FAILED. See tests/chaos/README.md for what each scenario does and checks.

Usage: run_chaos.py SCENARIO [SCENARIO...] --build DIR --work-dir DIR [--model DIR] [options]
       run_chaos.py all --build DIR --work-dir DIR

--build is a build folder holding bin/internvl-streamd and tests/integration/rtsp_test_server.
Exit status: 0 when every scenario passed, 1 otherwise, 77 when python3-zmq is missing.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import chaos_faults  # noqa: E402
import chaos_load  # noqa: E402
from e2e_common import SKIP, Failure, checkpoint_dir, run_scenario, zmq_missing  # noqa: E402

# Each module has SCENARIOS ({name: fn(args, tiny, work) -> figures line or None}) and
# add_arguments(parser); adding a module is adding it here.
MODULES = [chaos_faults, chaos_load]


def registry():
    scenarios = {}
    for module in MODULES:
        for name, fn in module.SCENARIOS.items():
            if name in scenarios:
                raise SystemExit(f"scenario {name!r} is defined twice ({module.__name__})")
            scenarios[name] = fn
    return scenarios


def run_one(name, fn, args, tiny):
    """Runs one scenario in args.work_dir/name and prints its result line; returns 0 or 1."""
    figures = []

    def run(work):
        try:
            figures.append(fn(args, tiny, work))
        except Failure:
            raise
        except Exception as error:  # an unexpected error is a failed scenario, not a lost run
            raise Failure(f"{type(error).__name__}: {error}") from error
    status = run_scenario(name, run, args.work_dir)
    print(f"RESULT {name}: {'PASSED' if status == 0 else 'FAILED'}" + (f" {figures[0]}" if figures and figures[0] else ""),
          flush=True)
    return status


def main():
    scenarios = registry()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="+", metavar="SCENARIO", choices=sorted(scenarios) + ["all"])
    parser.add_argument("--build", required=True, help="build folder of the binaries under test")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--model", default=os.path.join(REPO, "tests", "data", "parity", "internvl-tiny"),
                        help="the tiny checkpoint folder")
    for module in MODULES:
        module.add_arguments(parser)
    args = parser.parse_args()
    args.service = os.path.join(args.build, "bin", "internvl-streamd")
    args.rtsp_server = os.path.join(args.build, "tests", "integration", "rtsp_test_server")
    for binary in (args.service, args.rtsp_server):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"FAILED: {binary} is missing: build internvl-streamd and rtsp_test_server in --build")
    tiny = checkpoint_dir(args.model)
    if zmq_missing():
        return SKIP
    names = sorted(scenarios) if "all" in args.scenarios else args.scenarios
    failed = sum(run_one(name, scenarios[name], args, tiny) for name in names)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
