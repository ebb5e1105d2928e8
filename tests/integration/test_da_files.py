"""Attachments of assistance requests (DA) and production-access consents:
uploads (cap, empty file, forged type, paths in names, bad multipart), the
round trip of the bytes and the download headers, a real clamd (infected,
clean, unreachable), who may upload, list and download, and the consent
steps by the right and the wrong roles.

The DAs are inserted directly as the cluster's superuser (the filing API is
built elsewhere), with accounts, grants and a second contractor of this
module's own (logins prefixed `t-files-`)."""

import hashlib
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest
from datetime import datetime, timedelta, timezone

from harness import STRASBOURG, POITIERS, Daemon, connect, free_port, ids, session, superuser

READER_PW = "Lecteur#Demo-2026"
MAX = 20971520  # the default [attachments] max_bytes
SUFFIX = "%06d" % random.randint(0, 999999)
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4

W = {}  # ids of the module's world
TOK = {}  # session tokens by login
d = None
clamd = None


def su(sql, args=(), fetch=True):
    c = connect(superuser())
    try:
        with c, c.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if fetch and cur.description else None
    finally:
        c.close()


def one(sql, args=()):
    rows = su(sql, args)
    return rows[0][0] if rows else None


def account_id(login):
    return one("SELECT id FROM dadm.account WHERE login = %s", (login,))


def new_da(uai, product, filer, contractor=None, status="ECT", closed=False):
    """A DA as filed (status ECT unless told), returning its number."""
    return one(
        "INSERT INTO dadm.da (etab_id, product_id, installation_id, version_label, priority,"
        " domain_id, nature, title, description, filer_id, contractor_id, status, closed_at)"
        " SELECT e.id, p.id, i.id, '1.0', 'non_bloquant', dm.id, dm.nature, %s,"
        " 'Description de test', a.id, %s, %s, CASE WHEN %s THEN now() END"
        " FROM dadm.etab e JOIN dadm.product p ON p.code = %s"
        " JOIN dadm.installation i ON i.etab_id = e.id AND i.product_id = p.id"
        " JOIN dadm.domain dm ON dm.product_id = p.id JOIN dadm.account a ON a.login = %s"
        " WHERE e.uai = %s ORDER BY dm.id LIMIT 1 RETURNING number",
        (f"Essai pièces jointes {SUFFIX}", contractor, status, closed, product, filer, uai))


def tok(login):
    if login not in TOK:
        TOK[login] = session(login)
    return TOK[login]


def multipart(fields, boundary="----dadmTestBoundary7MA4YWxkTrZu0gW"):
    """fields: list of (name, filename or None, content type or None, bytes)."""
    out = b""
    for name, filename, ctype, data in fields:
        out += b"--" + boundary.encode() + b"\r\n"
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += '; filename="' + filename.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out += disp.encode() + b"\r\n"
        if ctype:
            out += b"Content-Type: " + ctype.encode() + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return out, "multipart/form-data; boundary=" + boundary


def upload(number, data, filename="capture.png", ctype="application/octet-stream", login=None,
           token=None, dm=None, raw=None):
    body, content_type = raw if raw else multipart([("file", filename, ctype, data)])
    h = {"Content-Type": content_type}
    t = token if token is not None else (tok(login) if login else None)
    return (dm or d).request("POST", f"/api/v1/das/{number}/attachments", body=body, headers=h,
                             token=t)


def get(path, login=None, token=None, dm=None):
    return (dm or d).request("GET", path, token=token if token is not None else
                             (tok(login) if login else None))


def post(path, body, login):
    return d.request("POST", path, body=body, token=tok(login))


def headers_only(path, length, ctype="multipart/form-data; boundary=b", login="alice.martin"):
    """The answer to a POST whose headers announce `length` bytes, none of
    which is sent: what the server says from Content-Length alone."""
    s = socket.create_connection(("127.0.0.1", d.port))
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok(login)}\r\n"
              f"Content-Type: {ctype}\r\nContent-Length: {length}\r\n\r\n".encode())
    s.settimeout(10)
    data = b""
    while not data.rstrip().endswith(b"}"):
        part = s.recv(4096)
        if not part:
            break
        data += part
    s.close()
    return data


