"""The suite's refusal to report figures from failed requests (`just test`
runs this file; the measurements themselves are `just bench`)."""
import unittest

from run import FigureFailed, placement_figures, tool_figures, wrk_figures

CLEAN = """Running 10s test @ http://127.0.0.1:18080/api/products/SKU-KETTLE
  2 threads and 32 connections
  Latency Distribution
     50%    3.87ms
     75%    4.51ms
     90%    5.40ms
     99%   10.03ms
  69820 requests in 10.00s, 22.84MB read
Requests/sec:   6982.04
Transfer/sec:      2.28MB
"""


class WrkReport(unittest.TestCase):
    def test_a_clean_run_gives_its_figures(self):
        figures = wrk_figures(CLEAN, "url")
        self.assertEqual(figures, {"rps": 6982.04, "p50_ms": 3.87, "p99_ms": 10.03})

    def test_microseconds_and_seconds_are_converted(self):
        text = CLEAN.replace("3.87ms", "870.00us").replace("10.03ms", "1.20s")
        self.assertEqual(wrk_figures(text, "url")["p50_ms"], 0.87)
        self.assertEqual(wrk_figures(text, "url")["p99_ms"], 1200.0)

    def test_a_single_non_2xx_answer_fails_the_figure(self):
        text = CLEAN.replace("Requests/sec", "  Non-2xx or 3xx responses: 1\nRequests/sec")
        with self.assertRaises(FigureFailed):
            wrk_figures(text, "url")

    def test_socket_errors_fail_the_figure(self):
        text = CLEAN.replace("Requests/sec", "  Socket errors: connect 0, read 2, write 0, timeout 0\nRequests/sec")
        with self.assertRaises(FigureFailed):
            wrk_figures(text, "url")
        quiet = CLEAN.replace("Requests/sec", "  Socket errors: connect 0, read 0, write 0, timeout 0\nRequests/sec")
        self.assertEqual(wrk_figures(quiet, "url")["rps"], 6982.04)


class ToolReports(unittest.TestCase):
    def test_errors_anywhere_in_a_bench_report_fail_it(self):
        ok = {"comms": {"count": 10, "errors": 0}, "lapin": {"count": 10, "errors": 0}}
        self.assertIs(tool_figures(ok, "publish"), ok)
        failed = {"rabbitmq": {"task": {"count": 9, "errors": 1}}}
        with self.assertRaises(FigureFailed):
            tool_figures(failed, "patterns")

    def test_a_429_during_the_order_load_fails_the_figure(self):
        summary = {"errors": 1, "statuses": {"201": 99, "429": 1},
                   "routes": {"POST /api/orders": {"count": 99, "per_sec": 9.9}}}
        with self.assertRaises(FigureFailed):
            placement_figures(summary)
        summary.update(errors=0, statuses={"201": 99})
        self.assertEqual(placement_figures(summary)["count"], 99)


if __name__ == "__main__":
    unittest.main()
