"""The daemon itself: health, readiness, metrics, problems, size caps,
database outage and recovery, graceful stop."""

import socket
import threading
import time
import unittest

from harness import Daemon, pg_cmd


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(DADM_HTTP_MAX_BODY_BYTES="4096", DADM_HTTP_MAX_HEADER_BYTES="2048").start()

    @classmethod
    def tearDownClass(cls):
        code = cls.d.stop()
        assert code == 0, f"dadmd exit code {code}"

    def assertProblem(self, r, status, slug):
        self.assertEqual(r.status, status, r.body)
        self.assertEqual(r.header("Content-Type"), "application/problem+json")
        p = r.json()
        self.assertEqual(p["type"], "/problems/" + slug)
        self.assertEqual(p["status"], status)
        self.assertTrue(p["title"])
        self.assertTrue(p["detail"])
        self.assertEqual(len(p["request_id"]), 16)
        self.assertEqual(r.header("X-Request-Id"), p["request_id"])
        return p

    def test_healthz(self):
        r = self.d.get("/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "ok"})
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    def test_readyz(self):
        r = self.d.get("/readyz")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["status"], "ready")

    def test_not_found_is_problem(self):
        p = self.assertProblem(self.d.get("/nope"), 404, "not-found")
        self.assertEqual(p["title"], "Ressource introuvable")
        self.assertEqual(p["instance"], "/nope")

    def test_method_not_allowed(self):
        r = self.d.request("DELETE", "/api/v1/products")
        self.assertProblem(r, 405, "method-not-allowed")
        self.assertEqual(r.header("Allow"), "GET")

    def test_body_too_large(self):
        r = self.d.request("POST", "/api/v1/products", body="x" * 5000)
        self.assertProblem(r, 413, "payload-too-large")

    def test_chunked_body_too_large(self):
        # No Content-Length: the cap applies while reading.
        s = socket.create_connection(("127.0.0.1", self.d.port))
        s.sendall(b"POST /api/v1/products HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"y" * 1000
        for _ in range(10):
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        s.sendall(b"0\r\n\r\n")
        data = b""
        s.settimeout(10)
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            part = s.recv(4096)
            if not part:
                break
            data += part
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])
        self.assertIn(b"payload-too-large", data)

    def test_headers_too_large(self):
        r = self.d.get("/healthz", headers={"X-Filler": "z" * 3000})
        self.assertProblem(r, 431, "headers-too-large")

    def test_bad_pagination(self):
        for q in ("limit=0", "limit=201", "limit=abc", "offset=-1", "offset=1e3"):
            with self.subTest(q=q):
                self.assertProblem(self.d.get("/api/v1/products?" + q), 422, "invalid-value")

    def test_metrics(self):
        self.d.get("/api/v1/products")
        self.d.get("/nope")
        r = self.d.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"))
        t = r.body.decode()
        self.assertRegex(t, r'dadm_http_requests_total\{route="/api/v1/products",status="200"\} [1-9]')
        self.assertRegex(t, r'dadm_http_requests_total\{route="unmatched",status="404"\} [1-9]')
        self.assertIn('dadm_http_request_duration_seconds_bucket{route="/api/v1/products",le="+Inf"}', t)
        self.assertIn("dadm_db_pool_size 2\n", t)
        self.assertRegex(t, r"dadm_db_errors_total \d+")

    def test_request_log_line(self):
        r = self.d.get("/api/v1/products?limit=1")
        rid = r.header("X-Request-Id")
        time.sleep(0.2)
        lines = [l for l in self.d.read_log().splitlines() if "rid=" + rid in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("event=http.request", lines[0])
        self.assertIn("status=200", lines[0])
        self.assertIn('route=/api/v1/products', lines[0])


class OutageTest(unittest.TestCase):
    """The database goes away and comes back: 503 with Retry-After, then
    normal service without restarting the daemon."""

    def test_database_down_and_back(self):
        d = Daemon().start()
        try:
            self.assertEqual(d.get("/api/v1/products").status, 200)
            pg_cmd("stop")
            try:
                for path in ("/api/v1/products", "/readyz", "/api/v1/me"):
                    r = d.get(path)
                    self.assertEqual(r.status, 503, (path, r.body))
                    self.assertEqual(r.header("Retry-After"), "5")
                    self.assertEqual(r.json()["type"], "/problems/database-unavailable")
                self.assertEqual(d.get("/healthz").status, 200)
            finally:
                pg_cmd("start")
            deadline = time.time() + 20
            status = None
            while time.time() < deadline:
                status = d.get("/api/v1/products").status
                if status == 200:
                    break
                time.sleep(0.2)
            self.assertEqual(status, 200)
            self.assertEqual(d.get("/readyz").status, 200)
            self.assertIn("event=db.reconnected", d.read_log())
        finally:
            self.assertEqual(d.stop(), 0)


class GracefulStopTest(unittest.TestCase):
    def test_in_flight_request_finishes(self):
        """A request still uploading its body when SIGTERM arrives gets its
        whole answer; new connections are refused afterwards."""
        d = Daemon().start()
        s = socket.create_connection(("127.0.0.1", d.port))
        body = b"x" * 200
        s.sendall(b"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body))
        s.sendall(body[:100])
        time.sleep(0.3)
        result = {}
        t = threading.Thread(target=lambda: result.update(code=d.stop()))
        t.start()
        time.sleep(0.5)
        s.sendall(body[100:])
        s.settimeout(10)
        data = b""
        while True:
            part = s.recv(4096)
            if not part:
                break
            data += part
        s.close()
        t.join(30)
        self.assertTrue(data.startswith(b"HTTP/1.1 405"), data[:200])
        self.assertIn(b"method-not-allowed", data)
        self.assertEqual(result.get("code"), 0)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", d.port), timeout=2)
        self.assertIn("event=server.stopped unfinished=0", d.read_log())

    def test_stop_under_load(self):
        """SIGTERM while clients keep connecting and asking: every stop ends
        cleanly (exit 0), whatever the worker threads were doing."""
        for _ in range(10):
            d = Daemon(DADM_HTTP_THREADS="4").start()
            done = threading.Event()

            def hammer():
                while not done.is_set():
                    try:
                        c = socket.create_connection(("127.0.0.1", d.port), timeout=2)
                        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                        c.recv(4096)
                        c.close()
                    except OSError:
                        pass

            workers = [threading.Thread(target=hammer) for _ in range(8)]
            for w in workers:
                w.start()
            time.sleep(0.3)
            code = d.stop()
            done.set()
            for w in workers:
                w.join(10)
            self.assertEqual(code, 0, d.read_log()[-2000:])
            self.assertIn("event=server.stopped", d.read_log())


if __name__ == "__main__":
    unittest.main()