def reader_token():
    r = d.request("POST", "/api/v1/reader-sessions", {"login": "aporead", "password": READER_PW})
    assert r.status == 201, r.body
    for k, v in r.headers:
        if k.lower() == "set-cookie" and v.startswith("__Host-dadm_session="):
            return v.split("=", 1)[1].split(";", 1)[0]
    raise AssertionError("no session cookie")


class Clamd:
    """A real clamd on loopback (TCP and a Unix socket), its database a
    single MD5 signature of the EICAR test file written here: no signature
    download."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="dadm-clamd-", dir=os.environ.get("DADM_TEST_WORK"))
        os.chmod(self.dir, 0o755)
        db = os.path.join(self.dir, "db")
        os.mkdir(db)
        with open(os.path.join(db, "dadm-test.hdb"), "w") as f:
            f.write(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Dadm.Test.Eicar\n")
        self.port = free_port()
        self.sock = os.path.join(self.dir, "clamd.sock")
        self.conf = os.path.join(self.dir, "clamd.conf")
        with open(self.conf, "w") as f:
            f.write(f"DatabaseDirectory {db}\nTCPSocket {self.port}\nTCPAddr 127.0.0.1\n"
                    f"LocalSocket {self.sock}\nForeground yes\n"
                    f"LogFile {self.dir}/clamd.log\nPidFile {self.dir}/clamd.pid\n"
                    f"StreamMaxLength 30M\n")
        self.proc = subprocess.Popen(["/usr/sbin/clamd", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("clamd exited: " + self.log())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(b"zPING\0")
                    if s.recv(16).startswith(b"PONG"):
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("clamd did not answer in time: " + self.log())

    def log(self):
        try:
            with open(os.path.join(self.dir, "clamd.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def setUpModule():
    global d, clamd
    etabs, products = ids()
    W["etabs"], W["products"] = etabs, products
    # A second contractor, consultant of apogee too, that no DA is handed to.
    W["other_contractor"] = one("INSERT INTO dadm.contractor (name) VALUES (%s) RETURNING id",
                                (f"t-files-Autre {SUFFIX}",))
    W["prestatech"] = one("SELECT id FROM dadm.contractor WHERE name = 'Prestatech'")
    people = [
        # login, etab, contractor, role, nature, product
        (f"t-files-other.{SUFFIX}", None, W["other_contractor"], "contractor_consultant",
         "fonctionnel", "apogee"),
        (f"t-files-sifac.{SUFFIX}", STRASBOURG, None, "correspondent", "fonctionnel", "sifac"),
        (f"t-files-poit.{SUFFIX}", POITIERS, None, "correspondent", "fonctionnel", "sifac"),
    ]
    for login, uai, contractor, role, nature, product in people:
        acc = one("INSERT INTO dadm.account (etab_id, contractor_id, login, given_name,"
                  " family_name, email) VALUES (%s, %s, %s, 'Test', 'Fichiers', %s) RETURNING id",
                  (etabs.get(uai), contractor, login, f"{login}@test.invalid"))
        su('INSERT INTO dadm."grant" (account_id, role, nature, product_id, etab_id,'
           " contractor_id) VALUES (%s, %s, %s, %s, %s, %s)",
           (acc, role, nature, products[product], etabs.get(uai), contractor), fetch=False)
    W["other"], W["sifac_a"], W["poit"] = (p[0] for p in people)
    # A's apogee DA handed to Prestatech; a closed one; Poitiers' télé-service sifac DA.
    W["da"] = new_da(STRASBOURG, "apogee", "alice.martin", contractor=W["prestatech"])
    W["closed"] = new_da(STRASBOURG, "apogee", "alice.martin", status="TER", closed=True)
    d = Daemon().start()
    clamd = Clamd()


def tearDownModule():
    if clamd:
        clamd.stop()
    # a clean exit (0): under the sanitizers, no leak and no error report
    assert d is None or d.stop() == 0, d.read_log()[-3000:]


class UploadTest(unittest.TestCase):
    def problem(self, r, status, *fragments):
        self.assertEqual(r.status, status, r.body)
        self.assertEqual(r.header("Content-Type"), "application/problem+json")
        p = r.json()
        for f in fragments:
            self.assertIn(f, p["detail"])
        return p

    def count(self, number):
        return one("SELECT count(*) FROM dadm.da_attachment f JOIN dadm.da x ON x.id = f.da_id"
                   " WHERE x.number = %s", (number,))

    def test_round_trip(self):
        number = new_da(STRASBOURG, "apogee", "alice.martin")
        data = PNG + os.urandom(5000)
        r = upload(number, data, "Capture d'écran (1).png", "image/png", login="alice.martin")
        self.assertEqual(r.status, 201, r.body)
        a = r.json()
        self.assertEqual(a["name"], "Capture décran (1).png")
        self.assertEqual(a["content_type"], "image/png")
        self.assertEqual(a["size"], len(data))
        self.assertEqual(a["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(a["uploader"], {"id": account_id("alice.martin"),
                                         "name": "Alice Martin"})
        self.assertEqual(r.header("Location"), f"/api/v1/das/{number}/attachments/{a['id']}")
        # download: the same bytes, the stored type, safe headers
        g = get(r.header("Location"), login="bruno.keller")
        self.assertEqual(g.status, 200)
        self.assertEqual(g.body, data)
        self.assertEqual(hashlib.sha256(g.body).hexdigest(), a["sha256"])
        self.assertEqual(g.header("Content-Type"), "image/png")
        self.assertEqual(g.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(g.header("Content-Security-Policy"), "default-src 'none'; sandbox")
        self.assertEqual(g.header("Content-Disposition"),
                         "attachment; filename=\"Capture d_cran (1).png\"; "
                         "filename*=UTF-8''Capture%20d%C3%A9cran%20%281%29.png")
        # the list: no content, the same metadata
        lst = get(f"/api/v1/das/{number}/attachments", login="hugo.bernard")
        self.assertEqual(lst.status, 200)
        self.assertEqual(lst.json()["items"], [a])
        self.assertEqual(lst.json()["total"], 1)
        # stored in the database with an event and an audit row
        row = su("SELECT f.content, f.sha256, f.size, f.content_type FROM dadm.da_attachment f"
                 " WHERE f.id = %s", (a["id"],))[0]
        self.assertEqual((bytes(row[0]), bytes(row[1]).hex(), row[2], row[3]),
                         (data, a["sha256"], len(data), "image/png"))
        ev = su("SELECT e.detail, e.author_id FROM dadm.da_event e JOIN dadm.da x"
                " ON x.id = e.da_id WHERE x.number = %s AND e.kind = 'attachment'", (number,))
        self.assertEqual(len(ev), 1)
        self.assertEqual((ev[0][0]["attachment_id"], ev[0][0]["name"], ev[0][0]["size"]),
                         (a["id"], a["name"], len(data)))
        self.assertEqual(ev[0][1], account_id("alice.martin"))
        aud = su("SELECT detail FROM dadm.audit WHERE action = 'da.attachment.add'"
                 " AND target = %s", (f"da:{number}",))
        self.assertEqual(len(aud), 1)
        self.assertEqual(aud[0][0]["sha256"], a["sha256"])

    def test_text_utf8_download(self):
        number = new_da(STRASBOURG, "apogee", "alice.martin")
        data = "date;niveau;message\n2026-11-23;ERREUR;échec\n".encode()
        r = upload(number, data, "journal.csv", "application/x-msdownload", login="alice.martin")
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual((r.json()["content_type"], r.json()["name"]), ("text/csv", "journal.csv"))
        g = get(r.header("Location"), login="alice.martin")
        self.assertEqual(g.header("Content-Type"), "text/csv; charset=utf-8")
        self.assertEqual(g.body, data)

    def test_over_the_cap(self):
        number = new_da(STRASBOURG, "apogee", "alice.martin")
        # one byte over the cap: refused by the handler, after the body came in
        p = self.problem(upload(number, PNG + bytes(MAX + 1 - len(PNG)), login="alice.martin"),
                         413, "20971520 octets")
        self.assertEqual(p["type"], "/problems/payload-too-large")
        # far over: refused from Content-Length, before any byte of the body is sent
        data = headers_only(f"/api/v1/das/{number}/attachments", MAX + 200000)
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])
        self.assertIn("taille maximale autorisée pour une pièce jointe".encode(), data)
        # exactly the cap is accepted, and comes back whole
        data = PNG + os.urandom(MAX - len(PNG))
        r = upload(number, data, login="alice.martin")
        self.assertEqual(r.status, 201, r.body[:300])
        self.assertEqual(r.json()["size"], MAX)
        g = get(r.header("Location"), login="hugo.bernard")
        self.assertEqual((g.status, len(g.body)), (200, MAX))
        self.assertEqual(hashlib.sha256(g.body).hexdigest(), r.json()["sha256"])
        self.assertEqual(g.body, data)
        self.assertEqual(self.count(number), 1)
        # other routes keep [http] max_body_bytes
        data = headers_only(f"/api/v1/das/{number}/consents", (1 << 20) + 1,
                            "application/json", "hugo.bernard")
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])
        self.assertIn("Le contenu de la requête dépasse la taille autorisée.".encode(), data)

    def test_empty_file(self):
        number = new_da(STRASBOURG, "apogee", "alice.martin")
        p = self.problem(upload(number, b"", "vide.png", login="alice.martin"), 422, "vide")
        self.assertEqual(p["type"], "/problems/invalid-value")
        self.assertEqual(self.count(number), 0)

    def test_forged_content_type(self):
        number = new_da(STRASBOURG, "apogee", "alice.martin")
        # an executable declared as an image, named like one: refused from its bytes
        p = self.problem(upload(number, b"MZ\x90\x00" + os.urandom(2000), "photo.png",
                                "image/png", login="alice.martin"), 415, "PNG", "PDF")
        self.assertEqual(p["type"], "/problems/unsupported-media-type")
        # HTML declared as plain text, and SVG as PNG
        self.problem(upload(number, b"<html><script>alert(1)</script></html>", "notes.txt",
                            "text/plain", login="alice.martin"), 415)
        self.problem(upload(number, b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>',
                            "img.png", "image/png", login="alice.martin"), 415)
        self.problem(upload(number, b"\x7fELF\x02\x01\x01" + bytes(100), "lib.txt", "text/plain",
                            login="alice.martin"), 415)
        self.problem(upload(number, bytes([0, 1, 2, 3, 250, 251]) * 50, "data.bin",
                            "application/pdf", login="alice.martin"), 415)
        # a PDF declared as HTML is stored as a PDF; the declared type is ignored
        r = upload(number, b"%PDF-1.7\n1 0 obj\n", "rapport.html", "text/html",
                   login="alice.martin")
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual((r.json()["content_type"], r.json()["name"]),
                         ("application/pdf", "rapport.html.pdf"))
        g = get(r.header("Location"), login="alice.martin")
        self.assertEqual(g.header("Content-Type"), "application/pdf")
        self.assertEqual(self.count(number), 1)

    def test_path_in_file_name(self):
        number = new_da(STRASBOURG, "apogee", "alice.martin")
        for sent, stored in (("../../etc/passwd", "passwd.txt"),
                             ("C:\\Users\\x\\..\\y.log", "y.log"),
                             ("/tmp/\x01evil\x7f.txt", "evil.txt"),
                             ("..", "piece-jointe.txt"),
                             ("é" * 150 + ".txt", "é" * 98 + ".txt")):
            r = upload(number, b"ligne de journal\n", sent, login="alice.martin")
            self.assertEqual(r.status, 201, (sent, r.body))
            self.assertEqual(r.json()["name"], stored)
            self.assertLessEqual(len(r.json()["name"].encode()), 200)
            g = get(r.header("Location"), login="alice.martin")
            self.assertNotIn("/", g.header("Content-Disposition"))
        names = [n for (n,) in su("SELECT f.name FROM dadm.da_attachment f JOIN dadm.da x"
                                  " ON x.id = f.da_id WHERE x.number = %s", (number,))]
        self.assertTrue(all("/" not in n and "\\" not in n for n in names))

    def test_bad_multipart(self):
        number = W["da"]
        before = self.count(number)
        # not multipart at all
        r = d.request("POST", f"/api/v1/das/{number}/attachments", body=PNG,
                      headers={"Content-Type": "image/png"}, token=tok("alice.martin"))
        self.problem(r, 415, "multipart/form-data")
        # no closing delimiter
        body, ct = multipart([("file", "a.png", None, PNG)])
        self.problem(upload(number, None, raw=(body[:-40], ct), login="alice.martin"), 400,
                     "mal formé")
        # no boundary parameter
        self.problem(upload(number, None, raw=(body, "multipart/form-data"),
                            login="alice.martin"), 400)
        # an oversized part header
        huge = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + \
            b"a" * 9000 + b".png\"\r\n\r\n" + PNG + b"\r\n--B--\r\n"
        self.problem(upload(number, None, raw=(huge, "multipart/form-data; boundary=B"),
                            login="alice.martin"), 400)
        # no part named "file", or one without a file name
        body, ct = multipart([("document", "a.png", None, PNG)])
        self.problem(upload(number, None, raw=(body, ct), login="alice.martin"), 422, "« file »")
        body, ct = multipart([("file", None, None, PNG)])
        self.problem(upload(number, None, raw=(body, ct), login="alice.martin"), 422)
        self.assertEqual(self.count(number), before)

    def test_closed_da_refused(self):
        self.problem(upload(W["closed"], PNG, login="alice.martin"), 409, "close")
        self.assertEqual(self.count(W["closed"]), 0)
        # it is still listed to those who see it
        self.assertEqual(get(f"/api/v1/das/{W['closed']}/attachments",
                             login="alice.martin").status, 200)

    def test_unknown_da_and_attachment(self):
        for n in ("999999999", "0", "abc", "-1"):
            self.problem(upload(n, PNG, login="alice.martin"), 404,
                         "Demande d'assistance introuvable.")
        r = upload(W["da"], PNG, login="alice.martin")
        self.assertEqual(r.status, 201)
        # an attachment id of another DA is not found through this one
        other = new_da(STRASBOURG, "apogee", "alice.martin")
        self.problem(get(f"/api/v1/das/{other}/attachments/{r.json()['id']}",
                         login="alice.martin"), 404, "Pièce jointe introuvable.")
        self.problem(get(f"/api/v1/das/{W['da']}/attachments/0", login="alice.martin"), 404)


class RolesTest(unittest.TestCase):
    """Who may upload, list and download on A's apogee DA (handed to
    Prestatech)."""

    @classmethod
    def setUpClass(cls):
        cls.number = new_da(STRASBOURG, "apogee", "alice.martin", contractor=W["prestatech"])
        r = upload(cls.number, PNG, "seed.png", login="alice.martin")
        assert r.status == 201, r.body
        cls.att = r.json()["id"]

    def check(self, token, allowed, status_if_not=404):
        n = self.number
        r = upload(n, PNG, "role.png", token=token)
        lst = get(f"/api/v1/das/{n}/attachments", token=token)
        dl = get(f"/api/v1/das/{n}/attachments/{self.att}", token=token)
        if allowed:
            self.assertEqual((r.status, lst.status, dl.status), (201, 200, 200), r.body)
            self.assertEqual(dl.body, PNG)
            self.assertIn(self.att, [a["id"] for a in lst.json()["items"]])
        else:
            self.assertEqual((r.status, lst.status, dl.status), (status_if_not,) * 3, r.body)
            if status_if_not == 404:
                self.assertEqual(r.json()["detail"], "Demande d'assistance introuvable.")
            self.assertNotIn(PNG, dl.body)

    def test_correspondents_of_the_product(self):
        self.check(tok("alice.martin"), True)
        self.check(tok("bruno.keller"), True)

    def test_correspondent_of_another_product(self):
        self.check(tok(W["sifac_a"]), False)

    def test_establishment_admin(self):
        self.check(tok("chloe.weber"), False)

    def test_other_establishment(self):
        self.check(tok("denis.roux"), False)
        self.check(tok("fanny.leroy"), False)

    def test_consultants(self):
        self.check(tok("hugo.bernard"), True)
        self.check(tok("ines.petit"), False)
        self.check(tok("julie.moreau"), False)

    def test_contractors(self):
        self.check(tok("louis.garnier"), True)
        self.check(tok(W["other"]), False)
        # Prestatech does not see a DA that is not handed to it
        n = new_da(STRASBOURG, "apogee", "alice.martin")
        self.assertEqual(upload(n, PNG, login="louis.garnier").status, 404)
        self.assertEqual(get(f"/api/v1/das/{n}/attachments", login="louis.garnier").status, 404)

    def test_anonymous_and_reader(self):
        self.check(None, False, 401)
        self.check(reader_token(), False, 403)

    def test_database_role_alone(self):
        """Row-level security without the C checks: B's correspondent sees
        no attachment and cannot insert one on A's DA."""
        import psycopg2
        c = connect("dadm_app")
        try:
            with c.cursor() as cur:
                cur.execute("SELECT dadm.begin_request(decode(%s, 'hex'))",
                            (hashlib.sha256(tok("denis.roux").encode()).hexdigest(),))
                cur.execute("SELECT count(*) FROM dadm.da_attachment WHERE id = %s", (self.att,))
                self.assertEqual(cur.fetchone()[0], 0)
                da = one("SELECT id FROM dadm.da WHERE number = %s", (self.number,))
                with self.assertRaises(psycopg2.Error):
                    cur.execute("INSERT INTO dadm.da_attachment (etab_id, da_id, name,"
                                " content_type, size, sha256, content, uploader_id)"
                                " VALUES (%s, %s, 'x.png', 'image/png', 1, sha256('\\x00'),"
                                " '\\x00', %s)", (W["etabs"][STRASBOURG], da,
                                                  account_id("denis.roux")))
        finally:
            c.close()


