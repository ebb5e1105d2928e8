"""Directory provisioning against a real slapd (tests/ldap/slapd.sh): full and
incremental runs, disabling and re-enabling, sessions ended, roles untouched,
dry runs, hostile values, connection and TLS errors, the run records in the
API for the roles that may read them and the ones that may not, and the
scheduled run inside dadmd."""

import hashlib
import os
import shlex
import socket
import subprocess
import tempfile
import time
import unittest

import psycopg2

from harness import Daemon, connect, ctl, ids, session, SRC, STRASBOURG, POITIERS, NANTES, superuser

SLAPD_SH = os.path.join(SRC, "tests", "ldap", "slapd.sh")
LDAP = {}
WORK = None
# libldap must not read ldap.conf, ~/.ldaprc or LDAPTLS_* of the machine.
ENV = {"LDAPNOINIT": "1"}


def two_free_ports():
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def setUpModule():
    global WORK
    WORK = tempfile.mkdtemp(prefix="ldap-", dir=os.environ["DADM_TEST_WORK"])
    port = two_free_ports()
    subprocess.run([SLAPD_SH, "start", WORK, str(port)], check=True, timeout=120,
                   capture_output=True)
    with open(os.path.join(WORK, "env")) as f:
        for line in f:
            if line.startswith("export "):
                k, _, v = line[len("export "):].strip().partition("=")
                LDAP[k] = shlex.split(v)[0] if v else ""
    for tag, name in (("A", "univ-a"), ("B", "univ-b")):
        subprocess.run([SLAPD_SH, "load", WORK, LDAP[f"LDAP_{tag}_BASE"],
                        os.path.join(SRC, "tests", "ldap", "data", f"{name}.ldif")],
                       check=True, timeout=120, capture_output=True)
    for tag in ("A", "B"):
        with open(os.path.join(WORK, f"pw-{tag}"), "w") as f:
            f.write(LDAP[f"LDAP_{tag}_SYNC_PW"] + "\n")


def tearDownModule():
    pidfile = os.path.join(WORK, "run", "slapd.pid")
    if os.path.exists(pidfile):
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, 15)
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def ldap_modify(tag, ldif):
    p = subprocess.run(["ldapmodify", "-x", "-H", LDAP["LDAP_URI"], "-D", LDAP[f"LDAP_{tag}_ROOT_DN"],
                        "-w", LDAP[f"LDAP_{tag}_ROOT_PW"]], input=ldif, text=True,
                       capture_output=True, env={**os.environ, **ENV}, timeout=60)
    if p.returncode != 0:
        raise AssertionError(p.stderr)


def configure(uai, *extra, tag="A", password_file=True):
    args = ["ldap-config", uai, "--uri", LDAP["LDAP_URI"], "--ca-file", LDAP["LDAP_CA_CERT"],
            "--bind-dn", LDAP[f"LDAP_{tag}_SYNC_DN"], "--base", LDAP[f"LDAP_{tag}_PEOPLE"],
            "--eppn-domain", LDAP[f"LDAP_{tag}_DOMAIN"]]
    if password_file:
        args += ["--password-file", os.path.join(WORK, f"pw-{tag}")]
    return ctl(*args, *extra, env=ENV)


def sync(uai, *flags, check=True):
    return ctl("ldap-sync", uai, *flags, check=check, env=ENV)


def counts(out):
    """The counts of the summary line of ldap-sync."""
    line = next(l for l in out.splitlines() if "seen" in l)
    res = {}
    for part in line.split(":", 1)[1].split(","):
        k, v = part.strip().rsplit(" ", 1)
        res[k] = int(v)
    res["mode"] = line.split(":")[0].split()[-1]
    return res


def skipped_of(out):
    """dn -> reason of the skipped entries ldap-sync lists."""
    res = {}
    for line in out.splitlines():
        if line.startswith("skipped\t"):
            _, reason, dn = line.split("\t", 2)
            res[dn] = reason
    return res


def query(sql, *params):
    c = connect("dadm_owner")
    try:
        with c, c.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
    finally:
        c.close()


def accounts(uai):
    """login -> (status, email, dir_key) of the provisioned accounts of uai."""
    rows = query("SELECT a.login, a.status::text, a.email, a.dir_key FROM dadm.account a"
                 " JOIN dadm.etab e ON e.id = a.etab_id"
                 " WHERE e.uai = %s AND a.dir_key IS NOT NULL", uai)
    return {r[0]: r[1:] for r in rows}


