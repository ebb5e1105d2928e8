"""Logging in: personal passwords (level 2), product readers (level 1),
sessions (cookie, rotation, timeouts, logout), CSRF, failed-login limits,
lost password and lost login, the login pages, and what the audit and the
log must never hold. Accounts are this module's own (created here), so the
other modules see the demo data unchanged."""

import hashlib
import html
import re
import secrets
import statistics
import time
import unittest
import urllib.parse

from harness import Daemon, connect, ctl, ids, session, STRASBOURG, POITIERS

d = None
daemons = []          # every daemon started here, for the log check
SECRETS = set()       # every password and token used, never to be logged
PW = "Sentier#Vert-2031"
DEMO = "Dadm#Demo-2026"
READER_PW = "Lecteur#Demo-2026"
SECRETS.update({PW, DEMO, READER_PW})
COOKIE_RE = re.compile(r"^__Host-dadm_session=([A-Za-z0-9_-]{43}); Path=/; Max-Age=(\d+); "
                       r"Secure; HttpOnly; SameSite=Lax$")

# Failures from this module must not make later modules (same address) wait.
FAST = {"DADM_LOGIN_ACCOUNT_FREE_FAILURES": "1000", "DADM_LOGIN_ADDRESS_FREE_FAILURES": "100000"}


def start(**env):
    dm = Daemon(**env).start()
    daemons.append(dm)
    return dm


def setUpModule():
    global d
    clear_attempts()
    d = start(**FAST)


def tearDownModule():
    for dm in daemons:
        if dm.proc is not None:
            assert dm.stop() == 0
    clear_attempts()
    # the accounts made here leave no trace in the establishment's data
    mine = "SELECT id FROM dadm.account WHERE login LIKE 'auth.t%%'"
    owner(f"DELETE FROM dadm.password_reset WHERE account_id IN ({mine})")
    owner(f"DELETE FROM dadm.session WHERE account_id IN ({mine})")
    owner(f'DELETE FROM dadm."grant" WHERE account_id IN ({mine})')
    owner(f"DELETE FROM dadm.account WHERE id IN ({mine})")


def owner(sql, *args):
    with connect("dadm_owner") as c, c.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall() if cur.description else None
    c.close()
    return rows


def clear_attempts():
    owner("DELETE FROM dadm.auth_attempt")


_n = [0]


def new_account(etab=STRASBOURG, products=(), password=PW):
    """A fresh personal account of `etab`, correspondent for `products`."""
    _n[0] += 1
    login = f"auth.t{_n[0]}.{secrets.token_hex(3)}"
    ctl("account", "create", "--login", login, "--email", f"{login}@example.org",
        "--given-name", "Test", "--family-name", "Auth", "--etab", etab, "--password-stdin",
        input=password + "\n")
    for p in products:
        ctl("grant", "add", "--account", login, "--role", "correspondent", "--nature",
            "technique", "--product", p, "--etab", etab)
    return login


def cookies(resp):
    return [v for k, v in resp.headers if k.lower() == "set-cookie"]


def session_cookie(resp):
    for c in cookies(resp):
        m = COOKIE_RE.match(c)
        if m:
            SECRETS.add(m.group(1))
            return m.group(1)
    return None


def login(login_, password=PW, dm=None, cookie=None, reader=False):
    dm = dm or d
    r = dm.request("POST", "/api/v1/reader-sessions" if reader else "/api/v1/sessions",
                   {"login": login_, "password": password}, cookie=cookie)
    if r.status == 201:
        SECRETS.add(r.json()["csrf_token"])
    return r


def login_ok(login_, password=PW, dm=None, reader=False):
    r = login(login_, password, dm, reader=reader)
    assert r.status == 201, (r.status, r.body)
    return session_cookie(r), r.json()["csrf_token"]


def token_hash(tok):
    return hashlib.sha256(tok.encode()).digest()


def me(tok, dm=None):
    return (dm or d).get("/api/v1/me", cookie=tok)


def post(path, body, tok=None, csrf=None, headers=None, bearer=None, dm=None):
    h = dict(headers or {})
    if csrf:
        h["X-CSRF-Token"] = csrf
    return (dm or d).request("POST", path, body, headers=h, cookie=tok, token=bearer)


def problem(test, r, status, slug):
    test.assertEqual(r.status, status, r.body)
    test.assertEqual(r.header("Content-Type"), "application/problem+json")
    test.assertEqual(r.json()["type"], "/problems/" + slug)