class ClamdTest(unittest.TestCase):
    def audit(self, number):
        return su("SELECT action, detail FROM dadm.audit WHERE target = %s ORDER BY id",
                  (f"da:{number}",))

    def run_with(self, address, fn):
        dm = Daemon(DADM_CLAMD_ADDRESS=address).start()
        try:
            fn(dm)
        finally:
            self.assertEqual(dm.stop(), 0, dm.read_log()[-3000:])

    def test_infected_refused_clean_stored_tcp(self):
        number = new_da(STRASBOURG, "apogee", "alice.martin")

        def go(dm):
            r = upload(number, EICAR, "eicar.txt", "text/plain", login="alice.martin", dm=dm)
            self.assertEqual(r.status, 422, r.body)
            self.assertIn("antivirus", r.json()["detail"])
            r = upload(number, PNG, "propre.png", login="alice.martin", dm=dm)
            self.assertEqual(r.status, 201, r.body)
        self.run_with(f"127.0.0.1:{clamd.port}", go)
        names = [n for (n,) in su("SELECT f.name FROM dadm.da_attachment f JOIN dadm.da x"
                                  " ON x.id = f.da_id WHERE x.number = %s", (number,))]
        self.assertEqual(names, ["propre.png"])
        aud = self.audit(number)
        self.assertEqual([a for a, _ in aud], ["da.attachment.infected", "da.attachment.add"])
        self.assertEqual(aud[0][1]["signature"], "Dadm.Test.Eicar.UNOFFICIAL")
        self.assertEqual(aud[0][1]["sha256"], hashlib.sha256(EICAR).hexdigest())
        # no event for the refused file
        self.assertEqual(one("SELECT count(*) FROM dadm.da_event e JOIN dadm.da x"
                             " ON x.id = e.da_id WHERE x.number = %s", (number,)), 1)

    def test_unix_socket(self):
        number = new_da(STRASBOURG, "apogee", "alice.martin")

        def go(dm):
            self.assertEqual(upload(number, EICAR, "e.txt", login="alice.martin", dm=dm).status,
                             422)
            self.assertEqual(upload(number, b"texte sain\n", "ok.txt", login="alice.martin",
                                    dm=dm).status, 201)
        self.run_with("unix:" + clamd.sock, go)

    def test_unreachable_scanner(self):
        number = new_da(STRASBOURG, "apogee", "alice.martin")

        def go(dm):
            r = upload(number, PNG, "a.png", login="alice.martin", dm=dm)
            self.assertEqual(r.status, 503, r.body)
            self.assertEqual(r.header("Retry-After"), "30")
            self.assertIn("antivirus", r.json()["detail"])
        self.run_with(f"127.0.0.1:{free_port()}", go)
        self.assertEqual(one("SELECT count(*) FROM dadm.da_attachment f JOIN dadm.da x"
                             " ON x.id = f.da_id WHERE x.number = %s", (number,)), 0)

    def test_no_scanner_configured_stores(self):
        # the module's daemon has no [clamd] address: EICAR is only text to it
        number = new_da(STRASBOURG, "apogee", "alice.martin")
        self.assertEqual(upload(number, EICAR, "e.txt", login="alice.martin").status, 201)


