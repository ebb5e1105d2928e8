"""Row-level security on its own: connected as the daemon's role, without
going through dadmd at all."""

import hashlib
import os
import unittest

import psycopg2

from harness import connect, ids, session, POITIERS, STRASBOURG, superuser

TENANT_TABLES = ["etab", "installation", "account", "grant", "session", "audit", "outbox"]


def begin(cur, token):
    h = hashlib.sha256(token.encode()).hexdigest()
    cur.execute("SELECT account_id FROM dadm.begin_request(decode(%s, 'hex'))", (h,))
    return cur.fetchone()


class RoleTest(unittest.TestCase):
    def test_app_role_is_plain(self):
        with connect("dadm_owner") as c, c.cursor() as cur:
            cur.execute("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb"
                        " FROM pg_roles WHERE rolname = 'dadm_app'")
            self.assertEqual(cur.fetchone(), (False, False, False, False))
            cur.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n"
                        " ON n.oid = c.relnamespace WHERE n.nspname IN ('dadm', 'dadm_meta')"
                        " AND pg_get_userbyid(c.relowner) = 'dadm_app'")
            self.assertEqual(cur.fetchone()[0], 0)
        c.close()

    def test_every_tenant_table_forces_rls(self):
        with connect("dadm_owner") as c, c.cursor() as cur:
            # Every table with an etab_id column, plus etab and the private ones.
            cur.execute("SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity"
                        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = 'dadm' AND c.relkind = 'r'"
                        " AND (c.relname = ANY(%s) OR EXISTS (SELECT 1 FROM pg_attribute a"
                        "  WHERE a.attrelid = c.oid AND a.attname = 'etab_id'))",
                        (TENANT_TABLES,))
            rows = cur.fetchall()
        c.close()
        self.assertGreaterEqual(len(rows), len(TENANT_TABLES))
        for name, rls, force in rows:
            with self.subTest(table=name):
                self.assertTrue(rls and force)


class IsolationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.etabs, cls.products = ids()

    def setUp(self):
        self.c = connect("dadm_app")
        self.cur = self.c.cursor()

    def tearDown(self):
        self.c.rollback()
        self.c.close()

    def count(self, table, where="true", args=()):
        self.cur.execute(f'SELECT count(*) FROM dadm."{table}" WHERE {where}', args)
        return self.cur.fetchone()[0]

    def test_no_principal_sees_nothing(self):
        for t in ("etab", "installation", "account", "grant", "audit"):
            with self.subTest(table=t):
                self.assertEqual(self.count(t), 0)
        # Public reference data stays readable.
        self.assertEqual(self.count("product"), len(self.products))

    def test_forged_setting_sees_nothing(self):
        self.cur.execute("SELECT set_config('dadm.session', %s, true)", ("ab" * 32,))
        self.assertEqual(self.count("etab"), 0)
        self.cur.execute("SELECT set_config('dadm.session', 'not hex', true)")
        self.assertEqual(self.count("account"), 0)

    def test_other_establishment_invisible(self):
        self.assertIsNotNone(begin(self.cur, session("denis.roux")))  # Poitiers
        a, b = self.etabs[STRASBOURG], self.etabs[POITIERS]
        self.assertEqual(self.count("etab"), 1)
        self.assertEqual(self.count("etab", "id = %s", (a,)), 0)
        self.assertEqual(self.count("installation", "etab_id = %s", (a,)), 0)
        self.assertEqual(self.count("installation", "etab_id = %s", (b,)), 1)  # apogee only
        self.assertEqual(self.count("account", "etab_id = %s", (a,)), 0)
        self.assertEqual(self.count("grant", "etab_id = %s", (a,)), 0)
        self.assertEqual(self.count("audit"), 0)
        # Joins do not leak either.
        self.cur.execute("SELECT count(*) FROM dadm.installation i"
                         " JOIN dadm.account x ON x.etab_id = i.etab_id WHERE i.etab_id = %s",
                         (a,))
        self.assertEqual(self.cur.fetchone()[0], 0)

    def test_writes_refused(self):
        begin(self.cur, session("karim.fontaine"))  # even the agency's administrator
        statements = [
            ("INSERT INTO dadm.etab (uai, name, type, size_class)"
             " VALUES ('0000001A', 'x', 'autre', 'petit')", ()),
            ("UPDATE dadm.installation SET server_os = 'x'", ()),
            ("DELETE FROM dadm.account", ()),
            ('INSERT INTO dadm."grant" (account_id, role) VALUES (1, \'admin\')', ()),
            ("SELECT count(*) FROM dadm.session", ()),
            ("SELECT count(*) FROM dadm.outbox", ()),
            ("SELECT reader_hash FROM dadm.product", ()),
        ]
        for sql, args in statements:
            with self.subTest(sql=sql):
                self.cur.execute("SAVEPOINT s")
                with self.assertRaises(psycopg2.errors.InsufficientPrivilege):
                    self.cur.execute(sql, args)
                self.cur.execute("ROLLBACK TO SAVEPOINT s")

    def test_principal_is_transaction_local(self):
        begin(self.cur, session("alice.martin"))
        self.assertEqual(self.count("etab"), 1)
        self.c.commit()
        self.assertEqual(self.count("etab"), 0)

    def test_begin_request_clears_previous(self):
        begin(self.cur, session("hugo.bernard"))
        self.assertEqual(self.count("etab"), len(self.etabs))
        self.assertIsNone(begin(self.cur, "no-such-token"))
        self.assertEqual(self.count("etab"), 0)