REGULAR_A = ["mmartin", "jbernard", "hlefevre", "fgarcon", "cdubois", "nmoreau", "lrichard",
             "pdurand", "aleroux", "tnguyen", "erobertpetit", "ybenali", "gdupont", "omuller",
             "mmartin2", "sfontaine"]


class LifecycleTest(unittest.TestCase):
    """One establishment's life, in order (the methods are numbered)."""

    @classmethod
    def setUpClass(cls):
        configure(STRASBOURG)

    def test_01_dry_run_changes_nothing(self):
        # The login of uid=pris belongs to a local account of another
        # establishment.
        query("INSERT INTO dadm.account (etab_id, login, given_name, family_name, email)"
              " SELECT id, 'pris@univ-a.test', 'Paul', 'Pris', 'paul.pris@univ-b.test'"
              " FROM dadm.etab WHERE uai = %s", POITIERS)
        _, out, _ = sync(STRASBOURG, "--full", "--dry-run")
        c = counts(out)
        self.assertIn("dry run", out)
        LifecycleTest.dry = (c, skipped_of(out))
        self.assertGreaterEqual(c["created"], len(REGULAR_A))
        self.assertEqual(accounts(STRASBOURG), {})
        self.assertEqual(query("SELECT count(*) FROM dadm.directory_run r JOIN dadm.etab e"
                               " ON e.id = r.etab_id WHERE e.uai = %s", STRASBOURG)[0][0], 0)

    def test_02_full_creates(self):
        _, out, _ = sync(STRASBOURG, "--full")
        c = counts(out)
        self.assertEqual(c["mode"], "full")
        # What the dry run announced, no more, no less.
        self.assertEqual((c, skipped_of(out)), LifecycleTest.dry)
        # The account holding pris's login is left as it was.
        self.assertEqual(query("SELECT e.uai, a.dir_key FROM dadm.account a JOIN dadm.etab e"
                               " ON e.id = a.etab_id WHERE a.login = 'pris@univ-a.test'"),
                         [(POITIERS, None)])
        acc = accounts(STRASBOURG)
        for uid in REGULAR_A:
            self.assertEqual(acc[f"{uid}@univ-a.test"][0], "active", uid)
        self.assertEqual(c["created"], len(acc))
        self.assertEqual(c["disabled"], 0)
        # The eppn with surrounding spaces is provisioned without them.
        self.assertIn("spaced@univ-a.test", acc)
        # Skipped entries are counted and listed with their reason.
        skipped = skipped_of(out)
        self.assertEqual(len(skipped), c["skipped"])
        people = LDAP["LDAP_A_PEOPLE"]
        self.assertEqual(skipped[f"uid=noeppn,{people}"], "missing_eppn")
        self.assertEqual(skipped[f"uid=nomail,{people}"], "missing_mail")
        self.assertEqual(skipped[f"uid=wrongscope,{people}"], "eppn_scope")
        self.assertEqual(skipped[f"uid=foreignuai,{people}"], "foreign_etab")
        self.assertEqual(skipped[f"uid=dup1,{people}"], "duplicate_eppn")
        self.assertEqual(skipped[f"uid=dup2,{people}"], "duplicate_eppn")
        self.assertEqual(skipped[f"uid=star,{people}"], "invalid_eppn")
        self.assertEqual(skipped[f"uid=paren,{people}"], "invalid_eppn")
        self.assertEqual(skipped[f"uid=pris,{people}"], "login_taken")
        # Hostile values never became accounts, nor merged anyone.
        for login in acc:
            self.assertRegex(login, r"^[a-z0-9][a-z0-9._-]*@univ-a\.test$")
        self.assertNotIn("doublon@univ-a.test", acc)
        # The run record has the same counts and list.
        run = query("SELECT status::text, created, skipped, jsonb_array_length(skipped_entries)"
                    " FROM dadm.directory_run ORDER BY id DESC LIMIT 1")[0]
        self.assertEqual(run, ("succeeded", c["created"], c["skipped"], c["skipped"]))
        # Provisioning grants no role.
        self.assertEqual(query('SELECT count(*) FROM dadm."grant" g JOIN dadm.account a'
                               " ON a.id = g.account_id WHERE a.dir_key IS NOT NULL")[0][0], 0)
        # Once the login is free, the entry is provisioned.
        query("DELETE FROM dadm.account WHERE login = 'pris@univ-a.test'")
        _, out, _ = sync(STRASBOURG, "--full")
        self.assertEqual(counts(out)["created"], 1)
        self.assertEqual(accounts(STRASBOURG)["pris@univ-a.test"][0], "active")

    def test_03_second_full_changes_nothing(self):
        before = accounts(STRASBOURG)
        # Nothing moved on either side: the run is recorded, nothing listed.
        _, out, _ = sync(STRASBOURG, "--full")
        self.assertIn("full: unchanged since the last listing", out)
        self.assertEqual(query("SELECT mode::text, unchanged, seen, created, updated, disabled"
                               " FROM dadm.directory_run ORDER BY id DESC LIMIT 1")[0],
                         ("full", True, 0, 0, 0, 0))
        self.assertEqual(accounts(STRASBOURG), before)
        # Drift on the dadm side (an account's digest no longer the
        # directory's): the next full run lists and repairs it.
        query("UPDATE dadm.account SET dir_hash = 'drift' WHERE login = 'jbernard@univ-a.test'")
        _, out, _ = sync(STRASBOURG, "--full")
        c = counts(out)
        self.assertEqual((c["created"], c["updated"], c["disabled"], c["re-enabled"]),
                         (0, 1, 0, 0))
        self.assertEqual(query("SELECT unchanged FROM dadm.directory_run"
                               " ORDER BY id DESC LIMIT 1")[0][0], False)
        # A disabled account whose entry is still there is re-enabled.
        query("UPDATE dadm.account SET status = 'disabled' WHERE login = 'gdupont@univ-a.test'")
        _, out, _ = sync(STRASBOURG, "--full")
        self.assertEqual(counts(out)["re-enabled"], 1)
        _, out, _ = sync(STRASBOURG, "--full", "--dry-run")
        self.assertIn("dry run, nothing changed; full: unchanged", out)
        # Any write to the directory moves its contextCSN: the next full run
        # lists, even when the change is outside the accounts' scope.
        ldap_modify("A", f"dn: {LDAP['LDAP_A_PEOPLE']}\nchangetype: modify\n"
                         f"replace: description\ndescription: Personnes\n")
        _, out, _ = sync(STRASBOURG, "--full")
        c = counts(out)
        self.assertEqual((c["created"], c["updated"], c["disabled"], c["re-enabled"]),
                         (0, 0, 0, 0))
        self.assertGreater(c["seen"], len(REGULAR_A))
        # Other settings: a run with another filter lists.
        configure(STRASBOURG, "--filter", "(&(objectClass=eduPerson)(uid=*))")
        _, out, _ = sync(STRASBOURG, "--full")
        self.assertIn("seen", out)
        configure(STRASBOURG)
        _, out, _ = sync(STRASBOURG, "--full")
        self.assertIn("seen", out)
        _, out, _ = sync(STRASBOURG, "--full")
        self.assertIn("unchanged", out)
        # A listing that skipped an entry for a login held by another account
        # leaves no digest: its outcome depends on other establishments.
        etab = ids()[0][STRASBOURG]
        for entries, skipped, kept in (('[{"dn": "x", "reason": "login_taken"}]', 1, False),
                                       ('[{"dn": "x", "reason": "missing_mail"}]', 2, False),
                                       ('[{"dn": "x", "reason": "missing_mail"}]', 1, True)):
            run = query("INSERT INTO dadm.directory_run (etab_id, mode, status, started_at,"
                        " skipped, skipped_entries) VALUES (%s, 'full', 'succeeded', now(), %s,"
                        " %s) RETURNING id", etab, skipped, entries)[0][0]
            query("SELECT dadm.ldap_listed(%s, %s, 'csn', 'fingerprint')", etab, run)
            self.assertEqual(query("SELECT listing_digest IS NOT NULL FROM"
                                   " dadm.etab_directory_state WHERE etab_id = %s", etab)[0][0],
                             kept, entries)
        _, out, _ = sync(STRASBOURG, "--full")
        self.assertIn("seen", out)

    def test_04_first_incremental_then_exactly_the_changes(self):
        _, out, _ = sync(STRASBOURG)
        self.assertEqual(counts(out)["mode"], "sync")
        self.assertIsNotNone(query("SELECT s.sync_cookie FROM dadm.etab_directory_state s"
                                   " JOIN dadm.etab e ON e.id = s.etab_id WHERE e.uai = %s",
                                   STRASBOURG)[0][0])
        people = LDAP["LDAP_A_PEOPLE"]
        ldap_modify("A", f"dn: uid=jbernard,{people}\nchangetype: modify\nreplace: mail\n"
                         f"mail: j.bernard@univ-a.test\n\n"
                         f"dn: uid=hlefevre,{people}\nchangetype: modify\nreplace: sn\n"
                         f"sn: Lefèvre-Durand\n")
        _, out, _ = sync(STRASBOURG)
        c = counts(out)
        self.assertEqual(c["mode"], "sync")
        self.assertEqual(c["seen"], 2)
        self.assertEqual((c["created"], c["updated"], c["disabled"]), (0, 2, 0))
        self.assertEqual(accounts(STRASBOURG)["jbernard@univ-a.test"][1], "j.bernard@univ-a.test")
        _, out, _ = sync(STRASBOURG)
        self.assertEqual(counts(out)["seen"], 0)

    def test_05_deleted_entry_disables_and_ends_sessions(self):
        d = Daemon().start()
        try:
            token = session("mmartin@univ-a.test")
            self.assertEqual(d.get("/api/v1/me", token=token).status, 200)
            subprocess.run(["ldapdelete", "-x", "-H", LDAP["LDAP_URI"], "-D",
                            LDAP["LDAP_A_ROOT_DN"], "-w", LDAP["LDAP_A_ROOT_PW"],
                            f"uid=mmartin,{LDAP['LDAP_A_PEOPLE']}"], check=True,
                           env={**os.environ, **ENV}, capture_output=True, timeout=60)
            _, out, _ = sync(STRASBOURG)
            c = counts(out)
            self.assertEqual((c["mode"], c["disabled"], c["created"]), ("sync", 1, 0))
            self.assertEqual(d.get("/api/v1/me", token=token).status, 401)
        finally:
            self.assertEqual(d.stop(), 0)
        # Disabled, never deleted.
        self.assertEqual(accounts(STRASBOURG)["mmartin@univ-a.test"][0], "disabled")
        code, _, _ = ctl("session", "create", "--account", "mmartin@univ-a.test", check=False)
        self.assertEqual(code, 1)

    def test_06_leaving_and_coming_back_keeps_roles(self):
        people = LDAP["LDAP_A_PEOPLE"]
        ctl("grant", "add", "--account", "cdubois@univ-a.test", "--role", "etab_admin",
            "--etab", STRASBOURG)
        grants = query('SELECT count(*) FROM dadm."grant"')[0][0]
        configure(STRASBOURG, "--filter", "(&(objectClass=eduPerson)(!(description=parti)))")
        ldap_modify("A", f"dn: uid=cdubois,{people}\nchangetype: modify\nadd: description\n"
                         f"description: parti\n")
        _, out, _ = sync(STRASBOURG, "--full")
        c = counts(out)
        self.assertEqual(c["disabled"], 1)
        self.assertEqual(accounts(STRASBOURG)["cdubois@univ-a.test"][0], "disabled")
        ldap_modify("A", f"dn: uid=cdubois,{people}\nchangetype: modify\ndelete: description\n")
        _, out, _ = sync(STRASBOURG, "--full")
        c = counts(out)
        self.assertEqual((c["re-enabled"], c["created"], c["disabled"]), (1, 0, 0))
        self.assertEqual(accounts(STRASBOURG)["cdubois@univ-a.test"][0], "active")
        # The role survived both runs; no other role appeared.
        self.assertEqual(query('SELECT count(*) FROM dadm."grant"')[0][0], grants)
        self.assertEqual(query('SELECT g.role::text FROM dadm."grant" g JOIN dadm.account a'
                               " ON a.id = g.account_id WHERE a.login = 'cdubois@univ-a.test'"),
                         [("etab_admin",)])
        configure(STRASBOURG)

    def test_07_cookie_unreadable_or_from_the_future(self):
        etab = ids()[0][STRASBOURG]
        query("UPDATE dadm.etab_directory_state SET sync_cookie = 'garbage' WHERE etab_id = %s",
              etab)
        _, out, _ = sync(STRASBOURG)
        c = counts(out)
        self.assertEqual((c["mode"], c["created"], c["disabled"]), ("sync", 0, 0))
        query("UPDATE dadm.etab_directory_state SET sync_cookie ="
              " convert_to('rid=000,csn=20991231000000.000000Z#000000#000#000000', 'UTF8')"
              " WHERE etab_id = %s", etab)
        _, out, _ = sync(STRASBOURG)
        c = counts(out)
        self.assertEqual((c["mode"], c["created"], c["disabled"]), ("sync", 0, 0))
        cookie = query("SELECT sync_cookie FROM dadm.etab_directory_state WHERE etab_id = %s",
                       etab)[0][0]
        self.assertIsNotNone(cookie)
        self.assertNotIn(b"2099", bytes(cookie))
        self.assertEqual(accounts(STRASBOURG)["jbernard@univ-a.test"][0], "active")

    def test_08_incremental_by_modify_timestamp(self):
        configure(STRASBOURG, "--incremental", "timestamp")
        # Every entry was loaded a moment ago: pretend the last run started
        # a minute from now, which the minute of margin brings back to now.
        time.sleep(1.1)
        query("UPDATE dadm.etab_directory_state SET last_started_at = now() + interval '1 minute'"
              " WHERE etab_id = (SELECT id FROM dadm.etab WHERE uai = %s)", STRASBOURG)
        ldap_modify("A", f"dn: uid=tnguyen,{LDAP['LDAP_A_PEOPLE']}\nchangetype: modify\n"
                         f"replace: telephoneNumber\ntelephoneNumber: +33 3 68 85 99 99\n")
        _, out, _ = sync(STRASBOURG)
        c = counts(out)
        self.assertEqual(c["mode"], "timestamp")
        # Only the entry changed since the last run is read.
        self.assertEqual(c["seen"], 1)
        self.assertEqual((c["updated"], c["created"], c["disabled"]), (1, 0, 0))
        configure(STRASBOURG)

    def test_09_deletion_after_server_restart(self):
        # syncprov keeps its log of changes in memory: after a restart a
        # refresh from an older cookie lists the present entries instead, and
        # every known key neither sent nor present is gone.
        sync(STRASBOURG)
        self.assertIsNotNone(query("SELECT s.sync_cookie FROM dadm.etab_directory_state s"
                                   " JOIN dadm.etab e ON e.id = s.etab_id WHERE e.uai = %s",
                                   STRASBOURG)[0][0])
        subprocess.run([SLAPD_SH, "stop", WORK], check=True, timeout=120, capture_output=True)
        subprocess.run([SLAPD_SH, "start", WORK, LDAP["LDAP_PORT"]], check=True, timeout=120,
                       capture_output=True)
        subprocess.run(["ldapdelete", "-x", "-H", LDAP["LDAP_URI"], "-D", LDAP["LDAP_A_ROOT_DN"],
                        "-w", LDAP["LDAP_A_ROOT_PW"], f"uid=jbernard,{LDAP['LDAP_A_PEOPLE']}"],
                       check=True, env={**os.environ, **ENV}, capture_output=True, timeout=60)
        _, out, _ = sync(STRASBOURG)
        c = counts(out)
        self.assertEqual((c["mode"], c["disabled"], c["created"]), ("sync", 1, 0))
        acc = accounts(STRASBOURG)
        self.assertEqual(acc["jbernard@univ-a.test"][0], "disabled")
        self.assertEqual(acc["hlefevre@univ-a.test"][0], "active")


