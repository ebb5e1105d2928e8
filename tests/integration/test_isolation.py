"""Tenant isolation, walked over the catalogue: every table of the dadm
schema that has an etab_id column, found at run time, so a table added later
is covered without touching this file.

The test runs in one transaction as the cluster's superuser: it makes sure
both establishments own rows in every such table (creating fixtures where a
table has none), then becomes the daemon's role with SET LOCAL ROLE and acts
with the principal of a correspondent of A. Everything is rolled back at the
end, so the other test modules never see the fixtures."""

import hashlib
import os
import unittest

import psycopg2
import psycopg2.errors

from harness import connect, POITIERS, STRASBOURG, superuser

# Reference data that anyone may read; every other table holds tenant data.
PUBLIC_TABLES = {"product", "domain", "version", "contractor", "closure"}

# How to give an establishment a row in a table when it has none. Keys of the
# parameters: e (establishment id), acc (one of its accounts), sess (a session
# of that account). A table with an etab_id column that no establishment owns
# a row of, and that has no fixture here, fails the test: add one.
FIXTURES = {
    "audit": "SELECT dadm.audit_append('test.isolation', 'fixture', %(e)s, '{}')",
    "outbox": "SELECT dadm.outbox_push(%(e)s, 'fixture@example.org', 'Fixture', 'Fixture')",
    "change_request": (
        "INSERT INTO dadm.change_request (etab_id, chapter, target_key, proposed, replaced,"
        " submitter_id, first_submitter_id, status, decided_at)"
        " VALUES (%(e)s, 'etab', 'isolation-fixture', '{}', '{}', %(acc)s, %(acc)s,"
        " 'withdrawn', now())"),
    "change_request_file": (
        "INSERT INTO dadm.change_request_file (etab_id, change_request_id, name, size, sha256,"
        " content) SELECT %(e)s, id, 'fixture.ver', 1, sha256('\\x00'::bytea), '\\x00'::bytea"
        " FROM dadm.change_request WHERE etab_id = %(e)s ORDER BY id LIMIT 1"),
    "directory_run": (
        "INSERT INTO dadm.directory_run (etab_id, mode, status, started_at, ended_at, seen,"
        " created, updated, disabled, reenabled, skipped, skipped_entries)"
        " VALUES (%(e)s, 'full', 'failed', now(), now(), 0, 0, 0, 0, 0, 0, '[]')"),
    "etab_directory": (
        "INSERT INTO dadm.etab_directory (etab_id, uri, base_dn, enabled)"
        " VALUES (%(e)s, 'ldaps://directory.invalid', 'dc=fixture', false)"),
    "etab_directory_state": "INSERT INTO dadm.etab_directory_state (etab_id) VALUES (%(e)s)",
    "saml_idp": (
        "INSERT INTO dadm.saml_idp (etab_id, entity_id, metadata, source)"
        " VALUES (%(e)s, 'https://idp.fixture.invalid/' || %(e)s, '<fixture/>', 'file')"),
    "saml_request": (
        "INSERT INTO dadm.saml_request (request_id, etab_id, idp_entity_id, return_path,"
        " expires_at) VALUES ('fixture-' || %(e)s, %(e)s, 'https://idp.fixture.invalid/', '/',"
        " now() + interval '1 minute')"),
    "saml_logout": (
        "INSERT INTO dadm.saml_logout (request_id, etab_id, idp_entity_id, expires_at)"
        " VALUES ('fixture-' || %(e)s, %(e)s, 'https://idp.fixture.invalid/',"
        " now() + interval '1 minute')"),
    "saml_assertion_seen": (
        "INSERT INTO dadm.saml_assertion_seen (idp_entity_id, assertion_id, etab_id, expires_at)"
        " VALUES ('https://idp.fixture.invalid/', 'fixture-' || %(e)s, %(e)s,"
        " now() + interval '1 minute')"),
    "da": (
        "INSERT INTO dadm.da (etab_id, product_id, installation_id, version_label, priority,"
        " domain_id, nature, title, description, filer_id)"
        " SELECT %(e)s, i.product_id, i.id, 'fixture', 'non_bloquant', d.id, d.nature,"
        " 'Fixture', 'Fixture', %(acc)s FROM dadm.installation i"
        " JOIN dadm.domain d ON d.product_id = i.product_id"
        " WHERE i.etab_id = %(e)s ORDER BY i.id, d.id LIMIT 1"),
    "da_event": (
        "INSERT INTO dadm.da_event (etab_id, da_id, author_id, kind, body)"
        " SELECT %(e)s, id, %(acc)s, 'complement', 'Fixture' FROM dadm.da"
        " WHERE etab_id = %(e)s ORDER BY id LIMIT 1"),
    "da_attachment": (
        "INSERT INTO dadm.da_attachment (etab_id, da_id, name, content_type, size, sha256,"
        " content, uploader_id) SELECT %(e)s, id, 'fixture.txt', 'text/plain', 1,"
        " sha256('\\x00'::bytea), '\\x00'::bytea, %(acc)s FROM dadm.da WHERE etab_id = %(e)s"
        " ORDER BY id LIMIT 1"),
    "consent": (
        "INSERT INTO dadm.consent (etab_id, da_id, requested_by, reason)"
        " SELECT %(e)s, id, %(acc)s, 'Fixture' FROM dadm.da WHERE etab_id = %(e)s"
        " ORDER BY id LIMIT 1"),
    "saml_session": (
        "INSERT INTO dadm.saml_session (session_id, etab_id, account_id, idp_entity_id, name_id,"
        " lasso_dump) VALUES (%(sess)s, %(e)s, %(acc)s, 'https://idp.fixture.invalid/',"
        " 'fixture', '<fixture/>')"),
}


