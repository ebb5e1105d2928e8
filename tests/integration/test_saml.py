"""SAML 2.0 single sign-on, end to end: two real SimpleSAMLphp IdPs
(tests/saml/idp.sh) for the demo establishments 0673021V (IdP a) and
0860856N (IdP b), the real dadmd as the SP, the IdPs' own login forms driven
over HTTP (tests/saml/browser.py), and hostile responses forged by an
independent stack (tests/saml/forge.py, python3-lasso + xmlsec1)."""

import base64
import os
import re
import shlex
import subprocess
import sys
import unittest
import urllib.parse
import zlib

from harness import SRC, Daemon, connect, ctl, free_port, STRASBOURG, POITIERS

SAML = os.path.join(SRC, "tests", "saml")
sys.path.insert(0, SAML)
import browser  # noqa: E402

d = None
WORK = None
IDP = {}  # "a" / "b" -> env dict
SP_MD = None


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                parts = shlex.split(v)
                env[k] = parts[0] if parts else ""
    return env


def setUpModule():
    global d, WORK, SP_MD
    WORK = os.path.join(os.environ["DADM_TEST_WORK"], "saml")
    os.makedirs(WORK, exist_ok=True)
    key, crt = os.path.join(WORK, "sp.key"), os.path.join(WORK, "sp.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes",
                    "-days", "2", "-subj", "/O=dadm tests/CN=sp", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    d = Daemon(DADM_SAML_SP_KEY_FILE=key, DADM_SAML_SP_CERT_FILE=crt)
    d.env["DADM_SAML_BASE_URL"] = "http://127.0.0.1:%d" % d.port
    for name in ("a", "b"):
        run = os.path.join(WORK, "idp-" + name)
        subprocess.run([os.path.join(SAML, "idp.sh"), "start", run, name, str(free_port()),
                        str(d.port), crt], check=True, capture_output=True, timeout=120)
        IDP[name] = load_env(os.path.join(run, "env"))
    d.start()
    SP_MD = os.path.join(WORK, "sp-metadata.xml")
    with open(SP_MD, "wb") as f:
        f.write(d.get("/saml/metadata").body)
    ctl("idp", "add", "--etab", STRASBOURG, "--metadata", IDP["a"]["IDP_METADATA_FILE"])
    ctl("idp", "add", "--etab", POITIERS, "--metadata", IDP["b"]["IDP_METADATA_FILE"])
    # Accounts of our own, linked to the test IdPs' people.
    for login, uai, idp, eppn in (
            ("sso.alice.a", STRASBOURG, "a", "alice@univ-a.test"),
            ("sso.dave.a", STRASBOURG, "a", "dave@univ-a.test"),
            ("sso.mallory.a", STRASBOURG, "a", "mallory@univ-a.test"),
            ("sso.alice.b", POITIERS, "b", "alice@univ-b.test"),
            ("sso.bob.b", POITIERS, "b", "bob@univ-b.test"),
            ("sso.off.a", STRASBOURG, "a", "off@univ-a.test"),
            # known to IdP b's subject space but filed under establishment A
            ("sso.cross.a", STRASBOURG, "b", "cross@univ-b.test")):
        ctl("account", "create", "--login", login, "--email", eppn, "--etab", uai)
        ctl("account", "set-sso", "--login", login, "--idp", IDP[idp]["IDP_ENTITY_ID"],
            "--eppn", eppn)
    owner_sql("UPDATE dadm.account SET status = 'disabled' WHERE login = 'sso.off.a'")
    # IdP a's bob (role ok2) has no linked account: DirectoryAccountTest
    # provisions him the way the directory run does.


def tearDownModule():
    for name in ("a", "b"):
        subprocess.run([os.path.join(SAML, "idp.sh"), "stop", os.path.join(WORK, "idp-" + name)],
                       capture_output=True, timeout=60)
    if d is not None:
        code = d.stop()
        assert code == 0, "dadmd exited %s:\n%s" % (code, d.read_log()[-6000:])


def owner_sql(sql, args=()):
    with connect("dadm_owner") as c, c.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall() if cur.description else None
    c.close()
    return rows


def sp(path):
    return "http://127.0.0.1:%d%s" % (d.port, path)


def session_cookie(resp_headers):
    """The session token from Set-Cookie headers, or None."""
    for k, v in resp_headers:
        if k.lower() == "set-cookie" and v.startswith("__Host-dadm_session="):
            tok = v.split(";", 1)[0].split("=", 1)[1]
            return tok or None
    return None


def start_login(etab=STRASBOURG, extra=""):
    """GET /saml/login; returns (response, AuthnRequest ID or None)."""
    r = d.get("/saml/login?etab=%s%s" % (etab, extra))
    loc = r.header("Location")
    if r.status != 302 or not loc:
        return r, None
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    xml = zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15).decode()
    return r, re.search(r' ID="([^"]+)"', xml).group(1)