class PasswordLoginTest(unittest.TestCase):
    def test_success_sets_exact_cookie_and_csrf(self):
        acc = new_account(products=["apogee"])
        r = login(acc)
        self.assertEqual(r.status, 201)
        sc = [c for c in cookies(r) if c.startswith("__Host-dadm_session=")]
        self.assertEqual(len(sc), 1)
        m = COOKIE_RE.match(sc[0])
        self.assertIsNotNone(m, sc[0])
        self.assertEqual(m.group(2), "36000")
        body = r.json()
        self.assertEqual(body["level"], 2)
        self.assertEqual(len(body["csrf_token"]), 43)
        tok = m.group(1)
        SECRETS.add(tok)
        info = me(tok).json()
        self.assertEqual(info["login"], acc)
        self.assertEqual(info["csrf_token"], body["csrf_token"])
        self.assertEqual(info["reader_products"], [ids()[1]["apogee"]])
        # only the hash is stored
        self.assertEqual(owner("SELECT count(*) FROM dadm.session WHERE token_hash = %s",
                               token_hash(tok))[0][0], 1)
        rows = owner("SELECT method, level FROM dadm.session WHERE token_hash = %s",
                     token_hash(tok))
        self.assertEqual(rows, [("password", 2)])

    def test_login_is_case_insensitive(self):
        acc = new_account()
        self.assertEqual(login(acc.upper()).status, 201)

    def test_failures_look_the_same(self):
        acc = new_account()
        wrong = login(acc, "Pas#LeBon-2031x")
        unknown = login("personne.inconnue", "Pas#LeBon-2031x")
        for r in (wrong, unknown):
            problem(self, r, 401, "unauthenticated")
            self.assertIsNone(session_cookie(r))

        def strip(r):
            b = r.json()
            b.pop("request_id")
            return b
        self.assertEqual(strip(wrong), strip(unknown))
        self.assertEqual(strip(wrong)["detail"], "Identifiant ou mot de passe incorrect.")

    def test_disabled_account_fails_like_wrong_password(self):
        acc = new_account()
        owner("UPDATE dadm.account SET status = 'disabled' WHERE login = %s", acc)
        r = login(acc)
        problem(self, r, 401, "unauthenticated")
        self.assertEqual(r.json()["detail"], "Identifiant ou mot de passe incorrect.")

    def test_similar_timing_unknown_and_wrong(self):
        acc = new_account()

        def timed(lg):
            t = time.perf_counter()
            r = login(lg, "Pas#LeBon-2031x")
            self.assertEqual(r.status, 401)
            return time.perf_counter() - t
        timed(acc), timed("inconnu.x")  # warm up
        known = statistics.median(timed(acc) for _ in range(5))
        unknown = statistics.median(timed("inconnu.x") for _ in range(5))
        # both pay one argon2id verification (tens of milliseconds)
        self.assertGreater(unknown, 0.3 * known)
        self.assertLess(unknown, 3 * known)
        self.assertGreater(min(known, unknown), 0.005)

    def test_missing_fields_and_wrong_type(self):
        problem(self, d.request("POST", "/api/v1/sessions", {"login": "x"}), 422, "invalid-value")
        r = d.request("POST", "/api/v1/sessions", "login=x&password=y",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 415)

    def test_new_token_at_login_and_old_one_ends(self):
        acc = new_account()
        a, _ = login_ok(acc)
        r = login(acc, cookie=a)
        self.assertEqual(r.status, 201)
        b = session_cookie(r)
        self.assertNotEqual(a, b)
        self.assertEqual(me(a).status, 401)
        self.assertEqual(me(b).status, 200)

    def test_rehash_when_parameters_change(self):
        acc = new_account()
        get_hash = lambda: owner("SELECT password_hash FROM dadm.account WHERE login = %s",
                                 acc)[0][0]
        self.assertIn("$m=19456,t=2,p=1$", get_hash())
        d3 = start(DADM_PASSWORD_ARGON2_ITERATIONS="3", **FAST)
        try:
            login_ok(acc, dm=d3)
            self.assertIn("$m=19456,t=3,p=1$", get_hash())
            login_ok(acc, dm=d3)
            login_ok(acc)  # the default daemon takes it back to t=2
            self.assertIn("$m=19456,t=2,p=1$", get_hash())
        finally:
            self.assertEqual(d3.stop(), 0)