class CatalogueIsolationTest(unittest.TestCase):
    def setUp(self):
        self.c = connect(superuser())
        self.cur = self.c.cursor()
        self.cur.execute("SELECT uai, id FROM dadm.etab WHERE uai IN (%s, %s)",
                         (STRASBOURG, POITIERS))
        ids = dict(self.cur.fetchall())
        self.a, self.b = ids[STRASBOURG], ids[POITIERS]
        self.cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'dadm' AND c.relkind IN ('r', 'p') ORDER BY 1")
        self.tables = [r[0] for r in self.cur.fetchall()]
        self.cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'dadm' AND c.relkind IN ('r', 'p') AND EXISTS"
            " (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'etab_id'"
            "  AND NOT a.attisdropped) ORDER BY 1")
        self.tenant_tables = [r[0] for r in self.cur.fetchall()]
        self.token = {}
        for etab in (self.a, self.b):
            self.give_rows(etab)

    def tearDown(self):
        self.c.rollback()
        self.c.close()

    def one(self, sql, args=()):
        self.cur.execute(sql, args)
        return self.cur.fetchone()[0]

    def give_rows(self, etab):
        """Makes sure `etab` owns at least one row of every tenant table."""
        acc = self.one("SELECT g.account_id FROM dadm.\"grant\" g WHERE g.etab_id = %s"
                       " AND g.role = 'correspondent' ORDER BY g.id LIMIT 1", (etab,))
        token = os.urandom(32).hex()
        sess = self.one("SELECT dadm.session_open(sha256(convert_to(%s, 'UTF8')), %s, NULL,"
                        " 'operator', 600, 600)", (token, acc))
        self.token[etab] = token
        params = {"e": etab, "acc": acc, "sess": sess}
        # Fixtures in dependency order: a table's fixture may read another's.
        order = sorted(self.tenant_tables,
                       key=lambda t: list(FIXTURES).index(t) if t in FIXTURES else -1)
        for t in order:
            if self.one(f'SELECT count(*) FROM dadm."{t}" WHERE etab_id = %s', (etab,)):
                continue
            self.assertIn(t, FIXTURES, f"table {t} has an etab_id column, no row of "
                          f"establishment {etab} and no fixture in test_isolation.FIXTURES")
            self.cur.execute(FIXTURES[t], params)
            self.assertGreater(
                self.one(f'SELECT count(*) FROM dadm."{t}" WHERE etab_id = %s', (etab,)), 0, t)

    def as_app(self, etab=None):
        """Becomes the daemon's role, with the principal of a correspondent of
        `etab` (None: no principal at all)."""
        self.cur.execute("SET LOCAL ROLE dadm_app")
        if etab is not None:
            h = hashlib.sha256(self.token[etab].encode()).hexdigest()
            self.cur.execute("SELECT account_id FROM dadm.begin_request(decode(%s, 'hex'))",
                             (h,))
            self.assertIsNotNone(self.cur.fetchone())

    def attempt(self, sql, args=()):
        """Runs one statement in a savepoint; returns (rowcount, sqlstate)."""
        self.cur.execute("SAVEPOINT s")
        try:
            self.cur.execute(sql, args)
            result = (self.cur.rowcount, None)
        except psycopg2.Error as e:
            result = (0, e.pgcode)
        self.cur.execute("ROLLBACK TO SAVEPOINT s")
        return result

    def test_tables_found(self):
        # The walk must find the tables this release knows, or it walks nothing.
        for t in ("installation", "account", "grant", "audit", "outbox"):
            self.assertIn(t, self.tenant_tables)

    def test_no_principal_sees_nothing(self):
        self.as_app()
        for t in self.tables:
            if t in PUBLIC_TABLES:
                continue
            with self.subTest(table=t):
                n, state = self.attempt(f'SELECT * FROM dadm."{t}"')
                self.assertTrue(n == 0 or state == "42501", (n, state))

    def test_correspondent_of_a_cannot_reach_b(self):
        # One row of B per table, captured before becoming the daemon's role.
        samples = {}
        for t in self.tenant_tables:
            self.cur.execute(f'SELECT row_to_json(x)::text FROM dadm."{t}" x WHERE etab_id = %s'
                             " LIMIT 1", (self.b,))
            samples[t] = self.cur.fetchone()[0]
            self.cur.execute(
                "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)"
                " FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                " AND NOT attisdropped AND attidentity = '' AND attgenerated = ''",
                (f'dadm."{t}"',))
            samples[t] = (samples[t], self.cur.fetchone()[0])
        self.as_app(self.a)
        for t in self.tenant_tables:
            row, cols = samples[t]
            with self.subTest(table=t, op="select"):
                n, state = self.attempt(f'SELECT * FROM dadm."{t}" WHERE etab_id = %s',
                                        (self.b,))
                self.assertTrue(n == 0 or state == "42501", (n, state))
            with self.subTest(table=t, op="insert"):
                n, state = self.attempt(
                    f'INSERT INTO dadm."{t}" ({cols}) SELECT {cols}'
                    f' FROM json_populate_record(NULL::dadm."{t}", %s::json)', (row,))
                self.assertEqual(state, "42501", (n, state))
            with self.subTest(table=t, op="update"):
                n, state = self.attempt(f'UPDATE dadm."{t}" SET etab_id = etab_id'
                                        " WHERE etab_id = %s", (self.b,))
                self.assertTrue(n == 0 or state == "42501", (n, state))
            with self.subTest(table=t, op="move into B"):
                n, state = self.attempt(f'UPDATE dadm."{t}" SET etab_id = %s WHERE etab_id = %s',
                                        (self.b, self.a))
                self.assertTrue(n == 0 or state is not None, (n, state))
            with self.subTest(table=t, op="delete"):
                n, state = self.attempt(f'DELETE FROM dadm."{t}" WHERE etab_id = %s', (self.b,))
                self.assertTrue(n == 0 or state == "42501", (n, state))
        # The principal does work: A's correspondent sees its own establishment.
        self.assertEqual(self.one("SELECT count(*) FROM dadm.etab WHERE id = %s", (self.a,)), 1)
        self.assertEqual(self.one("SELECT count(*) FROM dadm.etab WHERE id = %s", (self.b,)), 0)


if __name__ == "__main__":
    unittest.main()