def forge(case, irt=None, idp="a", **opts):
    env = IDP[idp]
    args = ["/usr/bin/python3", os.path.join(SAML, "forge.py"), "--sp-metadata", SP_MD,
            "--idp-key", env["IDP_KEY_FILE"], "--idp-cert", env["IDP_CERT_FILE"],
            "--idp-entity-id", env["IDP_ENTITY_ID"], "--case", case]
    if irt:
        args += ["--in-response-to", irt]
    for k, v in opts.items():
        args += ["--" + k.replace("_", "-"), v]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("forge.py %s: %s" % (case, p.stderr))
    return p.stdout.strip()


def post_acs(saml_response, relay_state=None):
    fields = {"SAMLResponse": saml_response}
    if relay_state is not None:
        fields["RelayState"] = relay_state
    return d.request("POST", "/saml/acs", body=urllib.parse.urlencode(fields),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})


def last_audit():
    return owner_sql("SELECT action, detail->>'reason', detail FROM dadm.audit"
                     " WHERE action LIKE 'auth.sso.%%' ORDER BY id DESC LIMIT 1")[0]


def me(token):
    return d.request("GET", "/api/v1/me", cookie=token)


class MetadataTest(unittest.TestCase):
    def test_metadata(self):
        r = d.get("/saml/metadata")
        self.assertEqual(r.status, 200)
        body = r.body.decode()
        self.assertIn('entityID="http://127.0.0.1:%d/saml/metadata"' % d.port, body)
        self.assertIn('Location="http://127.0.0.1:%d/saml/acs"' % d.port, body)
        self.assertIn('Location="http://127.0.0.1:%d/saml/slo"' % d.port, body)
        self.assertIn("X509Certificate", body)
        self.assertNotIn("PRIVATE", body)

    def test_login_redirect_is_signed_sha256(self):
        r, rid = start_login()
        loc = r.header("Location")
        self.assertTrue(loc.startswith(IDP["a"]["IDP_SSO_URL"]), loc)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
        self.assertEqual(q["SigAlg"][0], "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
        self.assertIn("Signature", q)
        rows = owner_sql("SELECT e.uai, r.idp_entity_id FROM dadm.saml_request r"
                         " JOIN dadm.etab e ON e.id = r.etab_id WHERE r.request_id = %s", (rid,))
        self.assertEqual(rows, [(STRASBOURG, IDP["a"]["IDP_ENTITY_ID"])])

    def test_daemon_role_cannot_read_tables(self):
        import psycopg2
        with connect("dadm_app") as c, c.cursor() as cur:
            with self.assertRaises(psycopg2.Error):
                cur.execute("SELECT * FROM dadm.saml_request")
        c.close()
        rows = owner_sql("SELECT relname FROM pg_class WHERE relname LIKE 'saml_%%'"
                         " AND relkind = 'r' AND NOT (relrowsecurity AND relforcerowsecurity)")
        self.assertEqual(rows, [])


class BrowserLoginTest(unittest.TestCase):
    """Correspondents of two establishments through the IdPs' own forms."""

    def login(self, etab, idp, role, next_path="/api/v1/me"):
        env = IDP[idp]
        b = browser.Browser()
        r = b.go(sp("/saml/login?etab=%s&next=%s" % (etab, urllib.parse.quote(next_path))))
        self.assertEqual(r.status, 200, r.body[:300])
        forms = browser.parse_forms(r.body, r.url)
        login = [f for f in forms if "username" in f.fields and "password" in f.fields][0]
        login.fields["username"] = env["IDP_USER_" + role]
        login.fields["password"] = env["IDP_PASSWORD_" + role]
        r = b.go(login.action, login.fields)
        acs = [f for f in browser.parse_forms(r.body, r.url) if f.action == sp("/saml/acs")]
        self.assertTrue(acs, r.body[:300])
        r = b.request(acs[0].action, acs[0].fields)
        return b, r

    def test_two_establishments(self):
        for etab, idp, login in ((STRASBOURG, "a", "sso.alice.a"), (POITIERS, "b", "sso.bob.b")):
            role = "OK" if idp == "a" else "OK2"
            b, r = self.login(etab, idp, role)
            self.assertEqual(r.status, 303, r.body[:300])
            self.assertEqual(r.headers["Location"], "/api/v1/me")
            token = session_cookie(r.headers.items())
            self.assertTrue(token)
            m = me(token)
            self.assertEqual(m.status, 200)
            self.assertEqual(m.json()["login"], login)
            action, reason, detail = last_audit()
            self.assertEqual((action, reason), ("auth.sso.login", "ok"))
            self.assertNotIn(token, str(detail))
            rows = owner_sql("SELECT method, level FROM dadm.session s JOIN dadm.account a"
                             " ON a.id = s.account_id WHERE a.login = %s ORDER BY s.id DESC"
                             " LIMIT 1", (login,))
            self.assertEqual(rows, [("sso", 2)])

    def test_no_supann_accepted(self):
        b, r = self.login(STRASBOURG, "a", "NO_SUPANN")
        self.assertEqual(r.status, 303, r.body[:300])

    def test_other_uai_refused(self):
        b, r = self.login(STRASBOURG, "a", "OTHER_UAI")
        self.assertEqual(r.status, 403)
        self.assertIsNone(session_cookie(r.headers.items()))
        self.assertEqual(last_audit()[1], "other_etab")

    def test_no_eppn_refused(self):
        b, r = self.login(STRASBOURG, "a", "NO_EPPN")
        self.assertEqual(r.status, 403)
        self.assertIn("eduPersonPrincipalName", r.body)
        self.assertEqual(last_audit()[1], "no_eppn")

    def logged_in_browser(self):
        b, r = self.login(STRASBOURG, "a", "OK")
        self.assertEqual(r.status, 303, r.body[:300])
        token = session_cookie(r.headers.items())
        self.assertEqual(me(token).status, 200)
        return b, token

    def test_sp_initiated_logout(self):
        b, token = self.logged_in_browser()
        r = d.request("GET", "/saml/logout", cookie=token)
        loc = r.header("Location")
        self.assertEqual(r.status, 302)
        self.assertTrue(loc.startswith(IDP["a"]["IDP_SLO_URL"]) and "SAMLRequest=" in loc, loc)
        # the local session is over before the IdP answers
        self.assertEqual(me(token).status, 401)
        r = b.go(loc, stop=lambda u: u.startswith(sp("/saml/slo")))
        self.assertTrue((r.location or "").startswith(sp("/saml/slo?SAMLResponse=")),
                        r.location or r.body[:300])
        r = b.request(r.location)
        self.assertEqual(r.status, 303, r.body[:300])
        self.assertEqual(r.headers["Location"], "/login")
        self.assertEqual(owner_sql("SELECT count(*) FROM dadm.saml_logout"
                                   " WHERE used_at IS NOT NULL")[0][0], 1)
        # the IdP session is over too: it asks for the password again
        r = b.go(sp("/saml/login?etab=%s" % STRASBOURG))
        self.assertTrue(any("password" in f.fields for f in browser.parse_forms(r.body, r.url)))

    def test_idp_initiated_logout(self):
        b, token = self.logged_in_browser()
        env = IDP["a"]
        return_to = env["IDP_URL"] + "/logout.php?done"
        r = b.go(env["IDP_INIT_SLO_URL"] + urllib.parse.quote(return_to, safe=""),
                 stop=lambda u: u.startswith(sp("/saml/slo")))
        self.assertTrue((r.location or "").startswith(sp("/saml/slo?SAMLRequest=")),
                        r.location or r.body[:300])
        # the same message, unsigned: refused, nothing ended
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.location).query)
        unsigned = d.get("/saml/slo?" + urllib.parse.urlencode({"SAMLRequest": q["SAMLRequest"][0]}))
        self.assertEqual(unsigned.status, 400)
        self.assertEqual(me(token).status, 200)
        r = b.request(r.location)
        self.assertEqual(r.status, 302, r.body[:300])
        self.assertTrue(r.location.startswith(env["IDP_SLO_URL"]) and "SAMLResponse=" in
                        r.location, r.location)
        self.assertEqual(me(token).status, 401)
        r = b.go(r.location, stop=lambda u: u.startswith(return_to))
        self.assertTrue((r.location or "").startswith(return_to), r.location or r.body[:300])
        action, reason, detail = last_audit()
        self.assertEqual(action, "auth.sso.logout")
        self.assertEqual(detail["sessions_ended"], "1")


