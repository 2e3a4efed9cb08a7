"""Smoke test of the benchmarks (tools/bench/): they are not tests and do
not run in `make check`, but their scripts must parse and the report they
share must compute what it prints.

- every shell script under tools/bench/ passes `bash -n` (sh -n for the
  guest halves), every Python file compiles;
- report.py, on a synthetic console log of two workloads (three
  repetitions with both drivers, one with C only), prints the Rust/C mean,
  median, interval and range of the complete pairs, with the unit of each
  workload, and writes run.csv and summary.csv.
"""

import os
import subprocess
import sys
import tempfile
import unittest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(TOP, "tools", "bench")


def bench_files():
    for dp, _, fs in os.walk(BENCH):
        for f in sorted(fs):
            yield os.path.join(dp, f)


def kind(path):
    if path.endswith(".py"):
        return "python"
    with open(path, "rb") as f:
        first = f.readline()
    if first.startswith(b"#!") and b"python" in first:
        return "python"
    if first.startswith(b"#!/bin/sh"):
        return "sh"
    if first.startswith(b"#!") and b"bash" in first or path.endswith(".sh"):
        return "bash"
    return None


class Parse(unittest.TestCase):
    def test_scripts_parse(self):
        seen = 0
        for p in bench_files():
            k = kind(p)
            if k is None:
                continue
            seen += 1
            with self.subTest(script=os.path.relpath(p, TOP)):
                if k == "python":
                    with open(p) as f:
                        compile(f.read(), p, "exec")
                else:
                    r = subprocess.run([k, "-n", p], capture_output=True, text=True)
                    self.assertEqual(r.returncode, 0, r.stderr)
        # blk, net and console: run, guest halves, counts, reports.
        self.assertGreaterEqual(seen, 15)


LOG = """\
[   10.0] something else
BENCH C tcp-tx 1 100.0 Mbit/s
BENCH Rust tcp-tx 1 110.0 Mbit/s
BENCH C udp64 1 1000 pkt/s
BENCH Rust udp64 1 900 pkt/s
BENCH Rust tcp-tx 2 100.0 Mbit/s
BENCH C tcp-tx 2 100.0 Mbit/s
BENCH Rust udp64 2 1000 pkt/s
BENCH C udp64 2 1000 pkt/s
BENCH C tcp-tx 3 200.0 Mbit/s
BENCH Rust tcp-tx 3 180.0 Mbit/s
BENCH C udp64 3 1000 pkt/s
BENCH Rust udp64 3 1100 pkt/s
BENCH C tcp-tx 4 100.0 Mbit/s
"""


class Report(unittest.TestCase):
    def test_ratios(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "console.log")
            with open(log, "w") as f:
                f.write(LOG)
            r = subprocess.run([sys.executable, os.path.join(BENCH, "report.py"), log, d,
                                "not pinned: test", "the title", "short"],
                               capture_output=True, text=True, env=dict(os.environ, PATH="/nonexistent"))
            self.assertEqual(r.returncode, 0, r.stderr)
            rows = {l.split()[0]: l.split() for l in r.stdout.splitlines()
                    if l.split() and l.split()[0] in ("tcp-tx", "udp64")}
            # tcp-tx ratios 1.1, 1.0, 0.9 (repetition 4 has no Rust run):
            # mean 1.00, median 1.00, t-interval 1.00 +- 4.303 * 0.1 / sqrt(3).
            self.assertEqual(rows["tcp-tx"][1:], ["Mbit/s", "133", "130", "1.00", "1.00", "0.75..1.25",
                                                  "0.90..1.10"])
            # udp64: 0.9, 1.0, 1.1.
            self.assertEqual(rows["udp64"][1:4], ["pkt/s", "1000", "1000"])
            self.assertIn("the title", r.stdout)
            self.assertIn("vCPU threads: not pinned: test", r.stdout)
            with open(os.path.join(d, "run.csv")) as f:
                self.assertEqual(len(f.read().splitlines()), 1 + 13)
            with open(os.path.join(d, "summary.csv")) as f:
                self.assertEqual(len(f.read().splitlines()), 1 + 2)


if __name__ == "__main__":
    unittest.main()