class ErrorTest(unittest.TestCase):
    """Connection, TLS, credential and filter errors change nothing and say why.
    They use the Nantes establishment pointed at univ-b's directory."""

    def run_fails(self, *config, tag="B", password_file=True, expect):
        before = len(accounts(NANTES))
        configure(NANTES, *config, tag=tag, password_file=password_file)
        code, out, err = sync(NANTES, "--full", check=False)
        self.assertEqual(code, 1, out)
        self.assertIn(expect, err)
        self.assertEqual(len(accounts(NANTES)), before)
        run = query("SELECT r.status::text, r.error FROM dadm.directory_run r"
                    " JOIN dadm.etab e ON e.id = r.etab_id WHERE e.uai = %s"
                    " ORDER BY r.id DESC LIMIT 1", NANTES)[0]
        self.assertEqual(run[0], "failed")
        self.assertIn(expect, run[1])
        return err

    def test_wrong_password(self):
        with open(os.path.join(WORK, "pw-wrong"), "w") as f:
            f.write("not-the-password\n")
        err = self.run_fails("--password-file", os.path.join(WORK, "pw-wrong"),
                             password_file=False, expect="bad bind DN or password")
        self.assertNotIn("not-the-password", err)

    def test_bad_ca_starttls(self):
        self.run_fails("--ca-file", LDAP["LDAP_BAD_CA_CERT"], expect="TLS refused")

    def test_bad_ca_ldaps(self):
        self.run_fails("--uri", LDAP["LDAPS_URI"], "--ca-file", LDAP["LDAP_BAD_CA_CERT"],
                       expect="TLS refused")

    def test_good_ca_ldaps(self):
        configure(NANTES, "--uri", LDAP["LDAPS_URI"], tag="B")
        _, out, _ = sync(NANTES, "--full", "--dry-run")
        # Nantes reads univ-b's people: all skipped as another establishment's.
        c = counts(out)
        self.assertGreater(c["seen"], 0)
        self.assertEqual(c["skipped"], c["seen"])

    def test_unreachable(self):
        port = two_free_ports()
        self.run_fails("--uri", f"ldap://127.0.0.1:{port}", expect="unreachable")

    def test_plain_needs_explicit_permission(self):
        code, _, err = ctl(
            "ldap-config", NANTES, "--uri", LDAP["LDAP_URI"], "--base", LDAP["LDAP_B_PEOPLE"],
            "--no-starttls", check=False, env=ENV)
        self.assertEqual(code, 1)
        self.assertIn("--allow-plain", err)
        configure(NANTES, "--no-starttls", "--allow-plain", tag="B")
        _, out, _ = sync(NANTES, "--full", "--dry-run")
        self.assertGreater(counts(out)["seen"], 0)

    def test_injection_in_configured_values_refused(self):
        for args, what in ((("--filter", "(objectClass=eduPerson)(uid=*)"), "--filter"),
                           (("--filter", "(uid=*"), "--filter"),
                           (("--filter", "uid=*"), "--filter"),
                           (("--bind-dn", "cn=dadm,=x"), "--bind-dn"),
                           (("--base", "ou=people,,dc=x"), "--base"),
                           (("--map", '{"mail": "mail)(uid=*"}'), "--map")):
            code, _, err = ctl("ldap-config", NANTES, "--uri", LDAP["LDAP_URI"], "--base",
                               LDAP["LDAP_B_PEOPLE"], *args, check=False, env=ENV)
            self.assertEqual(code, 1, args)
            self.assertIn(what, err)

    def test_base_outside_the_directory(self):
        # Parentheses are legal in a DN: the value is sent as a DN, never
        # as filter text, and matches nothing.
        self.run_fails("--base", "ou=people)(uid=*,dc=univ-b,dc=test", expect="base DN not found")

    def test_bad_filter_stored_directly(self):
        configure(NANTES, tag="B")
        query("UPDATE dadm.etab_directory SET filter = '(&(uid=*)(cn=x)' WHERE etab_id ="
              " (SELECT id FROM dadm.etab WHERE uai = %s)", NANTES)
        code, _, err = sync(NANTES, "--full", check=False)
        self.assertEqual(code, 1)
        self.assertIn("bad search filter", err)

    def test_small_pages(self):
        # The limited service account reads everything page by page.
        with open(os.path.join(WORK, "pw-svc"), "w") as f:
            f.write(LDAP["LDAP_B_BIND_PW"])
        configure(NANTES, "--bind-dn", LDAP["LDAP_B_BIND_DN"], "--password-file",
                  os.path.join(WORK, "pw-svc"), "--page-size", "5", tag="B",
                  password_file=False)
        _, out, _ = sync(NANTES, "--full", "--dry-run")
        self.assertGreater(counts(out)["seen"], 5)


