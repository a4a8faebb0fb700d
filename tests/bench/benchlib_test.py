#!/usr/bin/env python3
"""Unit tests of bench/benchlib.py: medians, ratios and the calm runs (steal per second)."""
import contextlib, io, json, os, sys, tempfile, unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import benchlib  # noqa: E402


class SummarizeTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.runs = os.path.join(self.dir.name, "runs.jsonl")
        self.out = os.path.join(self.dir.name, "out.json")

    def tearDown(self):
        self.dir.cleanup()

    def add(self, system, run, **metrics):
        benchlib.add_row(self.runs, "side_by_side", system, "fedua_5000", run,
                         *("%s=%s" % kv for kv in metrics.items()))

    def summarize(self):
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            benchlib.summarize(self.runs, self.out, "commit=test")
        with open(self.out) as f:
            return json.load(f), printed.getvalue()

    def result(self, doc, system):
        return next(r for r in doc["results"] if r["system"] == system)

    def test_calm_runs_are_those_with_little_steal_per_second(self):
        # 12 s runs: 10 ms/s allows 120 ms of steal.
        self.add("fedgw", 1, p99_ms=0.12, steal_ms=20, seconds=12)
        self.add("fedgw", 2, p99_ms=66.8, steal_ms=730, seconds=12)
        self.add("fedgw", 3, p99_ms=0.14, steal_ms=120, seconds=12)
        self.add("kamailio", 1, p99_ms=92.5, steal_ms=1000, seconds=12)
        self.add("kamailio", 2, p99_ms=0.29, steal_ms=30, seconds=12)
        self.add("kamailio", 3, p99_ms=52.8, steal_ms=290, seconds=12)
        doc, printed = self.summarize()
        fedgw, kamailio = self.result(doc, "fedgw"), self.result(doc, "kamailio")
        # Every run still counts for the plain medians.
        self.assertEqual(fedgw["metrics"]["p99_ms"]["median"], 0.14)
        self.assertEqual(kamailio["metrics"]["p99_ms"]["median"], 52.8)
        self.assertEqual((fedgw["calm"]["runs"], fedgw["calm"]["of"]), (2, 3))
        self.assertEqual(fedgw["calm"]["metrics"]["p99_ms"]["median"], 0.13)
        self.assertEqual((kamailio["calm"]["runs"], kamailio["calm"]["of"]), (1, 3))
        self.assertEqual(kamailio["calm"]["metrics"]["p99_ms"]["median"], 0.29)
        ratios = doc["ratios"][0]
        self.assertEqual(ratios["calm_fedgw_over_kamailio"]["p99_ms"], round(0.13 / 0.29, 3))
        # steal describes the machine, not a system: never a ratio.
        self.assertNotIn("steal_ms", ratios["fedgw_over_kamailio"])
        self.assertIn("calm runs 2 of 3 (steal <= 10 ms/s): p99_ms 0.13 (0.12-0.14)", printed)

    def test_a_system_without_calm_runs_has_no_calm_figures_or_ratio(self):
        self.add("fedgw", 1, p99_ms=0.12, steal_ms=10, seconds=3)
        self.add("kamailio", 1, p99_ms=40.0, steal_ms=200, seconds=3)
        doc, printed = self.summarize()
        self.assertEqual(self.result(doc, "kamailio")["calm"]["runs"], 0)
        self.assertEqual(self.result(doc, "kamailio")["calm"]["metrics"], {})
        self.assertNotIn("calm_fedgw_over_kamailio", doc["ratios"][0])
        self.assertIn("calm runs 0 of 1 (steal <= 10 ms/s)\n", printed)

    def test_rows_without_steal_figures_get_no_calm_summary(self):
        self.add("fedgw", 1, msg_s=1000, seconds=3)
        doc, _ = self.summarize()
        self.assertNotIn("calm", self.result(doc, "fedgw"))


if __name__ == "__main__":
    unittest.main()