class AuditTest(unittest.TestCase):
    def test_append_only_chain(self):
        c = connect("dadm_owner")
        cur = c.cursor()
        for i in range(3):
            cur.execute("SELECT dadm.audit_append('test.event', %s, NULL, '{\"n\": 1}')",
                        (f"t{i}",))
        c.commit()
        cur.execute("SELECT count(*) FROM dadm.audit WHERE seq IS NULL AND target LIKE 't_'")
        self.assertEqual(cur.fetchone()[0], 3)
        # The sealer chains them after everything sealed before, in id order.
        cur.execute("SELECT dadm.audit_seal()")
        self.assertGreaterEqual(cur.fetchone()[0], 3)
        c.commit()
        cur.execute("SELECT count(*) FROM dadm.audit WHERE seq IS NULL")
        self.assertEqual(cur.fetchone()[0], 0)
        cur.execute("SELECT array_agg(seq ORDER BY id) FROM (SELECT id, seq FROM dadm.audit"
                    " ORDER BY id DESC LIMIT 3) x")
        seqs = cur.fetchone()[0]
        self.assertEqual(seqs, sorted(seqs))
        cur.execute("SELECT dadm.audit_seal()")
        self.assertEqual(cur.fetchone()[0], 0)
        cur.execute("SELECT dadm.audit_verify()")
        self.assertIsNone(cur.fetchone()[0])
        c.commit()
        # A sealed row changed behind the trigger's back breaks the chain there.
        su = connect(superuser())
        scur = su.cursor()
        scur.execute("SELECT id FROM dadm.audit WHERE target = 't1' ORDER BY id DESC LIMIT 1")
        forged = scur.fetchone()[0]
        scur.execute("ALTER TABLE dadm.audit DISABLE TRIGGER audit_append_only")
        scur.execute("UPDATE dadm.audit SET target = 'forged' WHERE id = %s", (forged,))
        scur.execute("SELECT dadm.audit_verify()")
        self.assertEqual(scur.fetchone()[0], forged)
        su.rollback()
        su.close()
        for sql in ("UPDATE dadm.audit SET target = 'forged'", "DELETE FROM dadm.audit",
                    "TRUNCATE dadm.audit", "UPDATE dadm.audit SET seq = seq + 1000000"):
            with self.subTest(sql=sql):
                with self.assertRaises(psycopg2.errors.InsufficientPrivilege):
                    cur.execute(sql)
                c.rollback()
        c.close()


if __name__ == "__main__":
    unittest.main()