class InsertChecksTest(unittest.TestCase):
    """ldap_apply inserts its new accounts with the foreign keys' per-row
    checks off when the owner role may set session_replication_role, after
    checking and locking their establishment itself
    (sql/0018_ldap_first_load.sql). The outcome must not depend on the
    grant, and nothing else may be skipped."""

    def test_insert_triggers_are_the_two_foreign_keys(self):
        # Replica mode skips every ordinary trigger: on INSERT, account must
        # have none but the checks of etab_id and contractor_id.
        rows = query("SELECT t.tgisinternal, c.contype::text, c.confrelid::regclass::text,"
                     " (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a"
                     "   WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey))"
                     " FROM pg_trigger t LEFT JOIN pg_constraint c ON c.oid = t.tgconstraint"
                     " WHERE t.tgrelid = 'dadm.account'::regclass AND t.tgenabled = 'O'"
                     "   AND t.tgtype & 4 <> 0")
        self.assertEqual(sorted(rows), [(True, "f", "dadm.contractor", ["contractor_id"]),
                                        (True, "f", "dadm.etab", ["etab_id"])])

    def apply_one(self, etab_id, login):
        """Stages one entry and applies it to etab_id as the owner, in a
        transaction rolled back: (created, session_replication_role after,
        the account's etab_id and status)."""
        c = connect("dadm_owner")
        try:
            with c.cursor() as cur:
                cur.execute("SELECT dadm.ldap_stage_open()")
                cur.execute("INSERT INTO pg_temp.ldap_stage (kind, dir_key, dn, hash, login, eppn,"
                            " given_name, family_name, email, dir_info)"
                            " VALUES ('e', %s, %s, 'h', %s, %s, 'Ada', 'Test', %s, '{}')",
                            (login, "uid=" + login, login, login, login))
                cur.execute("SELECT r.created, current_setting('session_replication_role')"
                            " FROM dadm.ldap_apply(%s, 'full', false, now(), NULL, 1, 0, '[]',"
                            " false, '[]') r", (etab_id,))
                created, role = cur.fetchone()
                cur.execute("SELECT etab_id, status::text FROM dadm.account WHERE login = %s",
                            (login,))
                return created, role, cur.fetchone()
        finally:
            c.rollback()
            c.close()

    def both_ways(self, check):
        """check(granted) with the owner's grant, then without it."""
        check(True)
        su = connect(superuser())
        su.autocommit = True
        try:
            with su.cursor() as cur:
                cur.execute("REVOKE SET ON PARAMETER session_replication_role FROM dadm_owner")
            check(False)
        finally:
            with su.cursor() as cur:
                cur.execute("GRANT SET ON PARAMETER session_replication_role TO dadm_owner")
            su.close()

    def test_same_outcome_with_and_without_the_grant(self):
        etab = query("SELECT id FROM dadm.etab WHERE uai = %s", NANTES)[0][0]

        def check(granted):
            self.assertEqual(query("SELECT has_parameter_privilege('dadm_owner',"
                                   " 'session_replication_role', 'SET')")[0][0], granted)
            created, role, row = self.apply_one(etab, "ada.test@univ-b.test")
            self.assertEqual(created, 1)
            self.assertEqual(role, "origin")  # back as it was for what follows
            self.assertEqual(row, (etab, "active"))
        self.both_ways(check)
        self.assertEqual(query("SELECT count(*) FROM dadm.account"
                               " WHERE login = 'ada.test@univ-b.test'")[0][0], 0)

    def test_missing_establishment_refused(self):
        missing = query("SELECT coalesce(max(id), 0) + 1000 FROM dadm.etab")[0][0]

        def check(granted):
            # Refused at the accounts, before the run record (whose own
            # foreign key would refuse it too).
            with self.assertRaisesRegex(psycopg2.errors.ForeignKeyViolation,
                                        f"no establishment {missing}"):
                self.apply_one(missing, "nobody@univ-b.test")
        self.both_ways(check)


