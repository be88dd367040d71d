#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Fails `make test` when any test did not run: a skipped test proves nothing.

  check_no_skips.py CTEST_JUNIT_XML

Reads the JUnit report that `ctest --output-junit` wrote, prints how many tests ran, and names
every test that was skipped (GTEST_SKIP, exit code 77) or not run at all. Exit 1 if there is
any. Tests that need a GPU carry the label `gpu` and are left out by the Makefile, not skipped.
"""
import sys
import xml.etree.ElementTree as ElementTree


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    try:
        cases = ElementTree.parse(sys.argv[1]).getroot().iter("testcase")
    except (OSError, ElementTree.ParseError) as error:
        print(f"check_no_skips: cannot read the CTest report {sys.argv[1]}: {error}")
        return 1
    ran, not_run = 0, []
    for case in cases:
        skipped = case.find("skipped")
        if skipped is not None or case.get("status") in ("notrun", "disabled"):
            reason = (skipped.get("message") if skipped is not None else None) or case.get("status")
            not_run.append(f"{case.get('name')} ({reason})")
        else:
            ran += 1
    print(f"make test: {ran} tests ran, {len(not_run)} did not run")
    if not_run:
        print("These tests did not run, which fails the suite (a test that cannot run on every "
              "machine carries the label gpu instead):")
        for line in not_run:
            print(f"  {line}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
