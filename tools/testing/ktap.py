#!/usr/bin/env python3
"""Collects the results of every KUnit suite in a kernel console log.

The kernel prints one KTAP document per module load (plus an empty one at
boot for built-in suites), and `kunit.py parse` reads only the first of them,
so it misses a failing suite in the second module. This collector reads the
whole log instead: every suite that starts (`# Subtest: NAME` at the suite
level) is followed to its result line, whatever document it is in.

A log fails when:
  - a suite reports `not ok`, or any of its test cases does;
  - a suite starts and never reports a result (the kernel crashed or hung);
  - a suite named with --expect never ran.

usage: ktap.py [--expect SUITE]... LOG...
Prints one line per suite run, then `kunit: N passed, N failed, N skipped`
(test cases, with each failed, incomplete or missing suite counted as one
failure), and exits 1 on any failure, 0 otherwise.
"""

import argparse
import re
import sys
from dataclasses import dataclass, field

# "[    1.132254] " printk timestamps, and a "<6>" level prefix on raw reads.
_PREFIX = re.compile(r"^(?:<\d+>)?(?:\[\s*\d+\.\d+\] ?)?")
_RESULT = re.compile(r"^(not )?ok (\d+)(?: (?:- )?([^#]*?))?\s*(?:#\s*(\S+)(.*))?$")
_SUBTEST = re.compile(r"^# Subtest: (\S+)")

SUITE_INDENT = 4  # a module's suites are subtests of its top-level document
CASE_INDENT = 8


@dataclass
class Suite:
    """One run of a KUnit suite."""

    name: str
    passed: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    result: str = "incomplete"  # "ok", "not ok", "skip" or "incomplete"
    diagnostics: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result in ("ok", "skip") and not self.failed


def _split(line: str):
    """Strips the printk prefix; returns (indent, text)."""
    line = _PREFIX.sub("", line.rstrip("\r\n"))
    text = line.lstrip(" ")
    return len(line) - len(text), text


def parse(lines):
    """Returns every suite run found in the log lines, in order."""
    suites = []
    current = None
    for raw in lines:
        indent, text = _split(raw)
        sub = _SUBTEST.match(text)
        if sub and indent == SUITE_INDENT:
            if current is not None:
                suites.append(current)  # never finished: stays incomplete
            current = Suite(sub.group(1))
            continue
        res = _RESULT.match(text)
        if current is None:
            continue
        if res:
            bad, _num, name, directive, _rest = res.groups()
            name = (name or "").strip()
            skip = (directive or "").upper() == "SKIP"
            if indent == SUITE_INDENT:
                # a test case of the current suite
                (current.skipped if skip else current.failed if bad else current.passed).append(name)
            elif indent == 0 and name == current.name:
                current.result = "skip" if skip else "not ok" if bad else "ok"
                suites.append(current)
                current = None
            # deeper indents are parameterised sub-cases; their parent case
            # at SUITE_INDENT carries the verdict
        elif indent >= SUITE_INDENT and text.startswith("#") and (
            "ASSERTION FAILED" in text or "EXPECTATION FAILED" in text or "crashed" in text
        ):
            current.diagnostics.append(text)
    if current is not None:
        suites.append(current)
    return suites


def report(suites, expect, out=sys.stdout):
    """Prints the verdicts; returns (passed, failed, skipped)."""
    passed = failed = skipped = 0
    for s in suites:
        passed += len(s.passed)
        skipped += len(s.skipped)
        failed += len(s.failed)
        counts = f"{len(s.passed)} passed, {len(s.failed)} failed, {len(s.skipped)} skipped"
        if s.result == "incomplete":
            failed += 1
            print(f"kunit: suite {s.name}: INCOMPLETE ({counts}; started but never "
                  "reported a result: the kernel crashed or hung)", file=out)
        elif not s.ok:
            if not s.failed:
                failed += 1  # the suite itself failed (init, exit)
            names = ", ".join(s.failed) or "suite-level failure"
            print(f"kunit: suite {s.name}: FAILED ({counts}: {names})", file=out)
            for d in s.diagnostics:
                print(f"kunit:     {d}", file=out)
        else:
            print(f"kunit: suite {s.name}: ok ({counts})", file=out)
    seen = {s.name for s in suites}
    for name in expect:
        if name not in seen:
            failed += 1
            print(f"kunit: suite {name}: MISSING (expected, never ran)", file=out)
    print(f"kunit: {passed} passed, {failed} failed, {skipped} skipped", file=out)
    return passed, failed, skipped


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--expect", action="append", default=[], metavar="SUITE",
                    help="a suite that must have run (repeatable)")
    ap.add_argument("logs", nargs="+", metavar="LOG")
    args = ap.parse_args(argv)
    lines = []
    for path in args.logs:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines.extend(f.readlines())
    _, failed, _ = report(parse(lines), args.expect)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