class RunsApiTest(unittest.TestCase):
    """Run records through the API: the establishment's administrator and the
    agency read them; others are told the establishment does not exist."""

    @classmethod
    def setUpClass(cls):
        configure(STRASBOURG)
        sync(STRASBOURG, "--full")
        cls.etabs = ids()[0]
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0

    def path(self, uai, suffix=""):
        return f"/api/v1/etabs/{self.etabs[uai]}/directory-runs{suffix}"

    def test_allowed(self):
        for login in ("chloe.weber", "karim.fontaine", "julie.moreau"):
            t = session(login)
            r = self.d.get(self.path(STRASBOURG) + "?limit=2", token=t)
            self.assertEqual(r.status, 200, login)
            body = r.json()
            self.assertGreaterEqual(body["total"], 1)
            self.assertLessEqual(len(body["items"]), 2)
            run = body["items"][0]
            self.assertEqual(run["status"], "succeeded")
            r = self.d.get(self.path(STRASBOURG, f"/{run['id']}"), token=t)
            self.assertEqual(r.status, 200)
            self.assertIsInstance(r.json()["skipped_entries"], list)

    def test_refused(self):
        run = self.d.get(self.path(STRASBOURG), token=session("karim.fontaine")).json()
        rid = run["items"][0]["id"]
        for login in ("denis.roux", "alice.martin"):
            t = session(login)
            for p in (self.path(STRASBOURG), self.path(STRASBOURG, f"/{rid}")):
                r = self.d.get(p, token=t)
                self.assertEqual(r.status, 404, (login, p))
                self.assertEqual(r.json()["type"], "/problems/not-found")
        for p in (self.path(STRASBOURG), self.path(STRASBOURG, f"/{rid}")):
            self.assertEqual(self.d.get(p).status, 401)
        # Another establishment's path does not reach this run.
        t = session("chloe.weber")
        self.assertEqual(self.d.get(self.path(POITIERS), token=t).status, 404)
        r = self.d.get(self.path(NANTES, f"/{rid}"), token=session("karim.fontaine"))
        self.assertEqual(r.status, 404)

    def test_rls_alone(self):
        # As the daemon's role, without the handler's check: row-level
        # security alone shows the runs to the same people.
        etab = self.etabs[STRASBOURG]
        total = query("SELECT count(*) FROM dadm.directory_run WHERE etab_id = %s", etab)[0][0]
        self.assertGreater(total, 0)
        expect = {None: 0, "denis.roux": 0, "alice.martin": 0, "chloe.weber": total,
                  "karim.fontaine": total, "julie.moreau": total}
        for login, n in expect.items():
            c = connect("dadm_app")
            try:
                with c, c.cursor() as cur:
                    if login:
                        h = hashlib.sha256(session(login).encode()).hexdigest()
                        cur.execute("SELECT account_id FROM dadm.begin_request(decode(%s, 'hex'))",
                                    (h,))
                    cur.execute("SELECT count(*) FROM dadm.directory_run WHERE etab_id = %s",
                                (etab,))
                    self.assertEqual(cur.fetchone()[0], n, login)
            finally:
                c.close()
        # The settings (with their secrets) are not readable at all.
        c = connect("dadm_app")
        try:
            with self.assertRaises(psycopg2.Error) as cm, c.cursor() as cur:
                cur.execute("SELECT count(*) FROM dadm.etab_directory")
            self.assertIn("permission denied", str(cm.exception))
        finally:
            c.close()


class ScheduleTest(unittest.TestCase):
    """dadmd runs due establishments by itself, as the daemon's role."""

    def test_scheduled_run(self):
        configure(POITIERS, tag="B")
        etab = ids()[0][POITIERS]
        before = query("SELECT count(*) FROM dadm.directory_run WHERE etab_id = %s", etab)[0][0]
        d = Daemon(DADM_JOBS_POLL_SECONDS="1", LDAPNOINIT="1").start()
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                n = query("SELECT count(*) FROM dadm.directory_run WHERE etab_id = %s"
                          " AND status = 'succeeded'", etab)[0][0]
                if n > before:
                    break
                time.sleep(0.2)
            self.assertGreater(n, before, d.read_log())
        finally:
            self.assertEqual(d.stop(), 0)
        self.assertTrue(any(l.endswith("@univ-b.test") for l in accounts(POITIERS)))
        # Not due again: a run once from dadmctl does nothing more.
        ctl("job", "run", "--name", "ldap", env=ENV)
        after = query("SELECT count(*) FROM dadm.directory_run WHERE etab_id = %s", etab)[0][0]
        self.assertEqual(after, before + 1)


if __name__ == "__main__":
    unittest.main()