class SessionTest(unittest.TestCase):
    def test_timeouts_come_from_configuration(self):
        acc = new_account()
        tok, _ = login_ok(acc)
        rows = owner("SELECT extract(epoch FROM idle_timeout)::int,"
                     " extract(epoch FROM expires_at - created_at)::int"
                     " FROM dadm.session WHERE token_hash = %s", token_hash(tok))
        self.assertEqual(rows, [(1800, 36000)])
        d2 = start(DADM_SESSION_IDLE_SECONDS="600", DADM_SESSION_ABSOLUTE_SECONDS="7200", **FAST)
        try:
            r = login(acc, dm=d2)
            self.assertEqual(COOKIE_RE.match(
                [c for c in cookies(r) if c.startswith("__Host-dadm_session")][0]).group(2),
                "7200")
            tok2 = session_cookie(r)
            rows = owner("SELECT extract(epoch FROM idle_timeout)::int,"
                         " extract(epoch FROM expires_at - created_at)::int"
                         " FROM dadm.session WHERE token_hash = %s", token_hash(tok2))
            self.assertEqual(rows, [(600, 7200)])
        finally:
            self.assertEqual(d2.stop(), 0)

    def test_idle_timeout(self):
        tok, _ = login_ok(new_account())
        self.assertEqual(me(tok).status, 200)
        owner("UPDATE dadm.session SET last_seen_at = now() - interval '29 minutes'"
              " WHERE token_hash = %s", token_hash(tok))
        self.assertEqual(me(tok).status, 200)  # and this refreshes it
        owner("UPDATE dadm.session SET last_seen_at = now() - interval '31 minutes'"
              " WHERE token_hash = %s", token_hash(tok))
        self.assertEqual(me(tok).status, 401)

    def test_absolute_timeout(self):
        tok, _ = login_ok(new_account())
        owner("UPDATE dadm.session SET created_at = now() - interval '9 hours 59 minutes',"
              " expires_at = now() + interval '1 minute' WHERE token_hash = %s", token_hash(tok))
        self.assertEqual(me(tok).status, 200)
        owner("UPDATE dadm.session SET created_at = now() - interval '10 hours 1 minute',"
              " expires_at = now() - interval '1 minute' WHERE token_hash = %s", token_hash(tok))
        self.assertEqual(me(tok).status, 401)

    def test_logout_ends_session_server_side(self):
        tok, csrf = login_ok(new_account())
        r = d.request("DELETE", "/api/v1/sessions/current", cookie=tok,
                      headers={"X-CSRF-Token": csrf})
        self.assertEqual(r.status, 204)
        self.assertIn("__Host-dadm_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax",
                      cookies(r))
        self.assertEqual(me(tok).status, 401)
        ended = owner("SELECT ended_at IS NOT NULL FROM dadm.session WHERE token_hash = %s",
                      token_hash(tok))
        self.assertEqual(ended, [(True,)])

    def test_logout_roles(self):
        problem(self, d.request("DELETE", "/api/v1/sessions/current"), 401, "unauthenticated")
        rtok, rcsrf = login_ok("sifacread", READER_PW, reader=True)
        r = d.request("DELETE", "/api/v1/sessions/current", cookie=rtok,
                      headers={"X-CSRF-Token": rcsrf})
        self.assertEqual(r.status, 204)
        self.assertEqual(me(rtok).status, 401)
        # a bearer client logs out without a CSRF token
        acc = new_account()
        bearer = session(acc)
        SECRETS.add(bearer)
        self.assertEqual(d.request("DELETE", "/api/v1/sessions/current", token=bearer).status,
                         204)
        self.assertEqual(d.get("/api/v1/me", token=bearer).status, 401)

    def test_disabling_ends_all_sessions(self):
        acc = new_account()
        a, _ = login_ok(acc)
        b, _ = login_ok(acc)
        owner("UPDATE dadm.account SET status = 'disabled' WHERE login = %s", acc)
        rows = owner("SELECT count(*) FROM dadm.session s JOIN dadm.account a"
                     " ON a.id = s.account_id WHERE a.login = %s AND s.ended_at IS NULL", acc)
        self.assertEqual(rows, [(0,)])
        owner("UPDATE dadm.account SET status = 'active' WHERE login = %s", acc)
        self.assertEqual(me(a).status, 401)  # re-enabling does not revive them
        self.assertEqual(me(b).status, 401)


class CsrfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.acc = new_account()
        cls.tok, cls.csrf = login_ok(cls.acc)

    def change(self, csrf=None, headers=None, tok=None):
        # a new password the policy refuses: passing CSRF shows as 422
        return post("/api/v1/password/change",
                    {"current_password": PW, "new_password": "court"},
                    tok=tok or self.tok, csrf=csrf, headers=headers)

    def test_cookie_without_token_refused(self):
        r = self.change()
        problem(self, r, 403, "forbidden")
        self.assertIn("CSRF", r.json()["detail"])

    def test_cookie_with_wrong_token_refused(self):
        problem(self, self.change("x" * 43), 403, "forbidden")
        other, other_csrf = login_ok(new_account())
        problem(self, self.change(other_csrf), 403, "forbidden")  # another session's

    def test_cookie_with_token_accepted(self):
        problem(self, self.change(self.csrf), 422, "invalid-value")

    def test_token_in_form_field(self):
        r = d.request("POST", "/password/change",
                      urllib.parse.urlencode({"csrf_token": self.csrf, "current_password": PW,
                                              "new_password": "a", "confirm": "b"}),
                      headers={"Content-Type": "application/x-www-form-urlencoded"},
                      cookie=self.tok)
        self.assertEqual(r.status, 422)
        self.assertIn("diffèrent", r.body.decode())

    def test_other_origin_refused_even_with_token(self):
        problem(self, self.change(self.csrf, {"Origin": "http://evil.example"}), 403,
                "forbidden")
        problem(self, self.change(self.csrf, {"Sec-Fetch-Site": "cross-site"}), 403,
                "forbidden")
        host = f"127.0.0.1:{d.port}"
        problem(self, self.change(self.csrf, {"Origin": "http://" + host,
                                              "Sec-Fetch-Site": "same-origin"}), 422, "invalid-value")

    def test_bearer_without_token_accepted(self):
        bearer = session(self.acc)
        SECRETS.add(bearer)
        r = post("/api/v1/password/change", {"current_password": PW, "new_password": "court"},
                 bearer=bearer)
        problem(self, r, 422, "invalid-value")

    def test_logout_form_needs_token(self):
        tok, csrf = login_ok(new_account())
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        r = d.request("POST", "/logout", "", headers=form, cookie=tok)
        self.assertEqual(r.status, 403)
        self.assertEqual(me(tok).status, 200)
        r = d.request("POST", "/logout", "csrf_token=" + csrf, headers=form, cookie=tok)
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/login")
        self.assertEqual(me(tok).status, 401)


class ReaderTest(unittest.TestCase):
    def test_reader_level_one(self):
        tok, csrf = login_ok("sifacread", READER_PW, reader=True)
        info = me(tok).json()
        sifac = ids()[1]["sifac"]
        self.assertEqual((info["level"], info["product_id"]), (1, sifac))
        self.assertEqual(info["reader_products"], [sifac])
        self.assertEqual(info["csrf_token"], csrf)
        problem(self, d.get("/api/v1/etabs", cookie=tok), 403, "forbidden")
        problem(self, d.get(f"/api/v1/etabs/{ids()[0][STRASBOURG]}", cookie=tok), 403,
                "forbidden")
        problem(self, post("/api/v1/password/change", {"current_password": READER_PW,
                                                       "new_password": PW}, tok, csrf),
                403, "forbidden")
        rows = owner("SELECT level, method, product_id, account_id FROM dadm.session"
                     " WHERE token_hash = %s", token_hash(tok))
        self.assertEqual(rows, [(1, "reader", sifac, None)])

    def test_reader_failures(self):
        wrong = login("sifacread", "Pas#LeBon-2031x", reader=True)
        unknown = login("nopread", "Pas#LeBon-2031x", reader=True)
        problem(self, wrong, 401, "unauthenticated")
        problem(self, unknown, 401, "unauthenticated")
        self.assertEqual(wrong.json()["detail"], unknown.json()["detail"])
        # a personal password is not a reader password, and the reverse
        problem(self, login("sifacread", DEMO, reader=True), 401, "unauthenticated")
        problem(self, login("sifacread", READER_PW), 401, "unauthenticated")

    def test_correspondent_carries_level_one(self):
        acc = new_account(products=["sifac", "apogee"])
        tok, _ = login_ok(acc)
        p = ids()[1]
        self.assertEqual(sorted(me(tok).json()["reader_products"]), sorted([p["sifac"],
                                                                            p["apogee"]]))
        tok2, _ = login_ok(new_account())  # a member without role: none
        self.assertEqual(me(tok2).json()["reader_products"], [])


class PasswordChangeTest(unittest.TestCase):
    def test_change_ends_other_sessions_and_rotates(self):
        acc = new_account()
        a, csrf = login_ok(acc)
        b, _ = login_ok(acc)
        new = "Riviere#Calme-2032"
        SECRETS.add(new)
        r = post("/api/v1/password/change", {"current_password": PW, "new_password": new}, a,
                 csrf)
        self.assertEqual(r.status, 200, r.body)
        c = session_cookie(r)
        self.assertIsNotNone(c)
        self.assertNotIn(c, (a, b))
        self.assertEqual(len(r.json()["csrf_token"]), 43)
        self.assertNotIn("token", r.json())
        self.assertEqual(me(a).status, 401)
        self.assertEqual(me(b).status, 401)
        self.assertEqual(me(c).status, 200)
        self.assertEqual(login(acc, PW).status, 401)
        login_ok(acc, new)

    def test_wrong_current_password(self):
        acc = new_account()
        a, csrf = login_ok(acc)
        r = post("/api/v1/password/change",
                 {"current_password": "Pas#LeBon-2031x", "new_password": "Riviere#Calme-2032"},
                 a, csrf)
        problem(self, r, 403, "forbidden")
        self.assertEqual(me(a).status, 200)
        login_ok(acc)

    def test_anonymous_refused(self):
        problem(self, post("/api/v1/password/change", {"current_password": PW,
                                                       "new_password": PW}), 401,
                "unauthenticated")

    def test_bearer_gets_new_token(self):
        acc = new_account()
        bearer = session(acc)
        SECRETS.add(bearer)
        new = "Riviere#Calme-2033"
        SECRETS.add(new)
        r = post("/api/v1/password/change", {"current_password": PW, "new_password": new},
                 bearer=bearer)
        self.assertEqual(r.status, 200, r.body)
        tok = r.json()["token"]
        SECRETS.add(tok)
        self.assertEqual(d.get("/api/v1/me", token=bearer).status, 401)
        self.assertEqual(d.get("/api/v1/me", token=tok).status, 200)