class ForgedResponseTest(unittest.TestCase):
    """Every forge.py case, each against a fresh AuthnRequest."""

    REJECT = {
        "unsigned": "bad_response", "wrong-key": "bad_response", "tampered": "bad_response",
        "xsw-before": "bad_response", "xsw-after": "bad_response", "xsw-wrap": "bad_response",
        "two-assertions": "bad_response",
        "wrong-destination": "wrong_recipient", "no-destination": "wrong_recipient",
        "wrong-recipient": "wrong_recipient", "wrong-audience": "wrong_recipient",
        "no-audience": "wrong_recipient", "foreign-audiences": "wrong_recipient",
        "expired": "expired", "not-yet-valid": "expired", "unsolicited": "unsolicited",
        "other-uai": "other_etab", "no-eppn": "no_eppn", "status-denied": "idp_status",
    }
    ACCEPT = ("valid", "response-signed-only", "assertion-signed-only", "sha1")

    def refused(self, r, reason):
        self.assertIn(r.status, (400, 403), r.body[:300])
        self.assertIsNone(session_cookie(r.headers))
        self.assertIsNone(r.header("Location"))
        self.assertIn(b"Connexion impossible", r.body)
        self.assertEqual(last_audit()[:2], ("auth.sso.refused", reason))
        self.assertIn("reason=%s" % reason, d.read_log())

    def accepted(self, r, login="sso.alice.a"):
        self.assertEqual(r.status, 303, r.body[:300])
        token = session_cookie(r.headers)
        self.assertTrue(token)
        self.assertEqual(me(token).json()["login"], login)

    def test_all_cases_listed(self):
        p = subprocess.run(["/usr/bin/python3", os.path.join(SAML, "forge.py"), "--list-cases"],
                           capture_output=True, text=True, check=True)
        cases = {line.split()[0] for line in p.stdout.splitlines() if line.strip()}
        covered = set(self.REJECT) | set(self.ACCEPT) | {"replay", "comment", "other-issuer"}
        self.assertEqual(cases - covered, set())

    def test_rejected_cases(self):
        for case, reason in self.REJECT.items():
            with self.subTest(case=case):
                _, rid = start_login()
                self.refused(post_acs(forge(case, rid)), reason)

    def test_accepted_cases(self):
        for case in self.ACCEPT:
            with self.subTest(case=case):
                _, rid = start_login()
                self.accepted(post_acs(forge(case, rid)))

    def test_comment_in_eppn_reads_full_value(self):
        _, rid = start_login()
        self.accepted(post_acs(forge("comment", rid)))
        # the value before the comment alone names no account: no truncation
        _, rid = start_login()
        r = post_acs(forge("comment", rid, eppn="alice@univ-a.test.evil.example",
                           comment_at="17"))
        self.refused(r, "unknown_person")

    def test_replay(self):
        _, rid = start_login()
        self.accepted(post_acs(forge("valid", rid, assertion_id="_replayed-assertion-1")))
        _, rid = start_login()
        self.refused(post_acs(forge("replay", rid, assertion_id="_replayed-assertion-1")),
                     "replay")

    def test_same_request_twice(self):
        _, rid = start_login()
        self.accepted(post_acs(forge("valid", rid)))
        self.refused(post_acs(forge("valid", rid)), "request_spent")

    def test_unknown_in_response_to(self):
        self.refused(post_acs(forge("valid", "_never-sent-by-dadm")), "unsolicited")

    def test_other_issuer(self):
        # a trusted IdP (b's), validly signed, answering a request sent to a
        _, rid = start_login()
        r = post_acs(forge("other-issuer", rid, other_idp_entity_id=IDP["b"]["IDP_ENTITY_ID"],
                           other_idp_key=IDP["b"]["IDP_KEY_FILE"],
                           other_idp_cert=IDP["b"]["IDP_CERT_FILE"]))
        self.refused(r, "idp_not_allowed")

    def test_idp_of_b_for_establishment_a(self):
        # asked through the login URL
        r, rid = start_login(STRASBOURG, "&idp=" + urllib.parse.quote(IDP["b"]["IDP_ENTITY_ID"]))
        self.assertEqual(r.status, 403)
        self.assertIsNone(rid)
        # and by a response of IdP b to a request for establishment A, for a
        # person whose account (establishment A) is linked to IdP b
        _, rid = start_login(STRASBOURG)
        r = post_acs(forge("valid", rid, idp="b", eppn="cross@univ-b.test",
                           supann=POITIERS))
        self.refused(r, "idp_not_allowed")

    def test_unknown_person_not_created(self):
        before = owner_sql("SELECT count(*) FROM dadm.account")[0][0]
        _, rid = start_login()
        r = post_acs(forge("valid", rid, eppn="nobody@univ-a.test"))
        self.refused(r, "unknown_person")
        self.assertIn("pas de compte", r.body.decode())
        self.assertEqual(owner_sql("SELECT count(*) FROM dadm.account")[0][0], before)

    def test_account_of_other_establishment(self):
        # Bob of establishment B exists (linked to IdP b) but not in A
        _, rid = start_login(POITIERS)
        r = post_acs(forge("valid", rid, idp="b", eppn="alice@univ-a.test", supann=POITIERS))
        self.refused(r, "unknown_person")

    def test_disabled_account(self):
        _, rid = start_login()
        self.refused(post_acs(forge("valid", rid, eppn="off@univ-a.test")), "account_disabled")

    def test_expired_request(self):
        _, rid = start_login()
        owner_sql("UPDATE dadm.saml_request SET expires_at = now() - interval '1 second'"
                  " WHERE request_id = %s", (rid,))
        self.refused(post_acs(forge("valid", rid)), "request_spent")

    def test_relay_state_open_redirects(self):
        for bad in ("//evil.example", "/\\evil.example", "https:evil.example",
                    "javascript:alert(1)", "https://evil.example/", "evil", "/ok\r\nX: y"):
            with self.subTest(relay_state=bad):
                _, rid = start_login()
                self.refused(post_acs(forge("valid", rid), relay_state=bad), "bad_return")
                r = d.get("/saml/login?etab=%s&next=%s" % (STRASBOURG,
                                                           urllib.parse.quote(bad, safe="")))
                self.assertEqual(r.status, 400)
                self.assertIsNone(r.header("Location"))

    def test_relay_state_path_kept(self):
        r, rid = start_login(STRASBOURG, "&next=%2Fapi%2Fv1%2Fetabs")
        r = post_acs(forge("valid", rid), relay_state="/api/v1/etabs")
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/api/v1/etabs")

    def test_garbage(self):
        for body in ("", "not base64 !", base64.b64encode(b"<x/>").decode(),
                     base64.b64encode(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>").decode()):
            with self.subTest(body=body[:20]):
                r = post_acs(body)
                self.assertEqual(r.status, 400)
                self.assertIsNone(session_cookie(r.headers))


def directory_account(uai, eppn, status="active"):
    """An account as the directory run makes it: login = the eppn in lower
    case, the eppn as released in dir_eppn, keyed by entryUUID, no SSO link."""
    owner_sql("INSERT INTO dadm.account (etab_id, kind, login, given_name, family_name, email,"
              " dir_eppn, dir_key, status)"
              " SELECT id, 'person', lower(%s), 'Annuaire', 'Test', %s, %s, %s, %s"
              " FROM dadm.etab WHERE uai = %s",
              (eppn, "dir." + eppn.lower(), eppn, "uuid-" + eppn.lower(), status, uai))
    return eppn.lower()


class DirectoryAccountTest(unittest.TestCase):
    """SSO for accounts provisioned from the establishment's directory:
    found by (IdP, eppn) first, else by dir_eppn inside the establishment
    that owns the IdP, active accounts only."""

    login = BrowserLoginTest.login
    refused = ForgedResponseTest.refused
    accepted = ForgedResponseTest.accepted

    @classmethod
    def setUpClass(cls):
        cls.bob = directory_account(STRASBOURG, IDP["a"]["IDP_EPPN_OK2"])
        # released by IdP a, but the directory account is establishment B's
        cls.zoe = directory_account(POITIERS, "zoe@univ-a.test")
        cls.gone = directory_account(STRASBOURG, "gone@univ-a.test", status="disabled")
        # the same eppn as an account linked by set-sso: the link wins
        directory_account(STRASBOURG, "carl@univ-a.test")
        ctl("account", "create", "--login", "sso.carl.a", "--email", "carl@univ-a.test",
            "--etab", STRASBOURG)
        ctl("account", "set-sso", "--login", "sso.carl.a", "--idp", IDP["a"]["IDP_ENTITY_ID"],
            "--eppn", "carl@univ-a.test")

    def test_real_idp_login(self):
        b, r = self.login(STRASBOURG, "a", "OK2")
        self.assertEqual(r.status, 303, r.body[:300])
        token = session_cookie(r.headers.items())
        self.assertEqual(me(token).json()["login"], self.bob)
        action, reason, detail = last_audit()
        self.assertEqual((action, reason), ("auth.sso.login", "ok"))
        rows = owner_sql("SELECT s.method, a.sso_idp FROM dadm.session s JOIN dadm.account a"
                         " ON a.id = s.account_id WHERE a.login = %s ORDER BY s.id DESC LIMIT 1",
                         (self.bob,))
        self.assertEqual(rows, [("sso", None)])  # logged in, never linked

    def test_eppn_trimmed_like_the_directory_run(self):
        _, rid = start_login()
        self.accepted(post_acs(forge("valid", rid, eppn=" bob@univ-a.test\t")), self.bob)

    def test_exact_match_only(self):
        for eppn in ("BOB@univ-a.test", "bob@univ-a.test.evil.example", "bob@univ-a.tes"):
            with self.subTest(eppn=eppn):
                _, rid = start_login()
                self.refused(post_acs(forge("valid", rid, eppn=eppn)), "unknown_person")

    def test_other_establishment_not_matched(self):
        _, rid = start_login()
        self.refused(post_acs(forge("valid", rid, eppn="zoe@univ-a.test")), "unknown_person")
        self.assertEqual(owner_sql("SELECT count(*) FROM dadm.session s JOIN dadm.account a"
                                   " ON a.id = s.account_id WHERE a.login = %s",
                                   (self.zoe,))[0][0], 0)
        # through the IdP of the establishment that owns the account: found
        _, rid = start_login(POITIERS)
        self.accepted(post_acs(forge("valid", rid, idp="b", eppn="zoe@univ-a.test",
                                     supann=POITIERS)), self.zoe)

    def test_disabled_refused(self):
        _, rid = start_login()
        self.refused(post_acs(forge("valid", rid, eppn="gone@univ-a.test")), "unknown_person")
        self.assertEqual(owner_sql("SELECT count(*) FROM dadm.session s JOIN dadm.account a"
                                   " ON a.id = s.account_id WHERE a.login = %s",
                                   (self.gone,))[0][0], 0)

    def test_sso_link_first(self):
        _, rid = start_login()
        self.accepted(post_acs(forge("valid", rid, eppn="carl@univ-a.test")), "sso.carl.a")


AGGREGATE = """<?xml version="1.0"?>
<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
 xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_fed1" Name="test-federation">%(sig)s
%(entities)s
</md:EntitiesDescriptor>
"""
SIG_TEMPLATE = (
    '<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod'
    ' Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod'
    ' Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_fed1">'
    '<ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/>'
    '</ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo>'
    '</ds:Signature>')
ENTITY = (
    '<md:EntityDescriptor entityID="%(id)s"><md:IDPSSODescriptor WantAuthnRequestsSigned="true"'
    ' protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor'
    ' use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%(cert)s</ds:X509Certificate>'
    '</ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService'
    ' Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%(sso)s"/>'
    '</md:IDPSSODescriptor></md:EntityDescriptor>')


class AggregateTest(unittest.TestCase):
    """IdPs taken from a federation metadata aggregate, signature verified."""

    NANTES = "0440984F"
    FED_IDP = "https://idp.fed.test/idp"

    @classmethod
    def setUpClass(cls):
        w = cls.w = os.path.join(WORK, "aggregate")
        os.makedirs(w, exist_ok=True)
        for name in ("fed", "other", "idp"):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes",
                            "-days", "2", "-subj", "/CN=" + name, "-keyout",
                            os.path.join(w, name + ".key"), "-out", os.path.join(w, name + ".crt")],
                           check=True, capture_output=True)
        with open(os.path.join(w, "idp.crt")) as f:
            cert = "".join(l.strip() for l in f if "CERTIFICATE" not in l)
        entities = "\n".join(ENTITY % {"id": i, "cert": cert, "sso": i + "/sso"}
                             for i in (cls.FED_IDP, "https://idp2.fed.test/idp"))
        tpl = os.path.join(w, "template.xml")
        with open(tpl, "w") as f:
            f.write(AGGREGATE % {"sig": SIG_TEMPLATE, "entities": entities})
        with open(os.path.join(w, "unsigned.xml"), "w") as f:
            f.write(AGGREGATE % {"sig": "", "entities": entities})
        subprocess.run(["xmlsec1", "--sign", "--privkey-pem",
                        "%s,%s" % (os.path.join(w, "fed.key"), os.path.join(w, "fed.crt")),
                        "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor",
                        "--output", os.path.join(w, "signed.xml"), tpl],
                       check=True, capture_output=True)
        with open(os.path.join(w, "signed.xml")) as f:
            signed = f.read()
        with open(os.path.join(w, "tampered.xml"), "w") as f:
            f.write(signed.replace("https://idp2.fed.test/idp/sso", "https://evil.example/sso"))

    def imp(self, aggregate, cert="fed.crt", entity=None):
        return ctl("idp", "import", "--etab", self.NANTES, "--aggregate",
                   os.path.join(self.w, aggregate), "--signing-cert", os.path.join(self.w, cert),
                   "--entity-id", entity or self.FED_IDP, check=False)

    def registered(self):
        return owner_sql("SELECT i.entity_id, i.source FROM dadm.saml_idp i JOIN dadm.etab e"
                         " ON e.id = i.etab_id WHERE e.uai = %s", (self.NANTES,))

    def test_refused_aggregates(self):
        for agg, cert in (("unsigned.xml", "fed.crt"), ("tampered.xml", "fed.crt"),
                          ("signed.xml", "other.crt")):
            with self.subTest(aggregate=agg, cert=cert):
                rc, _, err = self.imp(agg, cert)
                self.assertEqual(rc, 1, err)
                self.assertIn("signature", err)
        rc, _, err = self.imp("signed.xml", entity="https://absent.example/idp")
        self.assertEqual(rc, 1)
        self.assertEqual(self.registered(), [])

    def test_import_then_login(self):
        r, rid = start_login(self.NANTES)
        self.assertEqual(r.status, 404)  # no IdP yet
        rc, _, err = self.imp("signed.xml")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.registered(), [(self.FED_IDP, "aggregate")])
        # the workers rebuild their lasso server from the new registrations
        for _ in range(4):
            r, rid = start_login(self.NANTES)
            self.assertEqual(r.status, 302)
            self.assertTrue(r.header("Location").startswith(self.FED_IDP + "/sso?SAMLRequest="))
        ctl("idp", "remove", "--etab", self.NANTES, "--entity-id", self.FED_IDP)
        for _ in range(4):
            self.assertEqual(start_login(self.NANTES)[0].status, 404)

    def test_add_refuses_non_idp_metadata(self):
        rc, _, err = ctl("idp", "add", "--etab", self.NANTES, "--metadata", SP_MD, check=False)
        self.assertEqual(rc, 1)
        rc, _, err = ctl("idp", "add", "--etab", self.NANTES, "--metadata",
                         IDP["a"]["IDP_METADATA_FILE"], "--entity-id", "https://other/idp",
                         check=False)
        self.assertEqual(rc, 1)


if __name__ == "__main__":
    unittest.main()
