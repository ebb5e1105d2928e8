"""Who sees a DA, its events and its attachments: the visibility matrix of
the design, checked twice: through the API (the C checks and row-level
security together) and through the database role alone (SET LOCAL ROLE
dadm_app and dadm.begin_request, as the daemon does, without the C).

The DA belongs to establishment A (Strasbourg) on product P (Apogée), is
externalised to Prestatech and carries an internal note of the agency and
an attachment (inserted as the superuser, so that the API only reads it)."""

import hashlib
import os
import unittest

from harness import Daemon, connect, ctl, owner, session, STRASBOURG, superuser

d = None
W = {}
TOKENS = {}

# login -> (sees the DA, sees internal notes)
MATRIX = {
    "alice.martin": (True, False),     # A, correspondent of P
    "bruno.keller": (True, False),     # A, correspondent of P (and of Sifac)
    "vis.sifaconly": (False, False),   # A, correspondent of another product only
    "chloe.weber": (False, False),     # A, administrator, no correspondent
    "denis.roux": (False, False),      # B, correspondent of P
    "emma.girard": (False, False),     # B, correspondent of another product
    "fanny.leroy": (False, False),     # C, correspondent of another product
    "hugo.bernard": (True, True),      # agency consultant of P
    "marc.dubois": (True, True),       # agency consultant of P (other nature)
    "ines.petit": (False, False),      # agency consultant of another product
    "nadia.lambert": (False, False),   # agency consultant of another product
    "julie.moreau": (False, False),    # validator
    "karim.fontaine": (False, False),  # administrator
    "louis.garnier": (True, False),    # the contractor it is externalised to
    "olivier.masson": (False, False),  # another contractor of P
}


def token(login):
    if login not in TOKENS:
        TOKENS[login] = session(login)
    return TOKENS[login]


def call(method, path, login=None, body=None):
    return d.request(method, "/api/v1" + path, body=body, token=token(login) if login else None)


def setUpModule():
    global d
    d = Daemon().start()
    # A correspondent of A for Sifac only.
    ctl("account", "create", "--login", "vis.sifaconly", "--email", "vis.sifaconly@example.org",
        "--given-name", "Vis", "--family-name", "Sifac", "--etab", STRASBOURG)
    ctl("grant", "add", "--account", "vis.sifaconly", "--role", "correspondent", "--nature",
        "fonctionnel", "--product", "sifac", "--etab", STRASBOURG)
    r = call("POST", "/das", "alice.martin",
             {"product": "apogee", "priority": "non_bloquant", "domain": "inscriptions",
              "version": "6.40.10", "title": "Visibilité", "description": "Matrice."})
    assert r.status == 201, r.body
    W["number"] = r.json()["number"]
    W["id"] = owner("SELECT id FROM dadm.da WHERE number = %s", (W["number"],))[0][0]
    prestatech = owner("SELECT id FROM dadm.contractor WHERE name = 'Prestatech'")[0][0]
    for action, login, body in (
            ("notes", "hugo.bernard", {"body": "Note interne : piste du batch."}),
            ("externalisation", "hugo.bernard", {"contractor": prestatech}),
            ("complements", "alice.martin", {"body": "Complément visible."})):
        r = call("POST", f"/das/{W['number']}/{action}", login, body)
        assert r.status == 200, (action, r.body)
    owner("INSERT INTO dadm.da_attachment (etab_id, da_id, name, content_type, size, sha256,"
          " content, uploader_id) SELECT d.etab_id, d.id, 'capture.png', 'image/png', 3,"
          " sha256('\\x010203'::bytea), '\\x010203'::bytea, d.filer_id FROM dadm.da d"
          " WHERE d.id = %s", (W["id"],))
    W["attachment"] = owner("SELECT id FROM dadm.da_attachment WHERE da_id = %s",
                            (W["id"],))[0][0]


def tearDownModule():
    # The extra correspondent leaves no grant behind for the other modules.
    owner("DELETE FROM dadm.\"grant\" WHERE account_id ="
          " (SELECT id FROM dadm.account WHERE login = 'vis.sifaconly')")
    owner("UPDATE dadm.account SET status = 'disabled' WHERE login = 'vis.sifaconly'")
    assert d.stop() == 0


class ApiVisibilityTest(unittest.TestCase):
    def test_matrix(self):
        n = W["number"]
        for login, (sees, notes) in MATRIX.items():
            with self.subTest(login=login):
                r = call("GET", f"/das/{n}", login)
                self.assertEqual(r.status, 200 if sees else 404, r.body[:200])
                if not sees:
                    self.assertEqual(r.json()["detail"], "Demande d'assistance introuvable.")
                r = call("GET", f"/das/{n}/events", login)
                self.assertEqual(r.status, 200 if sees else 404)
                listed = [x["number"] for x in
                          call("GET", "/das?limit=200", login).json()["items"]]
                self.assertEqual(n in listed, sees)
                att = W["attachment"]
                r2 = call("GET", f"/das/{n}/attachments", login)
                self.assertEqual(r2.status, 200 if sees else 404, r2.body[:200])
                if sees:
                    self.assertEqual([a["id"] for a in r2.json()["items"]], [att])
                r2 = call("GET", f"/das/{n}/attachments/{att}", login)
                self.assertEqual(r2.status, 200 if sees else 404)
                if sees:
                    self.assertEqual(r2.body, b"\x01\x02\x03")
                if sees:
                    kinds = [e["kind"] for e in r.json()["items"]]
                    self.assertIn("complement", kinds)
                    self.assertEqual("internal_note" in kinds, notes)
                    bodies = [e["body"] for e in r.json()["items"]]
                    self.assertEqual("Note interne : piste du batch." in bodies, notes)

    def test_anonymous(self):
        n = W["number"]
        for path in (f"/das/{n}", f"/das/{n}/events", "/das", f"/das/{n}/attachments",
                     f"/das/{n}/attachments/{W['attachment']}"):
            with self.subTest(path=path):
                self.assertEqual(call("GET", path).status, 401)