class PolicyTest(unittest.TestCase):
    CASES = [
        ("Court#1a", ["au moins 12 caractères", "il en compte 8"]),
        ("Éléphant#Rose-2031", ["lettres accentuées"]),
        ("çaSentier#Vert2031", ["le ç"]),
        ("Sentier!Vert-2031", ["« ! »"]),
        ("Sentier?Vert*2031", ["« ? »", "« * »"]),
        ("Sentier@Vert-2031", ["« @ »"]),
        ("sentier#vert-2031", ["une majuscule"]),
        ("SENTIER#VERT-2031", ["une minuscule"]),
        ("Sentier#Vert-Bleu", ["un chiffre"]),
        ("SentierVert2031xx", ["un caractère spécial"]),
        ("court", ["au moins 12", "une majuscule", "un chiffre", "un caractère spécial"]),
        ("Motdepasse#2026", ["mot de passe courant"]),
        ("Azerty123456#", ["mot de passe courant"]),
    ]

    def test_messages_name_what_is_missing(self):
        for pw, parts in self.CASES:
            with self.subTest(pw=pw):
                r = post("/api/v1/password/reset", {"token": "x" * 43, "new_password": pw})
                problem(self, r, 422, "invalid-value")
                detail = r.json()["detail"]
                self.assertTrue(detail.startswith("Mot de passe refusé"), detail)
                for p in parts:
                    self.assertIn(p, detail)
                self.assertNotIn(pw, detail)

    def test_change_enforces_policy(self):
        acc = new_account()
        a, csrf = login_ok(acc)
        r = post("/api/v1/password/change", {"current_password": PW,
                                             "new_password": "Sentier!Vert-2031"}, a, csrf)
        problem(self, r, 422, "invalid-value")
        self.assertIn("« ! »", r.json()["detail"])
        login_ok(acc)  # unchanged

    def test_policy_is_configurable(self):
        d2 = start(DADM_PASSWORD_MIN_LENGTH="20", DADM_PASSWORD_REQUIRE_SPECIAL="false", **FAST)
        try:
            r = post("/api/v1/password/reset", {"token": "x" * 43, "new_password": PW}, dm=d2)
            self.assertIn("au moins 20 caractères", r.json()["detail"])
            r = post("/api/v1/password/reset",
                     {"token": "x" * 43, "new_password": "SentierVertBleu20312032"}, dm=d2)
            problem(self, r, 422, "invalid-value")
            self.assertIn("plus valable", r.json()["detail"])  # the policy let it through
        finally:
            self.assertEqual(d2.stop(), 0)


def last_mail(to):
    rows = owner("SELECT id, subject, body FROM dadm.outbox WHERE to_addr = %s ORDER BY id DESC"
                 " LIMIT 1", to)
    return rows[0] if rows else None


def mail_count():
    return owner("SELECT count(*) FROM dadm.outbox")[0][0]