class ConsentTest(unittest.TestCase):
    def setUp(self):
        self.number = new_da(POITIERS, "sifac", "emma.girard")
        self.base = f"/api/v1/das/{self.number}/consents"

    def ask(self, login="ines.petit", reason="Analyse d'un blocage de la paie en production."):
        return post(self.base, {"reason": reason}, login)

    def window(self, start_h=1, hours=8):
        now = datetime.now(timezone.utc)
        return {"valid_from": (now + timedelta(hours=start_h)).isoformat(),
                "valid_until": (now + timedelta(hours=start_h + hours)).isoformat()}

    def mails(self, to):
        return su("SELECT subject, body FROM dadm.outbox WHERE to_addr = %s AND subject LIKE %s"
                  " ORDER BY id", (to, f"DA n° {self.number} %"))

    def test_ask_grant(self):
        r = self.ask()
        self.assertEqual(r.status, 201, r.body)
        c = r.json()
        self.assertEqual((c["status"], c["in_force"], c["requested_by"]["name"]),
                         ("pending", False, "Inès Petit"))
        self.assertEqual(len(self.mails("emma.girard@univ-poitiers.fr")), 1)
        # a second request while one is pending
        self.assertEqual(self.ask().status, 409)
        w = self.window(start_h=-1)
        g = post(f"{self.base}/{c['id']}/grant", w, "emma.girard")
        self.assertEqual(g.status, 200, g.body)
        self.assertEqual((g.json()["status"], g.json()["in_force"]), ("granted", True))
        self.assertEqual(g.json()["decided_by"]["name"], "Emma Girard")
        lst = get(self.base, login="ines.petit").json()
        self.assertEqual((lst["in_force"], lst["teleservice"], len(lst["items"])),
                         (True, True, 1))
        # the filer sees the consultant's name although she cannot read agency accounts
        self.assertEqual(get(self.base, login="emma.girard").json()["items"][0]["requested_by"]
                         ["name"], "Inès Petit")
        mails = self.mails("ines.petit@amue.fr")
        self.assertEqual(len(mails), 1)
        self.assertIn("accordé", mails[0][0])
        # decided once only
        self.assertEqual(post(f"{self.base}/{c['id']}/refuse", {"motive": "x"},
                              "emma.girard").status, 409)
        ev = su("SELECT e.detail->>'action' FROM dadm.da_event e JOIN dadm.da x ON x.id = e.da_id"
                " WHERE x.number = %s AND e.kind = 'consent' ORDER BY e.id", (self.number,))
        self.assertEqual([a for (a,) in ev], ["request", "grant"])
        aud = su("SELECT action FROM dadm.audit WHERE target = %s ORDER BY id",
                 (f"da:{self.number}",))
        self.assertEqual([a for (a,) in aud], ["da.consent.request", "da.consent.grant"])

    def test_refuse(self):
        c = self.ask().json()
        self.assertEqual(post(f"{self.base}/{c['id']}/refuse", {}, "emma.girard").status, 422)
        self.assertEqual(post(f"{self.base}/{c['id']}/refuse", {"motive": "   "},
                              "emma.girard").status, 422)
        r = post(f"{self.base}/{c['id']}/refuse", {"motive": "Pas pendant la clôture."},
                 "emma.girard")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json()["status"], r.json()["motive"], r.json()["in_force"]),
                         ("refused", "Pas pendant la clôture.", False))
        self.assertIn("refusé", self.mails("ines.petit@amue.fr")[0][0])
        # a new request may follow a refusal
        self.assertEqual(self.ask().status, 201)

    def test_ask_roles(self):
        for login, status in (("emma.girard", 403), (W["poit"], 403), ("louis.garnier", 404),
                              ("hugo.bernard", 404), ("denis.roux", 404), ("julie.moreau", 404),
                              ("bruno.keller", 404)):
            self.assertEqual(self.ask(login).status, status, login)
        self.assertEqual(one("SELECT count(*) FROM dadm.consent c JOIN dadm.da x"
                             " ON x.id = c.da_id WHERE x.number = %s", (self.number,)), 0)
        r = d.request("POST", self.base, {"reason": "x"})
        self.assertEqual(r.status, 401)
        self.assertEqual(self.ask(reason="").status, 422)
        self.assertEqual(post(self.base, {}, "ines.petit").status, 422)
        self.assertEqual(post(self.base, {"reason": "x" * 4001}, "ines.petit").status, 422)

    def test_decide_roles(self):
        c = self.ask().json()
        w = self.window()
        # the other sifac correspondent of Poitiers did not file it
        for login, status in ((W["poit"], 403), ("ines.petit", 403), ("denis.roux", 404),
                              ("fanny.leroy", 404), ("bruno.keller", 404)):
            self.assertEqual(post(f"{self.base}/{c['id']}/grant", w, login).status, status, login)
            self.assertEqual(post(f"{self.base}/{c['id']}/refuse", {"motive": "non"},
                                  login).status, status, login)
        self.assertEqual(one("SELECT status::text FROM dadm.consent WHERE id = %s", (c["id"],)),
                         "pending")
        self.assertEqual(post(f"{self.base}/999999999/grant", w, "emma.girard").status, 404)
        # the list: whoever sees the DA
        for login, status in (("emma.girard", 200), (W["poit"], 200), ("ines.petit", 200),
                              ("denis.roux", 404), ("hugo.bernard", 404)):
            self.assertEqual(get(self.base, login=login).status, status, login)

    def test_database_role_alone(self):
        """Row-level security without the C checks: the other sifac
        correspondent of Poitiers sees the request but cannot decide it."""
        c = self.ask().json()
        conn = connect("dadm_app")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT dadm.begin_request(decode(%s, 'hex'))",
                            (hashlib.sha256(tok(W["poit"]).encode()).hexdigest(),))
                cur.execute("SELECT count(*) FROM dadm.consent WHERE id = %s", (c["id"],))
                self.assertEqual(cur.fetchone()[0], 1)
                cur.execute("UPDATE dadm.consent SET status = 'refused', decided_by = %s,"
                            " decided_at = now(), motive = 'non' WHERE id = %s",
                            (account_id(W["poit"]), c["id"]))
                self.assertEqual(cur.rowcount, 0)
            conn.rollback()
        finally:
            conn.close()
        self.assertEqual(one("SELECT status::text FROM dadm.consent WHERE id = %s", (c["id"],)),
                         "pending")

    def test_window_validation(self):
        c = self.ask().json()
        url = f"{self.base}/{c['id']}/grant"
        now = datetime.now(timezone.utc)
        bad = [
            {},
            {"valid_from": "demain", "valid_until": "après-demain"},
            {"valid_from": now.isoformat(), "valid_until": now.isoformat()},  # not after
            {"valid_from": (now + timedelta(hours=5)).isoformat(),
             "valid_until": (now + timedelta(hours=1)).isoformat()},  # reversed
            {"valid_from": now.isoformat(),
             "valid_until": (now + timedelta(days=30, minutes=1)).isoformat()},  # too long
            {"valid_from": (now - timedelta(days=3)).isoformat(),
             "valid_until": (now - timedelta(days=2)).isoformat()},  # over already
            {"valid_from": 1, "valid_until": 2},
        ]
        for b in bad:
            r = post(url, b, "emma.girard")
            self.assertEqual(r.status, 422, (b, r.body))
        self.assertEqual(one("SELECT status::text FROM dadm.consent WHERE id = %s", (c["id"],)),
                         "pending")
        ok = {"valid_from": now.isoformat(), "valid_until": (now + timedelta(days=30)).isoformat()}
        self.assertEqual(post(url, ok, "emma.girard").status, 200)
        # a window that starts later is granted but not yet in force
        self.number = new_da(POITIERS, "sifac", "emma.girard")
        self.base = f"/api/v1/das/{self.number}/consents"
        c = self.ask().json()
        r = post(f"{self.base}/{c['id']}/grant", self.window(start_h=2), "emma.girard")
        self.assertEqual((r.status, r.json()["in_force"]), (200, False))
        self.assertFalse(get(self.base, login="emma.girard").json()["in_force"])

    def test_not_teleservice(self):
        # Strasbourg's apogee installation is "classique"
        r = post(f"/api/v1/das/{W['da']}/consents", {"reason": "accès"}, "hugo.bernard")
        self.assertEqual(r.status, 409, r.body)
        self.assertIn("télé-service", r.json()["detail"])
        lst = get(f"/api/v1/das/{W['da']}/consents", login="alice.martin").json()
        self.assertEqual((lst["items"], lst["in_force"], lst["teleservice"]), ([], False, False))

    def test_closed_da(self):
        n = new_da(POITIERS, "sifac", "emma.girard", status="TER", closed=True)
        self.assertEqual(post(f"/api/v1/das/{n}/consents", {"reason": "x"}, "ines.petit").status,
                         409)


if __name__ == "__main__":
    unittest.main()
