"""Self-test of the KTAP collector (ktap.py).

The logs in testdata/ were captured from real guests (console output of
tools/vm/run, timestamps and all):

- two-modules-one-failing.log: rvirtio_sample (passes) is loaded, then a
  module whose suite fails two of three cases;
- crash-mid-suite.log: rvirtio_sample, then a module whose second test case
  dereferences NULL, so the kernel panics inside the suite;
- all-pass.log: rvirtio_sample loaded twice.

The inline logs cover KTAP features the captured ones lack.
"""

import io
import os
import unittest

import ktap

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")


def collect(text_or_file, expect=()):
    if text_or_file.endswith(".log"):
        with open(os.path.join(DATA, text_or_file), encoding="utf-8") as f:
            lines = f.read().splitlines()
    else:
        lines = text_or_file.splitlines()
    suites = ktap.parse(lines)
    out = io.StringIO()
    counts = ktap.report(suites, list(expect), out=out)
    return suites, counts, out.getvalue()


class CapturedLogs(unittest.TestCase):
    def test_second_module_failure_is_reported(self):
        suites, (p, f, s), out = collect("two-modules-one-failing.log")
        by_name = {x.name: x for x in suites}
        self.assertEqual(set(by_name), {"rvirtio_sample", "rvirtio_demo_fail"})
        self.assertTrue(by_name["rvirtio_sample"].ok)
        bad = by_name["rvirtio_demo_fail"]
        self.assertFalse(bad.ok)
        self.assertEqual(bad.result, "not ok")
        self.assertEqual(sorted(bad.failed), ["fails_on_purpose", "returns_err"])
        self.assertEqual(bad.passed, ["passes"])
        self.assertEqual(f, 2)
        self.assertIn("suite rvirtio_demo_fail: FAILED", out)
        self.assertEqual(ktap.main([os.path.join(DATA, "two-modules-one-failing.log")]), 1)

    def test_crash_inside_a_suite_is_a_failure(self):
        suites, (p, f, s), out = collect("crash-mid-suite.log")
        crash = [x for x in suites if x.name == "rvirtio_demo_crash"]
        self.assertEqual(len(crash), 1)
        self.assertEqual(crash[0].result, "incomplete")
        self.assertEqual(crash[0].passed, ["passes_first"])
        self.assertGreaterEqual(f, 1)
        self.assertIn("INCOMPLETE", out)
        self.assertEqual(ktap.main([os.path.join(DATA, "crash-mid-suite.log")]), 1)

    def test_all_pass(self):
        suites, (p, f, s), out = collect("all-pass.log", expect=["rvirtio_sample"])
        self.assertEqual([x.name for x in suites], ["rvirtio_sample", "rvirtio_sample"])
        self.assertEqual(f, 0)
        self.assertEqual(p, 2 * len(suites[0].passed))
        self.assertGreater(p, 0)
        self.assertEqual(ktap.main(["--expect", "rvirtio_sample", os.path.join(DATA, "all-pass.log")]), 0)

    def test_missing_expected_suite_fails(self):
        _, (_, f, _), out = collect("all-pass.log", expect=["rvirtio_rng"])
        self.assertEqual(f, 1)
        self.assertIn("suite rvirtio_rng: MISSING", out)


INLINE = """\
[    0.500000] KTAP version 1\r
[    0.500001] 1..0\r
[    1.000000] KTAP version 1
[    1.000001] 1..1
[    1.000002]     KTAP version 1
[    1.000003]     # Subtest: alpha
[    1.000004]     1..3
[    1.000005]         KTAP version 1
[    1.000006]         # Subtest: param_case
[    1.000007]         ok 1 param a
[    1.000008]         not ok 2 param b
[    1.000009]     not ok 1 param_case
[    1.000010]     ok 2 skipped_case # SKIP not on this arch
[    1.000011]     ok 3 plain_case
[    1.000012] # alpha: pass:1 fail:1 skip:1 total:3
[    1.000013] not ok 1 alpha
[    2.000000] KTAP version 1
[    2.000001] 1..1
[    2.000002]     KTAP version 1
[    2.000003]     # Subtest: beta
[    2.000004]     1..1
[    2.000005]     ok 1 only
[    2.000006] ok 1 beta # SKIP whole suite skipped
"""


class InlineLogs(unittest.TestCase):
    def test_parameterised_case_skip_and_suite_skip(self):
        suites, (p, f, s), _ = collect(INLINE)
        self.assertEqual([x.name for x in suites], ["alpha", "beta"])
        alpha, beta = suites
        self.assertEqual(alpha.failed, ["param_case"])
        self.assertEqual(alpha.skipped, ["skipped_case"])
        self.assertEqual(alpha.passed, ["plain_case"])
        self.assertEqual(beta.result, "skip")
        self.assertTrue(beta.ok)
        self.assertEqual((p, f, s), (2, 1, 1))

    def test_suite_not_ok_with_no_failed_case_counts_once(self):
        log = "    # Subtest: gamma\n    ok 1 a\nnot ok 1 gamma\n"
        suites, (p, f, _), out = collect(log)
        self.assertEqual((p, f), (1, 1))
        self.assertIn("suite-level failure", out)

    def test_no_suites_and_nothing_expected_passes(self):
        _, (p, f, s), out = collect("[    0.5] KTAP version 1\n[    0.5] 1..0\n")
        self.assertEqual((p, f, s), (0, 0, 0))

    def test_unfinished_suite_followed_by_another_is_incomplete(self):
        log = "    # Subtest: first\n    ok 1 a\n    # Subtest: second\n    ok 1 b\nok 1 second\n"
        suites, (_, f, _), _ = collect(log)
        self.assertEqual([(x.name, x.result) for x in suites], [("first", "incomplete"), ("second", "ok")])
        self.assertEqual(f, 1)


if __name__ == "__main__":
    unittest.main()