class LostPasswordTest(unittest.TestCase):
    def request_link(self, acc):
        r = post("/api/v1/password/reset-request", {"login": acc})
        self.assertEqual(r.status, 202)
        mail = last_mail(acc + "@example.org")
        m = re.search(r"/password/reset\?token=([A-Za-z0-9_-]{43})", mail[2])
        SECRETS.add(m.group(1))
        return r, m.group(1), mail

    def test_single_use_link(self):
        acc = new_account()
        a, _ = login_ok(acc)
        _, token, mail = self.request_link(acc)
        self.assertIn("mot de passe", mail[1])
        self.assertIn("30 minutes", mail[2])
        self.assertEqual(owner("SELECT count(*) FROM dadm.password_reset WHERE token_hash = %s",
                               token_hash(token))[0][0], 1)
        new = "Riviere#Calme-2034"
        SECRETS.add(new)
        r = post("/api/v1/password/reset", {"token": token, "new_password": new})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(me(a).status, 401)  # every session ended
        r = post("/api/v1/password/reset", {"token": token, "new_password": "Riviere#Calme-2035"})
        problem(self, r, 422, "invalid-value")
        self.assertIn("plus valable", r.json()["detail"])
        self.assertEqual(login(acc, PW).status, 401)
        login_ok(acc, new)

    def test_link_expires_after_30_minutes(self):
        acc = new_account()
        _, token, _ = self.request_link(acc)
        rows = owner("SELECT extract(epoch FROM expires_at - created_at)::int"
                     " FROM dadm.password_reset WHERE token_hash = %s", token_hash(token))
        self.assertEqual(rows, [(1800,)])
        owner("UPDATE dadm.password_reset SET created_at = created_at - interval '31 minutes',"
              " expires_at = expires_at - interval '31 minutes' WHERE token_hash = %s",
              token_hash(token))
        r = post("/api/v1/password/reset", {"token": token, "new_password": "Riviere#Calme-2036"})
        problem(self, r, 422, "invalid-value")
        login_ok(acc)

    def test_new_link_kills_the_previous(self):
        acc = new_account()
        _, t1, _ = self.request_link(acc)
        _, t2, _ = self.request_link(acc)
        problem(self, post("/api/v1/password/reset",
                           {"token": t1, "new_password": "Riviere#Calme-2037"}), 422, "invalid-value")
        self.assertEqual(post("/api/v1/password/reset",
                              {"token": t2, "new_password": "Riviere#Calme-2037"}).status, 200)

    def test_same_answer_for_unknown_login(self):
        acc = new_account()
        before = mail_count()
        known, _, _ = self.request_link(acc)
        self.assertEqual(mail_count(), before + 1)
        unknown = post("/api/v1/password/reset-request", {"login": "personne.inconnue"})
        self.assertEqual(mail_count(), before + 1)
        self.assertEqual((unknown.status, unknown.body), (known.status, known.body))

        def timed(lg):
            t = time.perf_counter()
            post("/api/v1/password/reset-request", {"login": lg})
            return time.perf_counter() - t
        k = statistics.median(timed(acc) for _ in range(5))
        u = statistics.median(timed("personne.inconnue") for _ in range(5))
        self.assertLess(abs(k - u), 0.05)


class LostLoginTest(unittest.TestCase):
    def test_reminder(self):
        acc = new_account()
        email = acc + "@example.org"
        before = mail_count()
        known = post("/api/v1/login-reminder", {"email": email.upper()})
        self.assertEqual(known.status, 202)
        mail = last_mail(email)
        self.assertIn(acc, mail[2])
        self.assertIn("identifiant", mail[1])
        unknown = post("/api/v1/login-reminder", {"email": "personne@example.org"})
        self.assertEqual((unknown.status, unknown.body), (known.status, known.body))
        self.assertEqual(mail_count(), before + 1)


class RateLimitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        clear_attempts()
        cls.dl = start(DADM_LOGIN_ACCOUNT_FREE_FAILURES="3",
                       DADM_LOGIN_ADDRESS_FREE_FAILURES="8", DADM_LOGIN_BASE_DELAY_SECONDS="2")

    @classmethod
    def tearDownClass(cls):
        assert cls.dl.stop() == 0
        clear_attempts()

    def setUp(self):
        clear_attempts()

    def age(self, seconds):
        owner("UPDATE dadm.auth_attempt SET at = at - make_interval(secs => %s)", seconds)

    def test_per_account_increasing_delay(self):
        acc = new_account()
        for _ in range(3):
            problem(self, login(acc, "Pas#LeBon-2031x", self.dl), 401, "unauthenticated")
        waits = []
        for step in range(3):
            r = login(acc, PW, self.dl)  # even the right password waits
            problem(self, r, 429, "rate-limited")
            self.assertIsNone(session_cookie(r))
            waits.append(int(r.header("Retry-After")))
            self.age(waits[-1] + 1)
            problem(self, login(acc, "Pas#LeBon-2031x", self.dl), 401, "unauthenticated")
        self.assertEqual(waits, [2, 4, 8])
        # an unknown login is limited the same way: nothing tells them apart
        for _ in range(3):
            login("inconnu.limite", "Pas#LeBon-2031x", self.dl)
        problem(self, login("inconnu.limite", "Pas#LeBon-2031x", self.dl), 429, "rate-limited")
        # once the wait is over, the right password works and clears the count
        self.age(3600)
        login_ok(acc, dm=self.dl)
        audit = owner("SELECT count(*) FROM dadm.audit WHERE action = 'auth.login.limited'")
        self.assertGreater(audit[0][0], 0)

    def test_per_address(self):
        for i in range(8):  # 8 different logins: only the address counts
            problem(self, login(f"inconnu.{i}", "Pas#LeBon-2031x", self.dl), 401,
                    "unauthenticated")
        r = login(new_account(), PW, self.dl)
        problem(self, r, 429, "rate-limited")
        self.assertEqual(r.header("Retry-After"), "2")
        self.assertIn("Réessayez dans", r.json()["detail"])

    def test_page_limited(self):
        acc = new_account()
        for _ in range(3):
            login(acc, "Pas#LeBon-2031x", self.dl)
        r = form_login(self.dl, "/login/password", acc, PW)
        self.assertEqual(r.status, 429)
        self.assertTrue(r.header("Retry-After"))
        self.assertIn("Trop de tentatives", r.body.decode())


