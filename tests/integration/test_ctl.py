"""dadmctl: migrations (idempotent, edited files refused), readiness,
administration commands and their errors."""

import os
import shutil
import tempfile
import unittest

from harness import Daemon, ctl, SRC


class MigrateTest(unittest.TestCase):
    def test_second_run_changes_nothing(self):
        code, out, _ = ctl("migrate")
        self.assertEqual(code, 0)
        self.assertNotIn("applying", out)
        self.assertIn("up to date", out)

    def test_edited_migration_refused(self):
        tmp = tempfile.mkdtemp()
        try:
            sql = os.path.join(tmp, "sql")
            shutil.copytree(os.path.join(SRC, "sql"), sql)
            with open(os.path.join(sql, "0001_base.sql"), "a") as f:
                f.write("\n-- edited\n")
            env = {"DADM_DB_MIGRATIONS_DIR": sql}
            code, _, err = ctl("migrate", check=False, env=env)
            self.assertEqual(code, 1)
            self.assertIn("0001_base.sql was edited", err)
            # A daemon built with the edited file is not ready.
            d = Daemon(**env).start()
            try:
                r = d.get("/readyz")
                self.assertEqual(r.status, 503)
                self.assertEqual(r.json()["type"], "/problems/unavailable")
            finally:
                self.assertEqual(d.stop(), 0)
        finally:
            shutil.rmtree(tmp)

    def test_pending_migration_not_ready(self):
        tmp = tempfile.mkdtemp()
        try:
            sql = os.path.join(tmp, "sql")
            shutil.copytree(os.path.join(SRC, "sql"), sql)
            with open(os.path.join(sql, "9999_future.sql"), "w") as f:
                f.write("SELECT 1;\n")
            d = Daemon(DADM_DB_MIGRATIONS_DIR=sql).start()
            try:
                r = d.get("/readyz")
                self.assertEqual(r.status, 503)
                self.assertIn("restent à appliquer", r.json()["detail"])
            finally:
                self.assertEqual(d.stop(), 0)
        finally:
            shutil.rmtree(tmp)


class AdminTest(unittest.TestCase):
    def test_usage_errors(self):
        self.assertEqual(ctl("frobnicate", check=False)[0], 2)
        code, _, err = ctl("etab", "create", "--uai", "0000000A", check=False)
        self.assertEqual(code, 2)
        self.assertIn("--name is required", err)
        code, _, err = ctl("etab", "list", "--bogus", "x", check=False)
        self.assertEqual(code, 2)

    def test_etab_lifecycle(self):
        code, out, _ = ctl("etab", "create", "--uai", "0312345z", "--name", "École test",
                           "--type", "ecole", "--size", "petit")
        self.assertTrue(out.strip().isdigit())
        self.assertIn("0312345Z\tÉcole test", ctl("etab", "list")[1])
        code, _, err = ctl("etab", "create", "--uai", "0312345Z", "--name", "Doublon",
                           "--type", "ecole", "--size", "petit", check=False)
        self.assertEqual(code, 1)
        self.assertIn("duplicate", err)
        code, _, err = ctl("etab", "create", "--uai", "12", "--name", "x", "--type", "ecole",
                           "--size", "petit", check=False)
        self.assertEqual(code, 1)
        code, _, _ = ctl("etab", "create", "--uai", "0312346A", "--name", "x", "--type",
                         "hopital", "--size", "petit", check=False)
        self.assertEqual(code, 1)

    def test_accounts_and_grants(self):
        ctl("account", "create", "--login", "Test.Person", "--email", "t@univ-a.test",
            "--etab", "0673021V", "--given-name", "Test", "--password-stdin",
            input="Un#Mot-de-passe-42\n")
        ctl("grant", "add", "--account", "test.person", "--role", "correspondent",
            "--nature", "technique", "--product", "rof", "--etab", "0673021V")
        self.assertIn("test.person\tcorrespondent\ttechnique\trof\t0673021V",
                      ctl("grant", "list", "--account", "test.person")[1])
        # A correspondent grant in another establishment than the account's is refused.
        code, _, err = ctl("grant", "add", "--account", "test.person", "--role",
                           "correspondent", "--nature", "technique", "--product", "rof",
                           "--etab", "0860856N", check=False)
        self.assertEqual(code, 1)
        # A grant whose scope does not fit the role is refused.
        code, _, _ = ctl("grant", "add", "--account", "test.person", "--role", "consultant",
                         check=False)
        self.assertEqual(code, 1)
        code, _, err = ctl("grant", "add", "--account", "nobody", "--role", "admin",
                           check=False)
        self.assertEqual(code, 1)
        self.assertIn("unknown account", err)
        code, _, err = ctl("session", "create", "--account", "nobody", check=False)
        self.assertEqual(code, 1)

    def test_product_version_installation(self):
        ctl("product", "create", "--code", "testprod", "--name", "Test", "--reader-login",
            "testread")
        ctl("product", "add-domain", "--product", "testprod", "--code", "general",
            "--name", "Général", "--nature", "fonctionnel")
        ctl("product", "add-version", "--product", "testprod", "--label", "1.0",
            "--delivered", "2026-01-05")
        ctl("installation", "create", "--etab", "0440984F", "--product", "testprod",
            "--version", "1.0")
        code, _, err = ctl("installation", "create", "--etab", "0860856N", "--product",
                           "testprod", "--version", "9.9", check=False)
        self.assertEqual(code, 1)
        self.assertIn("unknown version", err)
        self.assertIn("testprod\tTest\ttestread\t1\t1.0", ctl("product", "list")[1])

    def test_seed_is_idempotent(self):
        code, out, _ = ctl("seed-demo")
        self.assertIn("already present", out)
        self.assertIn("alice.martin", out)

    def test_unreachable_database(self):
        code, _, err = ctl("etab", "list", check=False,
                           env={"DADM_DB_ADMIN_CONNINFO": "host=/nonexistent dbname=x"})
        self.assertEqual(code, 1)
        self.assertIn("cannot connect to the database", err)


if __name__ == "__main__":
    unittest.main()
