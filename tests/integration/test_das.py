"""Assistance requests (DA) through the API: filing and its refusals, the
paths of the guide's status lifecycle, exchanges, requalification,
externalisation, and for each kind of caller the actions it may and may
not take. Runs on the demo data; what a test changes outside its own DAs
(a newer version, a disabled consultant, a pending version change) it
puts back before it ends."""

import threading
import unittest

import psycopg2

from harness import Daemon, ids, owner, session, POITIERS, STRASBOURG

d = None
TOKENS = {}


def setUpModule():
    global d
    d = Daemon().start()


def tearDownModule():
    assert d.stop() == 0


def token(login):
    if login not in TOKENS:
        TOKENS[login] = session(login)
    return TOKENS[login]


def call(method, path, login=None, body=None, **kw):
    return d.request(method, "/api/v1" + path, body=body, token=token(login) if login else None,
                     **kw)


def one(sql, args=()):
    rows = owner(sql, args)
    return rows[0][0] if rows else None


def account_id(login):
    return one("SELECT id FROM dadm.account WHERE login = %s", (login,))


FILING = {
    "alice.martin": {"product": "apogee", "priority": "non_bloquant", "domain": "inscriptions",
                     "version": "6.40.10"},
    "bruno.keller": {"product": "apogee", "priority": "non_bloquant", "domain": "technique",
                     "version": "6.40.10"},
    "fanny.leroy": {"product": "sifac", "priority": "bloquant", "domain": "budget",
                    "version": "V5.0"},
    "emma.girard": {"product": "sifac", "priority": "non_bloquant", "domain": "technique",
                    "version": "V4.2"},
}


def filing(login="alice.martin", **over):
    body = dict(FILING[login], title="Test de dépôt", description="Description\nsur deux lignes.")
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def file_da(login="alice.martin", **over):
    r = call("POST", "/das", login, filing(login, **over))
    assert r.status == 201, (r.status, r.body)
    return r.json()


def act(number, action, login, body=None):
    return call("POST", f"/das/{number}/{action}", login, body if body is not None else {})


def mails_to(addr, number):
    return owner("SELECT subject, body FROM dadm.outbox WHERE to_addr = %s"
                 " AND subject LIKE %s ORDER BY id", (addr, f"%n° {number}%"))


class Case(unittest.TestCase):
    def ok(self, r, status=200):
        self.assertEqual(r.status, status, r.body[:400])
        return r.json()

    def problem(self, r, status, fragment=None):
        self.assertEqual(r.status, status, r.body[:400])
        self.assertEqual(r.header("Content-Type").split(";")[0], "application/problem+json")
        p = r.json()
        if fragment:
            self.assertIn(fragment, p.get("detail", ""))
        return p

    def moved(self, number, action, login, body=None, to=None, sub=None):
        da = self.ok(act(number, action, login, body))
        self.assertEqual((da["status"], da["sub_status"]), (to, sub))
        return da

    def events(self, number, login="hugo.bernard"):
        return self.ok(call("GET", f"/das/{number}/events", login))["items"]