def login_form(dm, path="/login"):
    r = dm.get(path)
    assert r.status == 200, r.status
    cookie = [c for c in cookies(r) if c.startswith("__Host-dadm_login=")][0]
    value = cookie.split(";")[0].split("=", 1)[1]
    m = re.search(r'name="login_csrf" value="([0-9a-f]{64})"', r.body.decode())
    assert m and m.group(1) == value
    SECRETS.add(value)
    return value, r


def form_login(dm, action, login_, password, next_=None, headers=None, with_cookie=True):
    tok, _ = login_form(dm)
    fields = {"login": login_, "password": password, "login_csrf": tok}
    if next_ is not None:
        fields["next"] = next_
    h = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    if with_cookie:
        h["Cookie"] = "__Host-dadm_login=" + tok
    return dm.request("POST", action, urllib.parse.urlencode(fields), headers=h)


class PagesTest(unittest.TestCase):
    def test_login_page(self):
        _, r = login_form(d)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        csp = r.header("Content-Security-Policy")
        self.assertIn("default-src 'none'", csp)
        self.assertIn("form-action 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        page = r.body.decode()
        self.assertIn('lang="fr"', page)
        self.assertIn(f'href="/saml/login?etab={STRASBOURG}"', page)
        self.assertIn('action="/login/password"', page)
        self.assertIn('action="/login/reader"', page)
        self.assertIn('href="/password/lost"', page)
        self.assertNotIn("<script", page)
        c = [c for c in cookies(r) if c.startswith("__Host-dadm_login=")][0]
        self.assertTrue(c.endswith("; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Strict"))

    def test_next_is_escaped(self):
        r = d.get("/login?next=" + urllib.parse.quote('/x"><script>alert(1)</script>'))
        page = r.body.decode()
        self.assertNotIn("<script>", page)
        self.assertIn("&quot;&gt;&lt;script&gt;", page)

    def test_form_login_redirects_to_next(self):
        acc = new_account()
        r = form_login(d, "/login/password", acc, PW, "/api/v1/me?x=1")
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/api/v1/me?x=1")
        tok = session_cookie(r)
        self.assertEqual(me(tok).json()["login"], acc)
        r = form_login(d, "/login/reader", "aporead", READER_PW)
        self.assertEqual((r.status, r.header("Location")), (303, "/login"))
        self.assertEqual(me(session_cookie(r)).json()["level"], 1)

    def test_open_redirects_refused(self):
        acc = new_account()
        for evil in ["//evil.example", "/\\evil.example", "https://evil.example",
                     "https:evil.example", "javascript:alert(1)", "http://evil.example/",
                     "/\r\nSet-Cookie: x=y", "evil.example", "/\\/evil.example", "///evil"]:
            with self.subTest(next=evil):
                r = form_login(d, "/login/password", acc, PW, evil)
                self.assertEqual(r.status, 303)
                self.assertEqual(r.header("Location"), "/login")
        r = d.get("/login?next=" + urllib.parse.quote("//evil.example"))
        self.assertNotIn("evil.example", r.body.decode())

    def test_form_failure_page(self):
        r = form_login(d, "/login/password", new_account(), "Pas#LeBon-2031x")
        self.assertEqual(r.status, 401)
        self.assertIn("Identifiant ou mot de passe incorrect.", r.body.decode())
        self.assertIsNone(session_cookie(r))

    def test_login_csrf(self):
        acc = new_account()
        r = form_login(d, "/login/password", acc, PW, with_cookie=False)
        self.assertEqual(r.status, 403)
        self.assertIsNone(session_cookie(r))
        r = form_login(d, "/login/password", acc, PW, headers={"Origin": "http://evil.example"})
        self.assertEqual(r.status, 403)
        r = form_login(d, "/login/password", acc, PW, headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(r.status, 403)

    def test_lost_pages(self):
        acc = new_account()
        for path, field, value in [("/password/lost", "login", acc),
                                   ("/login/lost", "email", acc + "@example.org")]:
            self.assertEqual(d.get(path).status, 200)
            r = d.request("POST", path, urllib.parse.urlencode({field: value}),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual(r.status, 200)
            self.assertIn("courriel", r.body.decode())

    def test_reset_page_flow(self):
        acc = new_account()
        post("/api/v1/password/reset-request", {"login": acc})
        token = re.search(r"token=([A-Za-z0-9_-]{43})", last_mail(acc + "@example.org")[2])[1]
        SECRETS.add(token)
        r = d.get("/password/reset?token=" + token)
        self.assertIn(f'value="{token}"', r.body.decode())
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        r = d.request("POST", "/password/reset", urllib.parse.urlencode(
            {"token": token, "new_password": "court", "confirm": "court"}), headers=form)
        self.assertEqual(r.status, 422)
        self.assertIn("au moins 12 caractères", html.unescape(r.body.decode()))
        new = "Riviere#Calme-2038"
        SECRETS.add(new)
        r = d.request("POST", "/password/reset", urllib.parse.urlencode(
            {"token": token, "new_password": new, "confirm": new}), headers=form)
        self.assertEqual(r.status, 200)
        login_ok(acc, new)

    def test_change_page(self):
        r = d.get("/password/change")
        self.assertEqual((r.status, r.header("Location")), (303, "/login?next=/password/change"))
        rtok, _ = login_ok("aporead", READER_PW, reader=True)
        self.assertEqual(d.get("/password/change", cookie=rtok).status, 303)
        acc = new_account()
        tok, csrf = login_ok(acc)
        r = d.get("/password/change", cookie=tok)
        self.assertIn(f'name="csrf_token" value="{csrf}"', r.body.decode())
        new = "Riviere#Calme-2039"
        SECRETS.add(new)
        r = d.request("POST", "/password/change", urllib.parse.urlencode(
            {"csrf_token": csrf, "current_password": PW, "new_password": new, "confirm": new}),
            headers={"Content-Type": "application/x-www-form-urlencoded"}, cookie=tok)
        self.assertEqual(r.status, 200, r.body)
        self.assertIsNotNone(session_cookie(r))
        self.assertEqual(me(tok).status, 401)
        login_ok(acc, new)

    def test_logout_anonymous(self):
        r = d.request("POST", "/logout", "")
        self.assertEqual((r.status, r.header("Location")), (303, "/login"))


class ZzAuditAndSecretsTest(unittest.TestCase):
    """Runs last in this module, so the log and the audit hold everything
    above; it also does each audited action itself, to stand alone."""

    @classmethod
    def setUpClass(cls):
        acc = new_account()
        login(acc, "Pas#LeBon-2031x")
        tok, csrf = login_ok(acc)
        new = "Riviere#Calme-2040"
        SECRETS.add(new)
        r = post("/api/v1/password/change", {"current_password": PW, "new_password": new},
                 tok, csrf)
        assert r.status == 200, r.body
        tok = session_cookie(r)
        d.request("DELETE", "/api/v1/sessions/current", cookie=tok,
                  headers={"X-CSRF-Token": r.json()["csrf_token"]})
        post("/api/v1/password/reset-request", {"login": acc})
        token = re.search(r"token=([A-Za-z0-9_-]{43})", last_mail(acc + "@example.org")[2])[1]
        SECRETS.add(token)
        assert post("/api/v1/password/reset", {"token": token, "new_password": PW}).status == 200
        post("/api/v1/login-reminder", {"email": acc + "@example.org"})
        login_ok("harpread", READER_PW, reader=True)

    def test_audit_records_events(self):
        actions = {a for (a,) in owner("SELECT DISTINCT action FROM dadm.audit"
                                       " WHERE action LIKE 'auth.%%'")}
        for a in ["auth.login", "auth.login.failure", "auth.reader_login", "auth.logout",
                  "auth.password.change", "auth.password.reset", "auth.password.reset_request",
                  "auth.login_reminder"]:
            self.assertIn(a, actions)
        rows = owner("SELECT detail->>'method' FROM dadm.audit WHERE action = 'auth.login'"
                     " ORDER BY id DESC LIMIT 1")
        self.assertEqual(rows, [("password",)])
        self.assertIsNone(owner("SELECT dadm.audit_verify()")[0][0])

    def test_no_secret_in_log_or_audit(self):
        self.assertGreater(len(SECRETS), 8)
        audit = "\n".join(f"{t} {d_}" for t, d_ in owner(
            "SELECT coalesce(target, ''), detail::text FROM dadm.audit"))
        logs = "\n".join(dm.read_log() for dm in daemons)
        self.assertIn("event=http.request", logs)
        hashes = {hashlib.sha256(s.encode()).hexdigest() for s in SECRETS}
        for s in SECRETS | hashes:
            self.assertNotIn(s, audit)
            self.assertNotIn(s, logs)
            self.assertNotIn(urllib.parse.quote(s, safe=""), logs)


if __name__ == "__main__":
    unittest.main()