class DatabaseVisibilityTest(unittest.TestCase):
    """The same matrix with the daemon's role and no C at all."""

    def setUp(self):
        self.c = connect(superuser())
        self.cur = self.c.cursor()

    def tearDown(self):
        self.c.rollback()
        self.c.close()

    def counts(self, login):
        """(DAs, events, internal events, attachments) of the DA seen as login
        (None: no principal)."""
        self.c.rollback()
        self.cur.execute("SET LOCAL ROLE dadm_app")
        if login:
            h = hashlib.sha256(token(login).encode()).hexdigest()
            self.cur.execute("SELECT account_id FROM dadm.begin_request(decode(%s, 'hex'))", (h,))
            self.assertIsNotNone(self.cur.fetchone())
        out = []
        for sql in ("SELECT count(*) FROM dadm.da WHERE id = %s",
                    "SELECT count(*) FROM dadm.da_event WHERE da_id = %s",
                    "SELECT count(*) FROM dadm.da_event WHERE da_id = %s AND internal",
                    "SELECT count(*) FROM dadm.da_attachment WHERE da_id = %s"):
            self.cur.execute(sql, (W["id"],))
            out.append(self.cur.fetchone()[0])
        return tuple(out)

    def test_matrix(self):
        total = owner("SELECT count(*) FROM dadm.da_event WHERE da_id = %s", (W["id"],))[0][0]
        internal = owner("SELECT count(*) FROM dadm.da_event WHERE da_id = %s AND internal",
                         (W["id"],))[0][0]
        self.assertEqual(internal, 1)
        for login, (sees, notes) in MATRIX.items():
            with self.subTest(login=login):
                if not sees:
                    self.assertEqual(self.counts(login), (0, 0, 0, 0))
                elif notes:
                    self.assertEqual(self.counts(login), (1, total, 1, 1))
                else:
                    self.assertEqual(self.counts(login), (1, total - 1, 0, 1))
        self.assertEqual(self.counts(None), (0, 0, 0, 0))

    def test_writes_stay_in_scope(self):
        # B's correspondent can neither move A's DA nor add to its thread.
        self.counts("denis.roux")
        self.cur.execute("UPDATE dadm.da SET status = 'INT' WHERE id = %s", (W["id"],))
        self.assertEqual(self.cur.rowcount, 0)
        # The site cannot write an internal note, even on its own DA.
        self.counts("alice.martin")
        self.cur.execute("SAVEPOINT s")
        with self.assertRaises(Exception) as cm:
            self.cur.execute("INSERT INTO dadm.da_event (etab_id, da_id, author_id, kind, body,"
                             " internal) SELECT etab_id, id, dadm.my_account(), 'internal_note',"
                             " 'x', true FROM dadm.da WHERE id = %s", (W["id"],))
        self.assertEqual(cm.exception.pgcode, "42501")
        self.cur.execute("ROLLBACK TO SAVEPOINT s")
        # The filing function that reads consultants answers only a
        # correspondent of that establishment and product.
        self.counts("denis.roux")
        self.cur.execute("SELECT count(*) FROM dadm.da_pick_consultant("
                         "(SELECT id FROM dadm.etab WHERE uai = %s),"
                         " (SELECT id FROM dadm.product WHERE code = 'apogee'), 'fonctionnel')",
                         (STRASBOURG,))
        self.assertEqual(self.cur.fetchone()[0], 0)
        self.counts("alice.martin")
        self.cur.execute("SELECT count(*) FROM dadm.da_pick_consultant("
                         "(SELECT id FROM dadm.etab WHERE uai = %s),"
                         " (SELECT id FROM dadm.product WHERE code = 'apogee'), 'fonctionnel')",
                         (STRASBOURG,))
        self.assertEqual(self.cur.fetchone()[0], 1)
        # Names and addresses of a DA's people only for who sees the DA.
        self.counts("denis.roux")
        self.cur.execute("SELECT dadm.da_person_name(%s, filer_id) IS NULL,"
                         " (SELECT count(*) FROM dadm.da_mail_to(%s, 'site'))"
                         " FROM (SELECT %s::bigint AS filer_id) x",
                         (W["id"], W["id"], owner("SELECT filer_id FROM dadm.da WHERE id = %s",
                                                  (W["id"],))[0][0]))
        self.assertEqual(self.cur.fetchone(), (True, 0))


if __name__ == "__main__":
    unittest.main()