class FilingTest(Case):
    def test_happy_path(self):
        before = one("SELECT last_value FROM dadm.da_number_seq")
        da = file_da(title="Inscription impossible", internal_ref="UNISTRA-42",
                     message_code="ORA-00001", priority="bloquant")
        self.assertGreater(da["number"], before)
        self.assertEqual(da["status"], "ECT")
        self.assertIsNone(da["sub_status"])
        self.assertEqual((da["product"], da["domain"], da["nature"], da["priority"]),
                         ("apogee", "inscriptions", "fonctionnel", "bloquant"))
        self.assertEqual((da["version"], da["internal_ref"], da["message_code"]),
                         ("6.40.10", "UNISTRA-42", "ORA-00001"))
        self.assertEqual(da["etab_uai"], STRASBOURG)
        self.assertEqual(da["filer_name"], "Alice Martin")
        self.assertFalse(da["published"])
        self.assertIsNone(da["closed_at"])
        self.assertNotIn("id", da)
        # The next one gets the next number.
        da2 = file_da()
        self.assertEqual(da2["number"], da["number"] + 1)
        # Events: filed, then the assignment.
        kinds = [(e["kind"], e["from_status"], e["to_status"]) for e in self.events(da["number"])]
        self.assertEqual(kinds, [("filed", "NEW", "ECT"), ("assignment", None, None)])
        # The acknowledgement names the number and the consultant.
        mails = mails_to("alice.martin@unistra.fr", da["number"])
        self.assertEqual(len(mails), 1)
        self.assertIn("Accusé de réception", mails[0][0])
        self.assertIn(f"n° {da['number']}", mails[0][1])
        self.assertIn(da["consultant_name"], mails[0][1])
        # The audit.
        self.assertEqual(one("SELECT count(*) FROM dadm.audit WHERE action = 'da.file'"
                             " AND target = %s", (f"da:{da['number']}",)), 1)
        # Reading it back.
        self.assertEqual(self.ok(call("GET", f"/das/{da['number']}", "alice.martin")), da)

    def test_least_open_consultant(self):
        # Apogée technique: marc.dubois is its only technical consultant.
        da = file_da("bruno.keller")
        self.assertEqual(da["consultant_id"], account_id("marc.dubois"))
        self.assertEqual(da["consultant_name"], "Marc Dubois")
        # Sifac fonctionnel at Nantes: nadia.lambert.
        self.assertEqual(file_da("fanny.leroy")["consultant_id"], account_id("nadia.lambert"))
        # A second functional consultant of Apogée with fewer open DAs gets
        # the next ones until it has as many as hugo.bernard; ties go to the
        # lowest account id (hugo's).
        owner("INSERT INTO dadm.account (login, given_name, family_name, email)"
              " VALUES ('das.extra', 'Xavier', 'Extra', 'das.extra@amue.fr')")
        extra = account_id("das.extra")
        owner("INSERT INTO dadm.\"grant\" (account_id, role, nature, product_id)"
              " SELECT %s, 'consultant', 'fonctionnel', id FROM dadm.product"
              " WHERE code = 'apogee'", (extra,))
        try:
            def open_count(acc):
                return one("SELECT count(*) FROM dadm.da WHERE consultant_id = %s"
                           " AND closed_at IS NULL", (acc,))
            hugo = account_id("hugo.bernard")
            for _ in range(open_count(hugo)):
                expect = extra if open_count(extra) < open_count(hugo) else hugo
                self.assertEqual(file_da()["consultant_id"], expect)
            self.assertEqual(open_count(extra), open_count(hugo))
            self.assertEqual(file_da()["consultant_id"], hugo)
            # With no consultant of that nature, any consultant of the product:
            # marc.dubois (technique) once both functional ones are away.
            owner("UPDATE dadm.account SET status = 'disabled' WHERE id IN (%s, %s)",
                  (extra, hugo))
            self.assertEqual(file_da()["consultant_id"], account_id("marc.dubois"))
            # With none at all: no consultant, and the mail says so.
            owner("UPDATE dadm.account SET status = 'disabled' WHERE login = 'marc.dubois'")
            da = file_da()
            self.assertIsNone(da["consultant_id"])
            self.assertIn("attribution de votre demande à un consultant de l'Amue est en cours",
                          mails_to("alice.martin@unistra.fr", da["number"])[0][1])
            self.assertEqual([e["kind"] for e in self.events(da["number"], "alice.martin")],
                             ["filed"])
        finally:
            owner("UPDATE dadm.account SET status = 'active'"
                  " WHERE login IN ('hugo.bernard', 'marc.dubois')")
            owner("UPDATE dadm.account SET status = 'disabled' WHERE id = %s", (extra,))
            TOKENS.pop("hugo.bernard", None)
            TOKENS.pop("marc.dubois", None)

    def test_wrong_version(self):
        self.problem(call("POST", "/das", "alice.martin", filing(version="6.40.00")), 422,
                     "version installée validée de votre établissement (6.40.10)")

    def test_out_of_support(self):
        # Poitiers runs Apogée 6.40.00, out of support since 2026-11-04.
        p = self.problem(call("POST", "/das", "denis.roux",
                              filing("alice.martin", version="6.40.00")), 422,
                         "n'est plus maintenue")
        self.assertIn("Versions maintenues : 6.40.10.", p["detail"])
        # A newer Sifac delivered 40 days ago ends the support of V5.0 (its
        # predecessor is kept 30 days after a non-major delivery).
        owner("INSERT INTO dadm.version (product_id, label, delivered_on)"
              " SELECT id, 'V5.1', (now() - interval '40 days')::date FROM dadm.product"
              " WHERE code = 'sifac'")
        try:
            p = self.problem(call("POST", "/das", "fanny.leroy", filing("fanny.leroy")), 422,
                             "La version V5.0 de Sifac n'est plus maintenue")
            self.assertIn("Versions maintenues : V5.1.", p["detail"])
            # Delivered 20 days ago, V5.0 is still supported.
            owner("UPDATE dadm.version SET delivered_on = (now() - interval '20 days')::date"
                  " WHERE label = 'V5.1'")
            file_da("fanny.leroy")
            self.assertEqual(owner("SELECT label FROM dadm.supported_versions("
                                   "(SELECT id FROM dadm.product WHERE code = 'sifac'),"
                                   " current_date)"), [("V5.1",), ("V5.0",)])
        finally:
            owner("DELETE FROM dadm.version WHERE label = 'V5.1'")

    def test_supported_versions_function(self):
        apogee = ids()[1]["apogee"]
        rows = owner("SELECT label, supported_until FROM dadm.supported_versions(%s, %s)",
                     (apogee, "2026-11-04"))
        self.assertEqual([(r[0], str(r[1])) for r in rows],
                         [("6.40.10", "None"), ("6.40.00", "2026-11-04")])
        rows = owner("SELECT label FROM dadm.supported_versions(%s, '2026-11-05')", (apogee,))
        self.assertEqual(rows, [("6.40.10",)])
        # EvRP supports only its current delivery.
        evrp = ids()[1]["evrp"]
        self.assertEqual(owner("SELECT label FROM dadm.supported_versions(%s, '2026-07-07')",
                               (evrp,)), [("2.7",)])
        # A major migration keeps the previous version 183 days.
        sifac = ids()[1]["sifac"]
        self.assertEqual(owner("SELECT label FROM dadm.supported_versions(%s, '2027-04-13')",
                               (sifac,)), [("V5.0",), ("V4.2",)])
        self.assertEqual(owner("SELECT label FROM dadm.supported_versions(%s, '2027-04-14')",
                               (sifac,)), [("V5.0",)])

    def test_pending_version_change(self):
        etab = ids()[0][STRASBOURG]
        r = call("POST", f"/etabs/{etab}/change-requests", "bruno.keller",
                 {"chapter": "version", "product": "sifac", "values": {"version": "V4.2"}})
        self.assertEqual(r.status, 201, r.body)
        cr = r.json()["id"]
        try:
            self.problem(call("POST", "/das", "bruno.keller",
                              filing("fanny.leroy", domain="technique")), 409,
                         "Un changement de la version installée (V4.2) attend la validation")
        finally:
            self.assertEqual(call("POST", f"/change-requests/{cr}/withdraw", "bruno.keller",
                                  {}).status, 200)
        file_da("bruno.keller", product="sifac", domain="technique", version="V5.0")

    def test_no_validated_version(self):
        owner("UPDATE dadm.installation SET version_id = NULL WHERE etab_id = %s"
              " AND product_id = %s", (ids()[0][STRASBOURG], ids()[1]["sifac"]))
        try:
            self.problem(call("POST", "/das", "bruno.keller",
                              filing("fanny.leroy", domain="technique")), 409,
                         "n'a pas de version installée validée pour Sifac")
        finally:
            owner("UPDATE dadm.installation SET version_id = (SELECT id FROM dadm.version"
                  " WHERE label = 'V5.0') WHERE etab_id = %s AND product_id = %s",
                  (ids()[0][STRASBOURG], ids()[1]["sifac"]))

    def test_unknown_product_and_domain(self):
        self.problem(call("POST", "/das", "alice.martin", filing(product="nope")), 422,
                     "Ce produit n'existe pas.")
        self.problem(call("POST", "/das", "alice.martin", filing(domain="budget")), 422,
                     "Le domaine « budget » n'existe pas pour Apogée.")

    def test_bad_fields(self):
        before = one("SELECT count(*) FROM dadm.da")
        cases = [
            ({"title": None}, "L'intitulé est obligatoire."),
            ({"title": "x" * 201}, "L'intitulé dépasse 200 caractères."),
            ({"title": "   "}, "L'intitulé ne doit pas être vide."),
            ({"title": "a\u0007b"}, "caractère de contrôle"),
            ({"title": 12}, "L'intitulé doit être un texte."),
            ({"description": None}, "La description est obligatoire."),
            ({"description": "é" * 20001}, "La description dépasse 20000 caractères."),
            ({"priority": "urgent"}, "« bloquant » ou « non_bloquant »"),
            ({"product": None}, "Le produit est obligatoire."),
            ({"domain": "Inscriptions"}, "Le domaine doit être désigné par son code"),
            ({"version": None}, "Le numéro de version est obligatoire."),
            ({"version": "6.40 10"}, "n'a pas la forme d'une version"),
            ({"internal_ref": "r" * 51}, "Le numéro interne dépasse 50 caractères."),
            ({"message_code": "ORA 1"}, "Le code du message ne doit contenir ni espace"),
            ({"message_code": "<b>"}, "Le code du message ne doit contenir ni espace"),
            ({"extra": "x"}, "Champ inconnu : « extra »."),
        ]
        for over, fragment in cases:
            with self.subTest(over=str(over)[:60]):
                body = filing()
                for k, v in over.items():
                    if v is None:
                        body.pop(k, None)
                    else:
                        body[k] = v
                self.problem(call("POST", "/das", "alice.martin", body), 422, fragment)
        self.problem(call("POST", "/das", "alice.martin", "[1]",
                          headers={"Content-Type": "application/json"}), 400)
        self.problem(call("POST", "/das", "alice.martin", "title=x",
                          headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
        self.assertEqual(one("SELECT count(*) FROM dadm.da"), before)

    def test_role_refusals(self):
        before = one("SELECT count(*) FROM dadm.da")
        refused = "Seuls les correspondants de ce produit dans leur établissement"
        # Another establishment's correspondent of another product (Nantes
        # runs Apogée, fanny.leroy is its Sifac correspondent).
        self.problem(call("POST", "/das", "fanny.leroy", filing()), 403, refused)
        # A correspondent of another product of the same establishment
        # family: emma.girard (Poitiers, Sifac) on Apogée.
        self.problem(call("POST", "/das", "emma.girard", filing()), 403, refused)
        # Alice is a correspondent of Apogée only.
        self.problem(call("POST", "/das", "alice.martin", filing("fanny.leroy")), 403, refused)
        for login in ("hugo.bernard", "louis.garnier", "chloe.weber", "julie.moreau",
                      "karim.fontaine"):
            with self.subTest(login=login):
                self.problem(call("POST", "/das", login, filing()), 403, refused)
        self.problem(call("POST", "/das", None, filing()), 401)
        r = d.request("POST", "/api/v1/reader-sessions",
                      {"login": "aporead", "password": "Lecteur#Demo-2026"})
        self.assertEqual(r.status, 201, r.body)
        cookie = next(v for k, v in r.headers if k.lower() == "set-cookie")
        reader = cookie.split(";")[0].split("=", 1)[1]
        r = d.request("POST", "/api/v1/das", filing(), cookie=reader,
                      headers={"X-CSRF-Token": r.json()["csrf_token"],
                               "Origin": f"http://127.0.0.1:{d.port}"})
        self.problem(r, 403)
        self.assertEqual(one("SELECT count(*) FROM dadm.da"), before)


class LifecycleTest(Case):
    def test_question_answer_solution_validation(self):
        n = file_da()["number"]
        owner("UPDATE dadm.da SET reminded_at = now() WHERE number = %s", (n,))
        da = self.moved(n, "questions", "hugo.bernard", {"body": "Quel message exact ?"}, "ARS")
        self.assertIsNone(one("SELECT reminded_at FROM dadm.da WHERE number = %s", (n,)))
        mails = mails_to("alice.martin@unistra.fr", n)
        self.assertIn("une question vous est posée", mails[-1][0])
        self.assertIn("Quel message exact ?", mails[-1][1])
        # bruno.keller, the establishment's other Apogée correspondent, gets it too.
        self.assertIn("une question vous est posée", mails_to("bruno.keller@unistra.fr", n)[-1][0])
        # While it waits for the site, the agency cannot answer in its place.
        self.problem(act(n, "answers", "hugo.bernard", {"body": "x"}), 403)
        self.problem(act(n, "questions", "hugo.bernard", {"body": "Encore ?"}), 409,
                     "est au statut ARS")
        self.moved(n, "answers", "alice.martin", {"body": "ORA-01403"}, "ECT")
        self.assertTrue(one("SELECT status_since > created_at AND updated_at = status_since"
                            " FROM dadm.da WHERE number = %s", (n,)))
        self.assertIn("une réponse du site", mails_to("hugo.bernard@amue.fr", n)[-1][0])
        self.moved(n, "moves", "hugo.bernard", {"status": "INT"}, "INT")
        self.moved(n, "solutions", "hugo.bernard", {"body": "Relancez le batch."}, "AVS")
        self.assertIn("une réponse vous est proposée", mails_to("alice.martin@unistra.fr", n)[-1][0])
        da = self.moved(n, "validation", "alice.martin", {}, "TER")
        self.assertTrue(da["published"])
        self.assertIsNotNone(da["closed_at"])
        self.assertIn("clôturée", mails_to("alice.martin@unistra.fr", n)[-1][0])
        evs = [(e["kind"], e["from_status"], e["to_status"]) for e in self.events(n)]
        self.assertEqual(evs[2:], [("question", "ECT", "ARS"), ("answer", "ARS", "ECT"),
                                   ("status", "ECT", "INT"), ("solution", "INT", "AVS"),
                                   ("validation", "AVS", "TER")])
        author = self.events(n)[-1]
        self.assertEqual((author["author_id"], author["author_name"]),
                         (account_id("alice.martin"), "Alice Martin"))
        # Closed: no way out, no complement.
        self.problem(act(n, "moves", "hugo.bernard", {"status": "INT"}), 409,
                     "est au statut TER (Terminé)")
        self.problem(act(n, "complements", "alice.martin", {"body": "x"}), 409)
        self.assertEqual(one("SELECT count(*) FROM dadm.audit WHERE target = %s"
                             " AND action LIKE 'da.%%'", (f"da:{n}",)), 6)

    def test_refusal_back_to_consultant(self):
        n = file_da()["number"]
        self.moved(n, "solutions", "hugo.bernard", {"body": "Première réponse"}, "AVS")
        self.problem(act(n, "refusal", "alice.martin", {}), 422, "Le motif du refus est obligatoire.")
        self.problem(act(n, "refusal", "alice.martin", {"motive": " "}), 422)
        self.moved(n, "refusal", "alice.martin", {"motive": "Ne corrige pas le problème."}, "INT")
        ev = self.events(n)[-1]
        self.assertEqual((ev["kind"], ev["body"]), ("refusal", "Ne corrige pas le problème."))
        self.assertIn("refus motivé", mails_to("hugo.bernard@amue.fr", n)[-1][0])
        self.moved(n, "solutions", "hugo.bernard", {"body": "Seconde réponse"}, "AVS")
        self.moved(n, "validation", "bruno.keller", {}, "TER")

    def test_complement_any_time(self):
        n = file_da()["number"]
        self.ok(act(n, "complements", "alice.martin", {"body": "Capture jointe demain."}))
        self.moved(n, "questions", "hugo.bernard", {"body": "Quelle étape ?"}, "ARS")
        da = self.ok(act(n, "complements", "bruno.keller", {"body": "Étape 4."}))
        self.assertEqual(da["status"], "ARS")  # a complement does not answer
        self.assertEqual([e["kind"] for e in self.events(n)].count("complement"), 2)
        self.problem(act(n, "complements", "alice.martin", {}), 422, "Le texte est obligatoire.")
        self.problem(act(n, "complements", "alice.martin", {"bod": "x"}), 422,
                     "Champ inconnu : « bod ».")
        self.problem(act(n, "complements", "alice.martin", {"body": "x" * 20001}), 422,
                     "Le texte dépasse 20000 caractères.")
        self.problem(act(n, "complements", "alice.martin", {"body": ["x"]}), 422,
                     "Le texte doit être un texte.")
        self.assertEqual([e["kind"] for e in self.events(n)].count("complement"), 2)

    def test_externalisation(self):
        n = file_da()["number"]
        prestatech = one("SELECT id FROM dadm.contractor WHERE name = 'Prestatech'")
        infogestion = one("SELECT id FROM dadm.contractor WHERE name = 'Infogestion'")
        # Before it is externalised, no contractor sees it.
        self.problem(call("GET", f"/das/{n}", "louis.garnier"), 404)
        self.problem(act(n, "externalisation", "hugo.bernard", {}), 422, "contractor")
        self.problem(act(n, "externalisation", "hugo.bernard", {"contractor": 999999}), 422)
        self.problem(act(n, "externalisation", "alice.martin", {"contractor": prestatech}), 403)
        da = self.moved(n, "externalisation", "hugo.bernard",
                        {"contractor": prestatech, "body": "Pour Prestatech"}, "EXT")
        self.assertEqual((da["contractor_id"], da["contractor_name"]), (prestatech, "Prestatech"))
        self.assertEqual(self.ok(call("GET", f"/das/{n}", "louis.garnier"))["number"], n)
        self.problem(call("GET", f"/das/{n}", "olivier.masson"), 404)
        self.problem(act(n, "solutions", "olivier.masson", {"body": "x"}), 404)
        # The contractor may not question the site nor move the DA.
        self.problem(act(n, "questions", "louis.garnier", {"body": "x"}), 403)
        self.problem(act(n, "moves", "louis.garnier", {"status": "INT"}), 403)
        self.moved(n, "solutions", "louis.garnier", {"body": "Solution prestataire v1"}, "AVA")
        self.assertIn("solution du prestataire", mails_to("hugo.bernard@amue.fr", n)[-1][0])
        # The site waits: it cannot validate an AVA.
        self.problem(act(n, "validation", "alice.martin", {}), 409, "est au statut AVA")
        self.problem(act(n, "solutions", "louis.garnier", {"body": "v2"}), 409)
        # Sent back, then forwarded with the contractor's text.
        self.moved(n, "moves", "hugo.bernard", {"status": "EXT", "body": "À compléter"}, "EXT")
        self.moved(n, "solutions", "louis.garnier", {"body": "Solution prestataire v2"}, "AVA")
        self.moved(n, "solutions", "hugo.bernard", {}, "AVS")
        ev = self.events(n)[-1]
        self.assertEqual((ev["kind"], ev["body"]), ("solution", "Solution prestataire v2"))
        self.moved(n, "validation", "alice.martin", {}, "TER")
        # Infogestion has a consultant of Apogée, not of Sifac.
        m = file_da("fanny.leroy")["number"]
        self.problem(act(m, "externalisation", "nadia.lambert", {"contractor": infogestion}), 422,
                     "aucun consultant pour le produit")
        k = file_da()["number"]
        self.moved(k, "externalisation", "hugo.bernard", {"contractor": infogestion}, "EXT")
        self.assertEqual(self.ok(call("GET", f"/das/{k}", "olivier.masson"))["number"], k)
        self.problem(call("GET", f"/das/{k}", "louis.garnier"), 404)
        # Taken back by the agency.
        self.moved(k, "moves", "hugo.bernard", {"status": "INT"}, "INT")

    def test_expertise(self):
        n = file_da("bruno.keller")["number"]
        self.moved(n, "moves", "marc.dubois", {"status": "EXP"}, "EXP")
        self.moved(n, "questions", "marc.dubois", {"body": "Version Oracle ?"}, "ARS")
        self.moved(n, "answers", "bruno.keller", {"body": "19c"}, "ECT")
        self.moved(n, "moves", "marc.dubois", {"status": "EXP"}, "EXP")
        self.moved(n, "solutions", "marc.dubois", {"body": "Appliquer le patch 3."}, "AVS")

    def test_development_path(self):
        n = file_da()["number"]
        h = "hugo.bernard"
        self.moved(n, "moves", h, {"status": "ATD"}, "ATD")
        self.moved(n, "moves", h, {"status": "ADV"}, "ADV")
        self.problem(act(n, "moves", h, {"status": "DEV"}), 422, "sous-statut")
        self.problem(act(n, "moves", h, {"status": "DEV", "sub_status": "TND"}), 422)
        self.moved(n, "moves", h, {"status": "DEV", "sub_status": "INI"}, "DEV", "INI")
        self.problem(act(n, "moves", h, {"status": "DEV", "sub_status": "CLO"}), 409,
                     "est au statut DEV INI")
        self.moved(n, "moves", h, {"status": "DEV", "sub_status": "EC"}, "DEV", "EC")
        self.moved(n, "moves", h, {"status": "DEV", "sub_status": "SUS"}, "DEV", "SUS")
        self.moved(n, "moves", h, {"status": "DEV", "sub_status": "EC"}, "DEV", "EC")
        self.moved(n, "moves", h, {"status": "DEV", "sub_status": "CLO"}, "DEV", "CLO")
        ev = self.events(n)[-1]
        self.assertEqual((ev["from_status"], ev["from_sub"], ev["to_status"], ev["to_sub"]),
                         ("DEV", "EC", "DEV", "CLO"))
        self.moved(n, "solutions", h, {"body": "Corrigé dans le patch 6.40.20."}, "AVS")
        self.moved(n, "validation", "alice.martin", {}, "TER")

    def test_taken_into_account_and_recipe(self):
        n = file_da()["number"]
        h = "hugo.bernard"
        self.moved(n, "moves", h, {"status": "ATD"}, "ATD")
        self.moved(n, "moves", h, {"status": "PEC"}, "PEC")
        self.problem(act(n, "moves", h, {"status": "PEC", "sub_status": "EC"}), 422)
        self.moved(n, "moves", h, {"status": "PEC", "sub_status": "INI"}, "PEC", "INI")
        self.moved(n, "moves", h, {"status": "PEC", "sub_status": "TND"}, "PEC", "TND")
        self.moved(n, "moves", h, {"status": "PEC", "sub_status": "CLO"}, "PEC", "CLO")
        self.moved(n, "moves", h, {"status": "CTR"}, "CTR")
        self.problem(act(n, "moves", h, {"status": "CTR", "sub_status": "CLO"}), 409)
        self.moved(n, "moves", h, {"status": "CTR", "sub_status": "EC"}, "CTR", "EC")
        self.moved(n, "moves", h, {"status": "CTR", "sub_status": "CLO"}, "CTR", "CLO")
        da = self.moved(n, "moves", h, {"status": "TER"}, "TER")
        # Closed by the agency: not a validated solution, not published.
        self.assertFalse(da["published"])
        self.assertIsNotNone(da["closed_at"])

    def test_information_and_modification(self):
        n = file_da()["number"]
        self.moved(n, "moves", "hugo.bernard", {"status": "INF"}, "INF")
        self.moved(n, "moves", "hugo.bernard", {"status": "INT"}, "INT")
        self.moved(n, "moves", "hugo.bernard", {"status": "DMF"}, "DMF")
        self.moved(n, "moves", "hugo.bernard", {"status": "ATD"}, "ATD")

    def test_exclusion_rejection_replacement(self):
        for status in ("EXC", "REJ"):
            with self.subTest(status=status):
                n = file_da()["number"]
                self.problem(act(n, "moves", "hugo.bernard", {"status": status}), 422,
                             "Le motif est obligatoire")
                da = self.moved(n, "moves", "hugo.bernard",
                                {"status": status, "motive": "Plusieurs problèmes dans une DA."},
                                status)
                self.assertEqual(da["motive"], "Plusieurs problèmes dans une DA.")
                self.assertIsNotNone(da["closed_at"])
                self.assertFalse(da["published"])
                self.assertIn("Plusieurs problèmes", mails_to("alice.martin@unistra.fr", n)[-1][1])
        n = file_da()["number"]
        self.problem(act(n, "moves", "hugo.bernard", {"status": "INT", "motive": "x"}), 422)
        self.problem(act(n, "moves", "hugo.bernard", {"status": "ABN"}), 409)
        for bad in ("XYZ", "ect", "EXTERNE"):
            self.problem(act(n, "moves", "hugo.bernard", {"status": bad}), 422,
                         "Ce statut n'existe pas.")
        self.problem(act(n, "moves", "hugo.bernard", {"status": "INT", "sub_status": "EC"}), 422,
                     "Ce sous-statut n'existe pas pour ce statut")
        da = self.moved(n, "moves", "hugo.bernard", {"status": "REM"}, "REM")
        self.assertIsNotNone(da["closed_at"])

    def test_requalification(self):
        n = file_da()["number"]
        before = one("SELECT count(*) FROM dadm.outbox WHERE to_addr = 'alice.martin@unistra.fr'")
        da = self.ok(act(n, "requalification", "hugo.bernard",
                         {"priority": "bloquant", "domain": "technique", "body": "Batch"}))
        self.assertEqual((da["priority"], da["domain"], da["nature"], da["status"]),
                         ("bloquant", "technique", "technique", "ECT"))
        ev = self.events(n)[-1]
        self.assertEqual(ev["kind"], "requalification")
        self.assertEqual(ev["detail"], {
            "before": {"priority": "non_bloquant", "domain": "inscriptions",
                       "nature": "fonctionnel"},
            "after": {"priority": "bloquant", "domain": "technique", "nature": "technique"}})
        mail = mails_to("alice.martin@unistra.fr", n)[-1]
        self.assertIn("requalification", mail[0])
        self.assertIn("Priorité : non_bloquant → bloquant", mail[1])
        self.assertEqual(one("SELECT count(*) FROM dadm.outbox"
                             " WHERE to_addr = 'alice.martin@unistra.fr'"), before + 1)
        self.assertEqual(one("SELECT count(*) FROM dadm.audit WHERE action = 'da.requalification'"
                             " AND target = %s", (f"da:{n}",)), 1)
        self.problem(act(n, "requalification", "hugo.bernard", {"priority": "bloquant"}), 422,
                     "rien à requalifier")
        self.problem(act(n, "requalification", "hugo.bernard", {"domain": "budget"}), 422,
                     "Ce domaine n'existe pas pour le produit de la demande.")
        self.problem(act(n, "requalification", "hugo.bernard", {}), 422)
        self.problem(act(n, "requalification", "alice.martin", {"priority": "bloquant"}), 403)

    def test_concurrent_validation(self):
        n = file_da()["number"]
        self.moved(n, "solutions", "hugo.bernard", {"body": "Réponse"}, "AVS")
        tokens = [token("alice.martin"), token("bruno.keller")]
        out = []

        def run(t):
            out.append(d.request("POST", f"/api/v1/das/{n}/validation", {}, token=t).status)
        threads = [threading.Thread(target=run, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(out), [200, 409])
        self.assertEqual(one("SELECT count(*) FROM dadm.da_event ev JOIN dadm.da da"
                             " ON da.id = ev.da_id WHERE da.number = %s AND ev.kind = 'validation'",
                             (n,)), 1)


class RolesTest(Case):
    """On a DA of Strasbourg on Apogée in ECT, what each caller gets for each
    action that it may not take (the ones it may are the lifecycle tests)."""

    ACTIONS = ["complements", "questions", "answers", "solutions", "validation", "refusal",
               "notes", "moves", "requalification", "externalisation"]

    def test_matrix(self):
        n = file_da()["number"]
        body = {"body": "x"}
        expect = {
            # the site: exchanges only; answering and validating wait for their status
            "alice.martin": {"questions": 403, "answers": 409, "solutions": 403,
                             "validation": 409, "refusal": 409, "notes": 403, "moves": 403,
                             "requalification": 403, "externalisation": 403},
            # the agency: not the site's part
            "hugo.bernard": {"complements": 403, "answers": 403, "validation": 403,
                             "refusal": 403},
            # neither sees it
            "louis.garnier": {a: 404 for a in self.ACTIONS},
            "denis.roux": {a: 404 for a in self.ACTIONS},
            "fanny.leroy": {a: 404 for a in self.ACTIONS},
            "ines.petit": {a: 404 for a in self.ACTIONS},
            "chloe.weber": {a: 404 for a in self.ACTIONS},
            "julie.moreau": {a: 404 for a in self.ACTIONS},
            "karim.fontaine": {a: 404 for a in self.ACTIONS},
        }
        for login, actions in expect.items():
            for action, status in actions.items():
                with self.subTest(login=login, action=action):
                    p = self.problem(act(n, action, login, body), status)
                    if status == 404:
                        self.assertEqual(p["detail"], "Demande d'assistance introuvable.")
        for action in self.ACTIONS:
            self.problem(act(n, action, None, body), 401)
        self.problem(act(999999999, "moves", "hugo.bernard", {"status": "INT"}), 404)
        self.problem(act("abc", "moves", "hugo.bernard", {"status": "INT"}), 404)
        # Nothing of the above changed the DA.
        da = self.ok(call("GET", f"/das/{n}", "alice.martin"))
        self.assertEqual(da["status"], "ECT")
        self.assertEqual(len(self.events(n)), 2)


class ListTest(Case):
    def test_list_and_filters(self):
        n = file_da()["number"]
        body = self.ok(call("GET", "/das?limit=200", "alice.martin"))
        numbers = [x["number"] for x in body["items"]]
        self.assertIn(n, numbers)
        self.assertEqual(numbers, sorted(numbers, reverse=True))
        self.assertTrue(all(x["etab_uai"] == STRASBOURG and x["product"] == "apogee"
                            for x in body["items"]))
        self.assertEqual(body["total"],
                         one("SELECT count(*) FROM dadm.da d JOIN dadm.etab e ON e.id = d.etab_id"
                             " JOIN dadm.product p ON p.id = d.product_id"
                             " WHERE e.uai = %s AND p.code = 'apogee'", (STRASBOURG,)))
        # Consultants: every establishment, their products only.
        items = self.ok(call("GET", "/das?limit=200&product=sifac", "ines.petit"))["items"]
        self.assertEqual({x["etab_uai"] for x in items} >= {POITIERS, STRASBOURG}, True)
        self.assertEqual(self.ok(call("GET", "/das?product=apogee", "ines.petit"))["total"], 0)
        ect = self.ok(call("GET", "/das?status=TER&limit=200", "bruno.keller"))["items"]
        self.assertTrue(ect and all(x["status"] == "TER" for x in ect))
        etab = ids()[0][POITIERS]
        self.assertEqual(self.ok(call("GET", f"/das?etab={etab}", "alice.martin"))["total"], 0)
        page = self.ok(call("GET", "/das?limit=1&offset=1", "alice.martin"))
        self.assertEqual((len(page["items"]), page["limit"], page["offset"]), (1, 1, 1))
        self.problem(call("GET", "/das?status=XXX", "alice.martin"), 422)
        self.problem(call("GET", "/das?product=nope", "alice.martin"), 422)
        self.problem(call("GET", "/das?etab=abc", "alice.martin"), 422)
        self.problem(call("GET", "/das"), 401)
        # The establishment's administrator is no correspondent: nothing.
        self.assertEqual(self.ok(call("GET", "/das", "chloe.weber"))["total"], 0)


if __name__ == "__main__":
    unittest.main()
