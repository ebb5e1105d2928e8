"""Shared helpers of the integration tests: the real dadmd started on a free
loopback port, HTTP calls, dadmctl, and direct connections to the test
cluster (as the daemon's role, to test row-level security on its own)."""

import http.client
import json
import getpass
import os
import signal
import socket
import subprocess
import time

import psycopg2

BUILD = os.environ["DADM_BUILDDIR"]
SRC = os.environ["DADM_SRCDIR"]
PGDIR = os.environ["DADM_TEST_PGDIR"]
DADMD = os.path.join(BUILD, "src", "dadmd")
DADMCTL = os.path.join(BUILD, "src", "dadmctl")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ctl(*args, check=True, input=None, env=None):
    """Runs dadmctl; returns (exit code, stdout, stderr)."""
    p = subprocess.run([DADMCTL, *args], capture_output=True, text=True, input=input,
                       env={**os.environ, **(env or {})}, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"dadmctl {' '.join(args)} failed: {p.stderr}")
    return p.returncode, p.stdout, p.stderr


def session(login):
    """A fresh session token for a demo account."""
    return ctl("session", "create", "--account", login)[1].strip()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Daemon:
    """One dadmd process on a free port, with its stderr kept to a file."""

    def __init__(self, **env):
        self.port = free_port()
        self.log_path = os.path.join(os.environ["DADM_TEST_WORK"], f"dadmd-{self.port}.log")
        self.env = {**os.environ, "DADM_HTTP_PORT": str(self.port),
                    "DADM_HTTP_THREADS": "2", **env}
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([DADMD], env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dadmd exited: {self.read_log()}")
            try:
                if self.get("/healthz").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("dadmd did not answer /healthz in time")

    def stop(self):
        """SIGTERM, then waits; returns the exit code."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        self.proc = None
        return code

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, token=None, cookie=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if cookie:
            h["Cookie"] = "__Host-dadm_session=" + cookie
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        resp = Response(r.status, r.getheaders(), r.read())
        c.close()
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)


def pg_cmd(action):
    """Stops or starts the test cluster (for the database-down tests)."""
    subprocess.run(["bash", "-c", f'. "{SRC}/scripts/lib/pg.sh" && pg_{action} "{PGDIR}" fast'
                    if action == "start" else f'. "{SRC}/scripts/lib/pg.sh" && pg_{action} "{PGDIR}"'],
                   check=True, timeout=120)


def superuser():
    """The test cluster's superuser (scripts/lib/pg.sh, pg_superuser)."""
    return "postgres" if os.geteuid() == 0 else getpass.getuser()


def connect(role):
    return psycopg2.connect(host=os.path.join(PGDIR, "run"), dbname="dadm", user=role)


def owner(sql, args=()):
    """Runs one statement as the owner role in its own transaction; its rows,
    or None for a statement that returns none."""
    c = connect("dadm_owner")
    try:
        with c, c.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None
    finally:
        c.close()


def ids():
    """Ids of the demo establishments and products, read as the owner."""
    with connect("dadm_owner") as c, c.cursor() as cur:
        cur.execute("SELECT uai, id FROM dadm.etab")
        etabs = dict(cur.fetchall())
        cur.execute("SELECT code, id FROM dadm.product")
        products = dict(cur.fetchall())
    c.close()
    return etabs, products


STRASBOURG, POITIERS, NANTES = "0673021V", "0860856N", "0440984F"
