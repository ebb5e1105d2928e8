"""Change requests and their validation: every chapter, the roles that may
and may not act, the quota of correspondents, conflicts, `.ver` witness
files, audit and mails, tenant isolation (through the API and through the
database role alone) and two validators deciding at the same moment.

The module builds two establishments of its own (A and B) with their
accounts, so it changes none of the demo data other modules rely on."""

import base64
import hashlib
import random
import threading
import time
import unittest

import psycopg2

from harness import Daemon, connect, ctl, ids, session

d = None
W = {}  # the module's world: ids of establishments, installations, accounts
TOKENS = {}
SUFFIX = "%06d" % random.randint(0, 999999)


def login_of(name):
    return f"cr{SUFFIX}.{name}"


def owner(sql, args=(), fetch=True):
    c = connect("dadm_owner")
    try:
        with c, c.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if fetch and cur.description else None
    finally:
        c.close()


def one(sql, args=()):
    rows = owner(sql, args)
    return rows[0][0] if rows else None


def setUpModule():
    global d
    etabs, products = ids()
    W["products"] = products
    uai_base = random.randint(100000, 899999)
    for key, n in (("A", 0), ("B", 1)):
        W[key] = one("INSERT INTO dadm.etab (uai, name, type, size_class, website, generic_email)"
                     " VALUES (%s, %s, 'universite', 'moyen', 'https://www.univ-test.fr',"
                     " 'espace@univ-test.fr') RETURNING id",
                     (f"9{uai_base + n:06d}T", f"Université d'essai {key} {SUFFIX}"))
    W["A.apogee"] = one("INSERT INTO dadm.installation (etab_id, product_id, version_id,"
                        " server_series, server_os, server_db) SELECT %s, p.id, v.id, 'APO',"
                        " 'RHEL 9.4', 'Oracle 19c' FROM dadm.product p JOIN dadm.version v"
                        " ON v.product_id = p.id WHERE p.code = 'apogee' AND v.label = '6.40.00'"
                        " RETURNING id", (W["A"],))
    W["A.sifac"] = one("INSERT INTO dadm.installation (etab_id, product_id, version_id)"
                       " SELECT %s, p.id, v.id FROM dadm.product p JOIN dadm.version v"
                       " ON v.product_id = p.id WHERE p.code = 'sifac' AND v.label = 'V4.2'"
                       " RETURNING id", (W["A"],))
    W["B.apogee"] = one("INSERT INTO dadm.installation (etab_id, product_id, version_id)"
                        " SELECT %s, p.id, v.id FROM dadm.product p JOIN dadm.version v"
                        " ON v.product_id = p.id WHERE p.code = 'apogee'"
                        " AND v.label = '6.40.10' RETURNING id", (W["B"],))
    people = [
        # name, etab, grants [(role, nature, product)]
        ("af", "A", [("correspondent", "fonctionnel", "apogee")]),
        ("at", "A", [("correspondent", "technique", "apogee"),
                     ("correspondent", "technique", "sifac")]),
        ("sf", "A", [("correspondent", "fonctionnel", "sifac")]),
        ("adm", "A", [("etab_admin", None, None)]),
        ("plain", "A", []),
        # a correspondent of A who is also an agency validator: may not
        # decide what they submitted
        ("both", "A", [("correspondent", "fonctionnel", "sifac"), ("validator", None, None)]),
        ("bf", "B", [("correspondent", "fonctionnel", "apogee")]),
        ("v2", None, [("validator", None, None)]),
    ]
    for name, etab, grants in people:
        acc = one("INSERT INTO dadm.account (etab_id, login, given_name, family_name, email,"
                  " phone) VALUES (%s, %s, %s, 'Essai', %s, '01 02 03 04 05') RETURNING id",
                  (W[etab] if etab else None, login_of(name), name.capitalize(),
                   f"{login_of(name)}@univ-test.fr"))
        W[name] = acc
        for role, nature, product in grants:
            owner('INSERT INTO dadm."grant" (account_id, role, nature, product_id, etab_id)'
                  " VALUES (%s, %s, %s, %s, %s)",
                  (acc, role, nature, products.get(product),
                   W[etab] if role in ("correspondent", "etab_admin") else None), fetch=False)
    d = Daemon().start()


def tearDownModule():
    assert d.stop() == 0


def tok(name):
    login = name if "." in name else login_of(name)
    if login not in TOKENS:
        TOKENS[login] = session(login)
    return TOKENS[login]


def call(method, path, name=None, body=None):
    return d.request(method, "/api/v1" + path, body=body, token=tok(name) if name else None)


def submit(name, etab, body):
    return call("POST", f"/etabs/{W[etab]}/change-requests", name, body)


def approve(name, cr):
    return call("POST", f"/change-requests/{cr}/approve", name)


def refuse(name, cr, motive=None):
    return call("POST", f"/change-requests/{cr}/refuse", name,
                {} if motive is None else {"motive": motive})


def withdraw(name, cr):
    return call("POST", f"/change-requests/{cr}/withdraw", name)


def audit_of(cr):
    return owner("SELECT action, detail FROM dadm.audit WHERE target = %s ORDER BY id",
                 (f"change_request:{cr}",))


def mails_to(addr, like):
    return owner("SELECT subject, body FROM dadm.outbox WHERE to_addr = %s AND subject LIKE %s"
                 " ORDER BY id", (addr, like))


def account_field(name, field):
    return one(f"SELECT {field} FROM dadm.account WHERE id = %s", (W[name],))


VALIDATOR = "julie.moreau"


class Base(unittest.TestCase):
    def created(self, r, status=201):
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def problem(self, r, status, *fragments):
        self.assertEqual(r.status, status, r.body)
        self.assertEqual(r.header("Content-Type"), "application/problem+json")
        detail = r.json()["detail"]
        for f in fragments:
            self.assertIn(f, detail)
        return detail


class ProfileTest(Base):
    def test_submit_amend_approve(self):
        before = account_field("af", "phone")
        cr = self.created(submit("af", "A", {"chapter": "profile",
                                             "values": {"phone": "03 00 00 00 01"}}))
        self.assertEqual((cr["status"], cr["chapter"], cr["amended"]),
                         ("pending", "profile", False))
        self.assertEqual(cr["replaced"]["phone"], before)
        # a second submission for the same chapter amends the pending one
        cr2 = self.created(submit("af", "A", {"chapter": "profile",
                                              "values": {"phone": "03 00 00 00 02"}}), 200)
        self.assertEqual((cr2["id"], cr2["amended"]), (cr["id"], True))
        self.assertEqual(cr2["proposed"]["phone"], "03 00 00 00 02")
        self.assertEqual(one("SELECT count(*) FROM dadm.change_request WHERE etab_id = %s"
                             " AND chapter = 'profile' AND account_id = %s"
                             " AND status = 'pending'", (W["A"], W["af"])), 1)
        # nothing changes before approval
        self.assertEqual(account_field("af", "phone"), before)
        r = approve(VALIDATOR, cr["id"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["status"], "approved")
        self.assertEqual(r.json()["decider"], VALIDATOR)
        self.assertEqual(account_field("af", "phone"), "03 00 00 00 02")
        self.assertEqual(account_field("af", "given_name"), "Af")
        # audit: submission, amendment, approval with the values before/after
        rows = audit_of(cr["id"])
        self.assertEqual([a for a, _ in rows], ["change.submit", "change.amend", "change.approve"])
        self.assertEqual(rows[2][1]["before"]["phone"], before)
        self.assertEqual(rows[2][1]["after"]["phone"], "03 00 00 00 02")
        # mails: the validators on submission and amendment; the submitter on decision
        to_validator = mails_to("julie.moreau@amue.fr", f"Demande de modification n° {cr['id']} %")
        self.assertEqual(len(to_validator), 2)
        self.assertIn("à valider", to_validator[0][0])
        self.assertIn("Données personnelles du correspondant", to_validator[0][1])
        self.assertIn("03 00 00 00 01", to_validator[0][1])
        self.assertEqual(len(mails_to(f"{login_of('v2')}@univ-test.fr",
                                      f"Demande de modification n° {cr['id']} %")), 2)
        decided = mails_to(f"{login_of('af')}@univ-test.fr",
                           f"Votre demande de modification n° {cr['id']} %")
        self.assertEqual(len(decided), 1)
        self.assertIn("validée", decided[0][0])
        self.assertIn("« 03 00 00 00 02 »", decided[0][1])
        # decided: no second decision
        self.problem(approve("v2", cr["id"]), 409, "déjà été approuvée")
        self.problem(refuse("v2", cr["id"], "trop tard"), 409, "déjà été approuvée")

    def test_refuse_needs_motive(self):
        cr = self.created(submit("at", "A", {"chapter": "profile",
                                             "values": {"email": "nouvelle@univ-test.fr"}}))
        self.problem(refuse(VALIDATOR, cr["id"]), 422, "motif du refus est obligatoire")
        self.problem(refuse(VALIDATOR, cr["id"], "   "), 422, "motif du refus est obligatoire")
        r = call("POST", f"/change-requests/{cr['id']}/refuse", VALIDATOR, {"motive": 3})
        self.problem(r, 422, "motif")
        self.assertEqual(one("SELECT status::text FROM dadm.change_request WHERE id = %s",
                             (cr["id"],)), "pending")
        r = refuse(VALIDATOR, cr["id"], "Adresse non institutionnelle.")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json()["status"], r.json()["motive"]),
                         ("refused", "Adresse non institutionnelle."))
        self.assertNotEqual(account_field("at", "email"), "nouvelle@univ-test.fr")
        decided = mails_to(f"{login_of('at')}@univ-test.fr",
                           f"Votre demande de modification n° {cr['id']} %")
        self.assertEqual(len(decided), 1)
        self.assertIn("refusée", decided[0][0])
        self.assertIn("Motif du refus : Adresse non institutionnelle.", decided[0][1])
        rows = audit_of(cr["id"])
        self.assertEqual(rows[-1][0], "change.refuse")
        self.assertEqual(rows[-1][1]["motive"], "Adresse non institutionnelle.")
        self.problem(approve(VALIDATOR, cr["id"]), 409, "déjà été refusée")

    def test_withdraw(self):
        cr = self.created(submit("sf", "A", {"chapter": "profile",
                                             "values": {"phone": "+33 3 00 00 00 09"}}))
        self.problem(withdraw("af", cr["id"]), 403, "Seul l'auteur")
        self.problem(withdraw(VALIDATOR, cr["id"]), 403, "Seul l'auteur")
        r = withdraw("sf", cr["id"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["status"], "withdrawn")
        self.problem(withdraw("sf", cr["id"]), 409, "retirée")
        self.problem(approve(VALIDATOR, cr["id"]), 409, "retirée")
        self.assertEqual([a for a, _ in audit_of(cr["id"])], ["change.submit", "change.withdraw"])
        # once withdrawn, a new submission opens a new request
        cr2 = self.created(submit("sf", "A", {"chapter": "profile",
                                              "values": {"phone": "+33 3 00 00 00 09"}}))
        self.assertNotEqual(cr2["id"], cr["id"])
        self.assertEqual(withdraw("sf", cr2["id"]).status, 200)

    def test_identity_never_rewritten(self):
        for field in ("family_name", "given_name", "login", "sso_eppn"):
            with self.subTest(field=field):
                self.problem(submit("af", "A", {"chapter": "profile",
                                                "values": {field: "Autre"}}),
                             422, f"« {field} »", "identité", "retrait", "ajout")

    def test_invalid_values(self):
        cases = [
            ({"email": "pas-une-adresse"}, "« email » : l'adresse électronique n'est pas valide"),
            ({"email": "a@b"}, "l'adresse électronique n'est pas valide"),
            ({"email": None}, "« email » : ce champ est obligatoire"),
            ({"phone": "abc"}, "« phone » : le numéro de téléphone n'est pas valide"),
            ({"phone": "12"}, "le numéro de téléphone n'est pas valide"),
            ({"phone": 33}, "« phone » : la valeur doit être une chaîne"),
            ({"fax": "1"}, "« fax » : ce champ n'existe pas"),
            ({}, "Aucune valeur proposée ne diffère"),
        ]
        for values, fragment in cases:
            with self.subTest(values=values):
                self.problem(submit("af", "A", {"chapter": "profile", "values": values}),
                             422, fragment)
        # several bad fields: one message each
        self.problem(submit("af", "A", {"chapter": "profile",
                                        "values": {"email": "x", "phone": "y"}}),
                     422, "« email »", "« phone »")
        self.problem(submit("af", "A", {"chapter": "nope"}), 422, "Chapitre inconnu")
        self.problem(submit("af", "A", {"values": {}}), 422, "« chapter » est obligatoire")
        self.problem(submit("af", "A", {"chapter": "profile", "extra": 1}), 422,
                     "Champ inconnu : « extra »")
        self.problem(submit("af", "A", {"chapter": "profile", "product": "apogee"}), 422,
                     "ne concerne pas un produit")
        r = d.request("POST", f"/api/v1/etabs/{W['A']}/change-requests", body="{",
                      headers={"Content-Type": "application/json"}, token=tok("af"))
        self.assertEqual(r.status, 400)
        r = d.request("POST", f"/api/v1/etabs/{W['A']}/change-requests", body="x=1",
                      headers={"Content-Type": "text/plain"}, token=tok("af"))
        self.assertEqual(r.status, 415)

    def test_conflict_after_concurrent_change(self):
        cr = self.created(submit("adm", "A", {"chapter": "profile",
                                              "values": {"phone": "03 99 99 99 99"}}))
        owner("UPDATE dadm.account SET phone = '03 11 11 11 11' WHERE id = %s", (W["adm"],),
              fetch=False)
        self.problem(approve(VALIDATOR, cr["id"]), 409, "ont changé depuis la soumission")
        self.assertEqual(account_field("adm", "phone"), "03 11 11 11 11")
        self.assertEqual(one("SELECT status::text FROM dadm.change_request WHERE id = %s",
                             (cr["id"],)), "pending")
        # the submitter re-reads and amends: the snapshot is refreshed
        cr2 = self.created(submit("adm", "A", {"chapter": "profile",
                                               "values": {"phone": "03 99 99 99 99"}}), 200)
        self.assertEqual(cr2["replaced"]["phone"], "03 11 11 11 11")
        self.assertEqual(approve(VALIDATOR, cr["id"]).status, 200)
        self.assertEqual(account_field("adm", "phone"), "03 99 99 99 99")


class EtabTest(Base):
    def test_submit_amend_approve(self):
        body = {"chapter": "etab", "values": {"website": "https://www.univ-essai.fr/",
                                              "generic_email": "dadm@univ-essai.fr"}}
        cr = self.created(submit("adm", "A", body))
        self.assertEqual(cr["replaced"]["website"], "https://www.univ-test.fr")
        # another person of the establishment amends it: one request per chapter
        body["values"]["size_class"] = "grand"
        cr2 = self.created(submit("af", "A", body), 200)
        self.assertEqual((cr2["id"], cr2["submitter"]), (cr["id"], login_of("af")))
        self.assertEqual(approve(VALIDATOR, cr["id"]).status, 200)
        row = owner("SELECT website, generic_email, size_class::text FROM dadm.etab"
                    " WHERE id = %s", (W["A"],))[0]
        self.assertEqual(row, ("https://www.univ-essai.fr/", "dadm@univ-essai.fr", "grand"))
        # both the first submitter and the amender hear of the decision
        for who in ("adm", "af"):
            self.assertEqual(len(mails_to(f"{login_of(who)}@univ-test.fr",
                                          f"Votre demande de modification n° {cr['id']} %")), 1)

    def test_invalid_and_roles(self):
        for values, fragment in [
            ({"website": "ftp://x.fr"}, "« website » : l'adresse du site doit commencer par"),
            ({"website": "https://a b.fr"}, "l'adresse du site"),
            ({"generic_email": "x@@y.fr"}, "« generic_email » : l'adresse électronique"),
            ({"size_class": "enorme"}, "« size_class » : la taille doit être"),
            ({"name": "Autre nom"}, "« name » : ce champ n'existe pas"),
        ]:
            with self.subTest(values=values):
                self.problem(submit("adm", "A", {"chapter": "etab", "values": values}), 422,
                             fragment)
        # a member without role, an agency validator: refused
        ok = {"chapter": "etab", "values": {"website": "https://www.x.fr"}}
        self.problem(submit("plain", "A", ok), 404, "Établissement introuvable")
        self.problem(submit(VALIDATOR, "A", ok), 403, "correspondants et l'administrateur")

    def test_conflict_refuse_withdraw(self):
        cr = self.created(submit("at", "A", {"chapter": "etab",
                                             "values": {"website": "https://conflit.fr"}}))
        old = one("SELECT website FROM dadm.etab WHERE id = %s", (W["A"],))
        owner("UPDATE dadm.etab SET generic_email = 'autre@univ-test.fr' WHERE id = %s",
              (W["A"],), fetch=False)
        try:
            self.problem(approve("v2", cr["id"]), 409, "ont changé")
            self.assertEqual(one("SELECT website FROM dadm.etab WHERE id = %s", (W["A"],)), old)
            self.assertEqual(refuse("v2", cr["id"], "Données à relire.").status, 200)
        finally:
            owner("UPDATE dadm.etab SET generic_email = 'espace@univ-test.fr' WHERE id = %s",
                  (W["A"],), fetch=False)
        cr = self.created(submit("at", "A", {"chapter": "etab",
                                             "values": {"website": "https://retrait.fr"}}))
        self.assertEqual(withdraw("at", cr["id"]).status, 200)


def installation(key):
    return owner("SELECT v.label, i.server_os, i.server_series FROM dadm.installation i"
                 " LEFT JOIN dadm.version v ON v.id = i.version_id WHERE i.id = %s",
                 (W[key],))[0]


class ServerTest(Base):
    def test_submit_amend_approve(self):
        cr = self.created(submit("at", "A", {"chapter": "server", "product": "apogee",
                                             "values": {"server_os": "RHEL 9.5"}}))
        self.assertEqual((cr["product"], cr["installation_id"]), ("apogee", W["A.apogee"]))
        # the functional correspondent of the same product amends it
        cr2 = self.created(submit("af", "A", {"chapter": "server", "product": "apogee",
                                              "values": {"server_os": "RHEL 9.6",
                                                         "server_notes": "Migration\nfaite"}}),
                           200)
        self.assertEqual(cr2["id"], cr["id"])
        self.assertEqual(installation("A.apogee")[1], "RHEL 9.4")
        self.assertEqual(approve(VALIDATOR, cr["id"]).status, 200)
        self.assertEqual(installation("A.apogee")[1], "RHEL 9.6")
        self.assertEqual(installation("A.apogee")[2], "APO")  # untouched field kept

    def test_invalid_and_roles(self):
        for values, fragment in [
            ({"server_os": "x" * 101}, "« server_os » : le texte dépasse 100 caractères"),
            ({"server_notes": "y" * 2001}, "le texte dépasse 2000 caractères"),
            ({"server_db": "a\u0001b"}, "caractères de contrôle"),
            ({"mode": "heberge"}, "« mode » : ce champ n'existe pas"),
        ]:
            with self.subTest(values=values):
                self.problem(submit("at", "A", {"chapter": "server", "product": "apogee",
                                                "values": values}), 422, fragment)
        body = {"chapter": "server", "product": "sifac", "values": {"server_os": "SLES 15"}}
        self.problem(submit("af", "A", body), 403, "correspondants de ce produit")
        self.problem(submit("adm", "A", body), 403, "correspondants de ce produit")
        self.problem(submit("at", "A", {"chapter": "server", "values": {}}), 422,
                     "« product »")
        self.problem(submit("at", "A", {"chapter": "server", "product": "zzz"}), 422,
                     "Produit inconnu")
        # a product the correspondent is granted but the establishment does not run
        owner('INSERT INTO dadm."grant" (account_id, role, nature, product_id, etab_id)'
              " VALUES (%s, 'correspondent', 'technique', %s, %s)",
              (W["at"], W["products"]["rof"], W["A"]), fetch=False)
        TOKENS.pop(login_of("at"), None)
        try:
            self.problem(submit("at", "A", {"chapter": "server", "product": "rof",
                                            "values": {"server_os": "x"}}),
                         422, "pas d'installation de ce produit")
        finally:
            owner('DELETE FROM dadm."grant" WHERE account_id = %s AND product_id = %s',
                  (W["at"], W["products"]["rof"]), fetch=False)
            TOKENS.pop(login_of("at"), None)

    def test_conflict_refuse_withdraw(self):
        cr = self.created(submit("at", "A", {"chapter": "server", "product": "sifac",
                                             "values": {"server_series": "SIFAC-P"}}))
        owner("UPDATE dadm.installation SET server_db = 'HANA 2.0' WHERE id = %s",
              (W["A.sifac"],), fetch=False)
        self.problem(approve(VALIDATOR, cr["id"]), 409, "ont changé")
        self.assertIsNone(installation("A.sifac")[2])
        self.assertEqual(refuse(VALIDATOR, cr["id"], "Série inconnue.").status, 200)
        cr = self.created(submit("at", "A", {"chapter": "server", "product": "sifac",
                                             "values": {"server_series": "SIFAC-Q"}}))
        self.assertEqual(withdraw("at", cr["id"]).status, 200)
        self.assertIsNone(installation("A.sifac")[2])


def ver(name, data):
    return {"name": name, "content_base64": base64.b64encode(data).decode()}


class VersionTest(Base):
    def pending_version(self, key, name="at"):
        r = call("GET", f"/etabs/{W[key.split('.')[0]]}/installations", name)
        self.assertEqual(r.status, 200)
        product = key.split(".")[1]
        return next(i for i in r.json()["items"] if i["product"] == product)["pending_version"]

    def test_submit_with_files_amend_approve(self):
        content = b"APOGEE 6.40.10\nmigration OK\n"
        cr = self.created(submit("at", "A", {"chapter": "version", "product": "apogee",
                                             "values": {"version": "6.40.10"},
                                             "files": [ver("apogee.ver", content)]}))
        self.assertEqual(cr["files"][0]["name"], "apogee.ver")
        self.assertEqual(cr["files"][0]["size"], len(content))
        self.assertEqual(cr["files"][0]["sha256"], hashlib.sha256(content).hexdigest())
        r = call("GET", f"/change-requests/{cr['id']}/files/{cr['files'][0]['id']}", VALIDATOR)
        self.assertEqual((r.status, r.body), (200, content))
        self.assertEqual(r.header("Content-Disposition"), 'attachment; filename="apogee.ver"')
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(call("GET", f"/change-requests/{cr['id']}/files/{cr['files'][0]['id']}",
                              "bf").status, 404)
        # while pending, the installation says so, and filing is refused
        self.assertEqual(self.pending_version("A.apogee"), "6.40.10")
        self.assertEqual(self.pending_version("A.apogee", VALIDATOR), "6.40.10")
        self.assertEqual(installation("A.apogee")[0], "6.40.00")
        c = connect("dadm_app")
        try:
            cur = c.cursor()
            begin(cur, tok("af"))
            cur.execute("SELECT dadm.installation_pending_version(%s)", (W["A.apogee"],))
            self.assertEqual(cur.fetchone()[0], "6.40.10")
            begin(cur, tok("bf"))  # another establishment learns nothing
            cur.execute("SELECT dadm.installation_pending_version(%s)", (W["A.apogee"],))
            self.assertIsNone(cur.fetchone()[0])
        finally:
            c.rollback()
            c.close()
        # amendment with new files replaces the old ones
        cr2 = self.created(submit("at", "A", {"chapter": "version", "product": "apogee",
                                              "values": {"version": "6.40.10"},
                                              "files": [ver("a.ver", b"1"), ver("b.ver", b"2")]}),
                           200)
        self.assertEqual([f["name"] for f in cr2["files"]], ["a.ver", "b.ver"])
        self.assertEqual(approve(VALIDATOR, cr["id"]).status, 200)
        self.assertEqual(installation("A.apogee")[0], "6.40.10")
        self.assertIsNone(self.pending_version("A.apogee"))
        # restore for the other tests of this class
        owner("UPDATE dadm.installation SET version_id = (SELECT v.id FROM dadm.version v"
              " JOIN dadm.product p ON p.id = v.product_id WHERE p.code = 'apogee'"
              " AND v.label = '6.40.00') WHERE id = %s", (W["A.apogee"],), fetch=False)

    def test_unknown_version(self):
        self.problem(submit("sf", "A", {"chapter": "version", "product": "sifac",
                                        "values": {"version": "V9.9"}}),
                     422, "« version » : la version « V9.9 » n'est pas connue pour Sifac",
                     "V4.2, V5.0")
        self.problem(submit("sf", "A", {"chapter": "version", "product": "sifac",
                                        "values": {"version": "bad label!"}}),
                     422, "le numéro de version n'est pas valide")
        self.problem(submit("sf", "A", {"chapter": "version", "product": "sifac",
                                        "values": {"version": None}}),
                     422, "« version » : ce champ est obligatoire")
        self.problem(submit("sf", "A", {"chapter": "version", "product": "sifac",
                                        "values": {"version": "V4.2"}}),
                     422, "Aucune valeur proposée")

    def test_file_limits(self):
        base = {"chapter": "version", "product": "sifac", "values": {"version": "V5.0"}}
        cases = [
            ([ver(f"f{i}.ver", b"x") for i in range(6)], 413, "5 au plus"),
            ([ver("big.ver", b"x" * (256 * 1024 + 1))], 413, "« big.ver » trop volumineux"),
            ([ver("notes.txt", b"x")], 422, "« .ver »"),
            ([ver("../x.ver", b"x")], 422, "Fichier « ../x.ver »"),
            ([ver("empty.ver", b"")], 422, "le fichier est vide"),
            ([{"name": "bad.ver", "content_base64": "***"}], 422, "base64 invalide"),
            ([{"name": "bad.ver", "content_base64": "aGVsbG8"}], 422, "base64 invalide"),
            ([{"name": "a.ver"}], 422, "content_base64"),
            ([ver("a.ver", b"1"), ver("a.ver", b"2")], 422, "même nom"),
            ("a.ver", 422, "liste de fichiers"),
        ]
        for files, status, fragment in cases:
            with self.subTest(fragment=fragment):
                self.problem(submit("sf", "A", {**base, "files": files}), status, fragment)
        self.problem(submit("sf", "A", {"chapter": "server", "product": "sifac",
                                        "values": {"server_os": "x"},
                                        "files": [ver("a.ver", b"1")]}),
                     422, "chapitre version")
        # the largest accepted file
        cr = self.created(submit("sf", "A", {**base,
                                             "files": [ver("max.ver", b"y" * 256 * 1024)]}))
        self.assertEqual(cr["files"][0]["size"], 256 * 1024)
        self.assertEqual(withdraw("sf", cr["id"]).status, 200)
        self.assertEqual(one("SELECT count(*) FROM dadm.change_request_file"
                             " WHERE change_request_id = %s", (cr["id"],)), 1)

    def test_conflict_refuse_withdraw(self):
        cr = self.created(submit("sf", "A", {"chapter": "version", "product": "sifac",
                                             "values": {"version": "V5.0"}}))
        self.assertEqual(self.pending_version("A.sifac"), "V5.0")
        owner("UPDATE dadm.installation SET version_id = NULL WHERE id = %s", (W["A.sifac"],),
              fetch=False)
        try:
            self.problem(approve(VALIDATOR, cr["id"]), 409, "ont changé")
        finally:
            owner("UPDATE dadm.installation SET version_id = (SELECT v.id FROM dadm.version v"
                  " JOIN dadm.product p ON p.id = v.product_id WHERE p.code = 'sifac'"
                  " AND v.label = 'V4.2') WHERE id = %s", (W["A.sifac"],), fetch=False)
        self.assertEqual(refuse(VALIDATOR, cr["id"], "Fichier .ver manquant.").status, 200)
        self.assertIsNone(self.pending_version("A.sifac"))
        self.assertEqual(installation("A.sifac")[0], "V4.2")
        cr = self.created(submit("sf", "A", {"chapter": "version", "product": "sifac",
                                             "values": {"version": "V5.0"}}))
        self.assertEqual(withdraw("sf", cr["id"]).status, 200)
        self.assertIsNone(self.pending_version("A.sifac"))


def natures(name, product):
    return sorted(r[0] for r in owner(
        'SELECT nature::text FROM dadm."grant" WHERE account_id = %s AND product_id = %s'
        " AND role = 'correspondent'", (W[name], W["products"][product])))


class CorrespondentTest(Base):
    """Additions, removals and updates, and the quota: 2 + 2 per product."""

    def add(self, who, login, nature="fonctionnel", product="sifac", **extra):
        values = {"login": login, "nature": nature, "given_name": "Nouvelle",
                  "family_name": "Personne", "email": f"{login}@univ-test.fr", **extra}
        return submit(who, "A", {"chapter": "correspondent_add", "product": product,
                                 "values": values})

    def remove(self, who, target, nature, product="sifac"):
        return submit(who, "A", {"chapter": "correspondent_remove", "product": product,
                                 "account": login_of(target), "values": {"nature": nature}})

    def test_add_new_person_amend_approve(self):
        new = login_of("nouveau")
        cr = self.created(self.add("at", new, nature="technique", product="apogee"))
        cr2 = self.created(self.add("at", new, nature="technique", product="apogee",
                                    phone="05 00 00 00 00"), 200)
        self.assertEqual((cr2["id"], cr2["proposed"]["phone"]), (cr["id"], "05 00 00 00 00"))
        self.assertIsNone(one("SELECT id FROM dadm.account WHERE login = %s", (new,)))
        self.assertEqual(approve(VALIDATOR, cr["id"]).status, 200)
        row = owner("SELECT a.etab_id, a.given_name, a.phone, a.password_hash IS NULL,"
                    " g.nature::text FROM dadm.account a JOIN dadm.\"grant\" g"
                    " ON g.account_id = a.id WHERE a.login = %s", (new,))
        self.assertEqual(row, [(W["A"], "Nouvelle", "05 00 00 00 00", True, "technique")])
        self.assertEqual(audit_of(cr["id"])[-1][0], "change.approve")
        # the new correspondent now sees its establishment's requests
        self.assertEqual(call("GET", f"/change-requests/{cr['id']}", new).status, 200)
        # removal of the person just added, approved: the grant goes, the account stays
        rm = self.created(submit("at", "A", {"chapter": "correspondent_remove",
                                             "product": "apogee", "account": new,
                                             "values": {"nature": "technique"}}))
        self.assertEqual(rm["replaced"]["natures"], ["technique"])
        self.assertEqual(approve("v2", rm["id"]).status, 200)
        self.assertEqual(one('SELECT count(*) FROM dadm."grant" g JOIN dadm.account a'
                             " ON a.id = g.account_id WHERE a.login = %s", (new,)), 0)
        self.assertEqual(one("SELECT count(*) FROM dadm.account WHERE login = %s", (new,)), 1)
        self.assertIn("Retrait de", mails_to(f"{login_of('at')}@univ-test.fr",
                                             f"Votre demande de modification n° {rm['id']} %")[0][1])

    def test_add_existing_account_keeps_identity(self):
        # "plain" has an account in A and no role
        self.problem(self.add("sf", login_of("plain"), given_name="Quelquun"), 422,
                     "« given_name »", "l'identité d'un compte ne se modifie pas")
        cr = self.created(submit("sf", "A", {"chapter": "correspondent_add", "product": "sifac",
                                             "values": {"login": login_of("plain"),
                                                        "nature": "technique"}}))
        self.assertEqual(cr["replaced"]["account"]["id"], W["plain"])
        self.assertEqual(approve(VALIDATOR, cr["id"]).status, 200)
        try:
            self.assertEqual(natures("plain", "sifac"), ["technique"])
            self.assertEqual(account_field("plain", "given_name"), "Plain")
            # already a technical correspondent of sifac
            self.problem(submit("sf", "A", {"chapter": "correspondent_add", "product": "sifac",
                                            "values": {"login": login_of("plain"),
                                                       "nature": "technique"}}),
                         422, "déjà correspondant")
        finally:
            owner('DELETE FROM dadm."grant" WHERE account_id = %s', (W["plain"],), fetch=False)

    def test_invalid_values(self):
        for values, fragment in [
            ({"login": "Pas Bon", "nature": "fonctionnel"}, "« login » : l'identifiant doit"),
            ({"login": login_of("x1"), "nature": "autre"}, "« nature » : la nature doit être"),
            ({"nature": "technique"}, "« login » : ce champ est obligatoire"),
            ({"login": login_of("x2"), "nature": "technique"},
             "« email » : ce champ est obligatoire pour un nouveau compte"),
            ({"login": login_of("x3"), "nature": "technique", "given_name": "",
              "family_name": "N", "email": "x@univ-test.fr"}, "« given_name » : le nom doit"),
            ({"login": login_of("x4"), "nature": "technique", "given_name": "G",
              "family_name": "N", "email": "x@univ-test.fr", "phone": "phone"},
             "« phone » : le numéro de téléphone"),
        ]:
            with self.subTest(values=values):
                self.problem(submit("at", "A", {"chapter": "correspondent_add",
                                                "product": "sifac", "values": values}),
                             422, fragment)
        self.problem(self.remove("at", "plain", "technique"), 422,
                     "n'est pas correspondant de ce produit")
        self.problem(self.remove("at", "sf", "technique"), 422, "avec cette nature")
        self.problem(submit("at", "A", {"chapter": "correspondent_remove", "product": "sifac",
                                        "values": {"nature": "technique"}}), 422, "« account »")
        self.problem(submit("at", "A", {"chapter": "correspondent_remove", "product": "sifac",
                                        "account": login_of("sf"), "values": {}}), 422,
                     "« nature » : ce champ est obligatoire")
        self.problem(submit("at", "A", {"chapter": "profile", "account": login_of("sf"),
                                        "values": {"phone": "01 00 00 00 00"}}), 422,
                     "« account »")

    def test_roles(self):
        # the functional correspondent of apogee has nothing to say about sifac's
        self.problem(self.add("af", login_of("r1")), 403, "correspondants de ce produit")
        self.problem(self.add("plain", login_of("r1")), 404)
        self.problem(self.add(VALIDATOR, login_of("r1")), 403)
        # the establishment's administrator may name correspondents
        cr = self.created(self.add("adm", login_of("r1"), nature="technique"))
        self.assertEqual(withdraw("adm", cr["id"]).status, 200)

    def test_quota_on_submission_and_on_approval(self):
        # sifac fonctionnel in A: "sf" and "both" already: the quota is reached
        self.problem(self.add("sf", login_of("q1")), 409, "Quota atteint", "au plus 2")
        # a pending removal frees a place on submission ...
        rm = self.created(self.remove("sf", "both", "fonctionnel"))
        add = self.created(self.add("sf", login_of("q1")))
        # ... but not a second one
        self.problem(self.add("sf", login_of("q2")), 409, "Quota atteint")
        # approval counts the correspondents of the moment: the removal first
        self.problem(approve(VALIDATOR, add["id"]), 409, "Quota atteint", "Approuvez d'abord")
        self.assertEqual(approve(VALIDATOR, rm["id"]).status, 200)
        self.assertEqual(approve(VALIDATOR, add["id"]).status, 200)
        self.assertEqual(one('SELECT count(*) FROM dadm."grant" WHERE etab_id = %s'
                             " AND product_id = %s AND nature = 'fonctionnel'",
                             (W["A"], W["products"]["sifac"])), 2)
        # restore: "both" back, q1 out
        owner('DELETE FROM dadm."grant" g USING dadm.account a WHERE a.id = g.account_id'
              " AND a.login = %s", (login_of("q1"),), fetch=False)
        owner('INSERT INTO dadm."grant" (account_id, role, nature, product_id, etab_id)'
              " VALUES (%s, 'correspondent', 'fonctionnel', %s, %s)",
              (W["both"], W["products"]["sifac"], W["A"]), fetch=False)

    def test_login_of_another_establishment(self):
        # the submitter cannot see accounts of B; the validator finds the clash
        cr = self.created(self.add("at", login_of("bf"), nature="technique", product="apogee"))
        self.problem(approve(VALIDATOR, cr["id"]), 409, "déjà celui d'un autre compte")
        self.assertEqual(natures("bf", "apogee"), ["fonctionnel"])
        self.assertEqual(refuse(VALIDATOR, cr["id"], "Identifiant déjà pris.").status, 200)

    def test_update_contact_data(self):
        cr = self.created(submit("af", "A", {"chapter": "correspondent_update",
                                             "product": "apogee", "account": login_of("at"),
                                             "values": {"phone": "03 22 22 22 22"}}))
        self.assertEqual(cr["account"], login_of("at"))
        old = account_field("at", "phone")
        cr2 = self.created(submit("adm", "A", {"chapter": "correspondent_update",
                                               "product": "apogee", "account": login_of("at"),
                                               "values": {"phone": "03 33 33 33 33"}}), 200)
        self.assertEqual(cr2["id"], cr["id"])
        self.assertEqual(account_field("at", "phone"), old)
        self.assertEqual(approve(VALIDATOR, cr["id"]).status, 200)
        self.assertEqual(account_field("at", "phone"), "03 33 33 33 33")
        self.problem(submit("af", "A", {"chapter": "correspondent_update", "product": "apogee",
                                        "account": login_of("at"),
                                        "values": {"family_name": "Autre"}}),
                     422, "identité", "retrait", "ajout")
        self.problem(submit("af", "A", {"chapter": "correspondent_update", "product": "apogee",
                                        "account": login_of("af"),
                                        "values": {"phone": "01 00 00 00 00"}}),
                     422, "chapitre profile")
        self.problem(submit("af", "A", {"chapter": "correspondent_update", "product": "apogee",
                                        "account": login_of("sf"),
                                        "values": {"phone": "01 00 00 00 00"}}),
                     422, "n'est pas correspondant de ce produit")
        self.problem(submit("af", "A", {"chapter": "correspondent_update", "product": "apogee",
                                        "account": login_of("at"),
                                        "values": {"email": "pas une adresse"}}),
                     422, "« email » : l'adresse électronique")
        # conflict, refusal, withdrawal
        cr = self.created(submit("af", "A", {"chapter": "correspondent_update",
                                             "product": "apogee", "account": login_of("at"),
                                             "values": {"phone": "03 44 44 44 44"}}))
        owner("UPDATE dadm.account SET email = 'ailleurs@univ-test.fr' WHERE id = %s",
              (W["at"],), fetch=False)
        try:
            self.problem(approve(VALIDATOR, cr["id"]), 409, "ont changé")
        finally:
            owner("UPDATE dadm.account SET email = %s WHERE id = %s",
                  (f"{login_of('at')}@univ-test.fr", W["at"]), fetch=False)
        self.problem(refuse(VALIDATOR, cr["id"], ""), 422, "motif")
        self.assertEqual(refuse(VALIDATOR, cr["id"], "Numéro erroné.").status, 200)
        cr = self.created(submit("af", "A", {"chapter": "correspondent_update",
                                             "product": "apogee", "account": login_of("at"),
                                             "values": {"phone": "03 55 55 55 55"}}))
        self.assertEqual(withdraw("af", cr["id"]).status, 200)

    def test_add_remove_conflict_refuse_withdraw(self):
        cr = self.created(self.remove("at", "sf", "fonctionnel"))
        owner('DELETE FROM dadm."grant" WHERE account_id = %s AND product_id = %s',
              (W["sf"], W["products"]["sifac"]), fetch=False)
        try:
            self.problem(approve(VALIDATOR, cr["id"]), 409, "ont changé")
        finally:
            owner('INSERT INTO dadm."grant" (account_id, role, nature, product_id, etab_id)'
                  " VALUES (%s, 'correspondent', 'fonctionnel', %s, %s)",
                  (W["sf"], W["products"]["sifac"], W["A"]), fetch=False)
        self.assertEqual(refuse(VALIDATOR, cr["id"], "Garder ce correspondant.").status, 200)
        self.assertEqual(natures("sf", "sifac"), ["fonctionnel"])
        cr = self.created(self.remove("at", "sf", "fonctionnel"))
        self.assertEqual(withdraw("at", cr["id"]).status, 200)
        cr = self.created(self.add("at", login_of("w1"), nature="technique"))
        self.assertEqual(withdraw("at", cr["id"]).status, 200)
        cr = self.created(self.add("at", login_of("w2"), nature="technique"))
        self.problem(refuse(VALIDATOR, cr["id"]), 422, "motif")
        self.assertEqual(refuse(VALIDATOR, cr["id"], "Inconnu de nos services.").status, 200)
        self.assertIsNone(one("SELECT id FROM dadm.account WHERE login = %s", (login_of("w2"),)))


class DecisionRolesTest(Base):
    def test_only_validators_decide(self):
        cr = self.created(submit("bf", "B", {"chapter": "profile",
                                             "values": {"phone": "05 12 12 12 12"}}))
        try:
            self.problem(approve("karim.fontaine", cr["id"]), 403, "Seuls les validateurs")
            self.problem(refuse("karim.fontaine", cr["id"], "non"), 403, "Seuls les validateurs")
            self.assertEqual(call("GET", f"/change-requests/{cr['id']}", "karim.fontaine").status,
                             200)
            self.problem(approve("bf", cr["id"]), 403, "Seuls les validateurs")
            self.problem(approve("hugo.bernard", cr["id"]), 404)  # a consultant
            self.assertEqual(approve(None, cr["id"]).status, 401)
        finally:
            self.assertEqual(withdraw("bf", cr["id"]).status, 200)

    def test_no_decision_on_own_request(self):
        cr = self.created(submit("both", "A", {"chapter": "profile",
                                               "values": {"phone": "03 77 77 77 77"}}))
        self.problem(approve("both", cr["id"]), 403, "que vous avez soumise")
        self.problem(refuse("both", cr["id"], "non"), 403, "que vous avez soumise")
        # nor through the database alone
        c = connect("dadm_app")
        try:
            cur = c.cursor()
            begin(cur, tok("both"))
            with self.assertRaises(psycopg2.errors.CheckViolation):
                cur.execute("UPDATE dadm.change_request SET status = 'approved',"
                            " decider_id = %s, decided_at = now() WHERE id = %s",
                            (W["both"], cr["id"]))
        finally:
            c.rollback()
            c.close()
        self.assertEqual(approve(VALIDATOR, cr["id"]).status, 200)


class ListTest(Base):
    def test_filters_and_pagination(self):
        made = [self.created(submit("bf", "B", {"chapter": "etab",
                                                "values": {"website": "https://b.fr"}}))]
        made.append(self.created(submit("bf", "B", {"chapter": "server", "product": "apogee",
                                                     "values": {"server_os": "Debian 12"}})))
        made.append(self.created(submit("bf", "B", {"chapter": "profile",
                                                    "values": {"phone": "05 01 01 01 01"}})))
        try:
            r = call("GET", f"/change-requests?etab={W['B']}&status=pending", VALIDATOR)
            self.assertEqual(r.status, 200)
            body = r.json()
            self.assertEqual(body["total"], 3)
            self.assertEqual([i["id"] for i in body["items"]],
                             sorted((m["id"] for m in made), reverse=True))
            r = call("GET", f"/change-requests?etab={W['B']}&status=pending&limit=2&offset=2",
                     VALIDATOR).json()
            self.assertEqual((r["total"], r["limit"], r["offset"], len(r["items"])), (3, 2, 2, 1))
            r = call("GET", f"/change-requests?etab={W['B']}&chapter=server", VALIDATOR).json()
            self.assertEqual([i["id"] for i in r["items"]], [made[1]["id"]])
            r = call("GET", f"/etabs/{W['B']}/change-requests?status=pending", "bf").json()
            self.assertEqual(r["total"], 3)
            r = call("GET", "/change-requests?status=pending", "bf").json()
            self.assertEqual({i["etab_id"] for i in r["items"]}, {W["B"]})
            self.problem(call("GET", "/change-requests?chapter=x", VALIDATOR), 422, "chapter")
            self.problem(call("GET", "/change-requests?status=x", VALIDATOR), 422, "status")
            self.problem(call("GET", "/change-requests?etab=x", VALIDATOR), 422, "etab")
            self.problem(call("GET", "/change-requests?limit=0", VALIDATOR), 422, "limit")
            self.problem(call("GET", "/change-requests", "hugo.bernard"), 403)
            self.assertEqual(call("GET", "/change-requests").status, 401)
            self.assertEqual(call("GET", "/change-requests", "karim.fontaine").status, 200)
        finally:
            for m in made:
                self.assertEqual(withdraw("bf", m["id"]).status, 200)


def begin(cur, token):
    h = hashlib.sha256(token.encode()).hexdigest()
    cur.execute("SELECT account_id FROM dadm.begin_request(decode(%s, 'hex'))", (h,))
    return cur.fetchone()


class CrossTenantTest(Base):
    """A correspondent of B neither sees nor acts on A's requests."""

    @classmethod
    def setUpClass(cls):
        r = submit("af", "A", {"chapter": "server", "product": "apogee",
                               "values": {"server_db": "PostgreSQL 16"}})
        assert r.status in (200, 201), r.body
        cls.cr = r.json()
        r = submit("at", "A", {"chapter": "version", "product": "sifac",
                               "values": {"version": "V5.0"}, "files": [ver("s.ver", b"w")]})
        assert r.status in (200, 201), r.body
        cls.ver = r.json()
        r = submit("bf", "B", {"chapter": "etab", "values": {"website": "https://b.test"}})
        assert r.status in (200, 201), r.body
        cls.b = r.json()

    @classmethod
    def tearDownClass(cls):
        withdraw(cls.cr["submitter"].split(".", 1)[1], cls.cr["id"])
        withdraw("at", cls.ver["id"])
        withdraw("bf", cls.b["id"])

    def test_api(self):
        cr = self.cr["id"]
        for name in ("bf", "hugo.bernard", "louis.garnier", "plain"):
            with self.subTest(name=name):
                self.problem(call("GET", f"/change-requests/{cr}", name), 404, "introuvable")
                self.problem(call("GET", f"/etabs/{W['A']}/change-requests", name), 404)
                self.problem(withdraw(name, cr), 404)
                self.problem(approve(name, cr), 404)
                self.problem(refuse(name, cr, "x"), 404)
                self.problem(submit(name, "A", {"chapter": "etab",
                                                "values": {"website": "https://x.fr"}}), 404,
                             "Établissement introuvable")
                r = call("GET", f"/change-requests/{self.ver['id']}/files/"
                         f"{self.ver['files'][0]['id']}", name)
                self.assertEqual(r.status, 404)
        r = call("GET", "/change-requests?limit=200", "bf").json()
        self.assertNotIn(cr, [i["id"] for i in r["items"]])
        r = call("GET", f"/change-requests?etab={W['A']}", "bf").json()
        self.assertEqual(r["total"], 0)
        # and within A, everyone with a role there sees it
        for name in ("af", "at", "sf", "adm", VALIDATOR, "v2"):
            with self.subTest(name=name):
                self.assertEqual(call("GET", f"/change-requests/{cr}", name).status, 200)

    def test_database_role_alone(self):
        c = connect("dadm_app")
        cur = c.cursor()
        try:
            self.assertIsNone(begin(cur, "not-a-token"))
            cur.execute("SELECT count(*) FROM dadm.change_request")
            self.assertEqual(cur.fetchone()[0], 0)
            self.assertIsNotNone(begin(cur, tok("bf")))
            for table in ("change_request", "change_request_file"):
                cur.execute(f"SELECT count(*) FROM dadm.{table} WHERE etab_id = %s", (W["A"],))
                self.assertEqual(cur.fetchone()[0], 0, table)
            cur.execute("UPDATE dadm.change_request SET status = 'withdrawn',"
                        " decided_at = now() WHERE id = %s", (self.cr["id"],))
            self.assertEqual(cur.rowcount, 0)
            cur.execute("DELETE FROM dadm.change_request_file WHERE change_request_id = %s",
                        (self.ver["id"],))
            self.assertEqual(cur.rowcount, 0)
            statements = [
                # submitting for A under B's principal
                ("INSERT INTO dadm.change_request (etab_id, chapter, target_key, proposed,"
                 " replaced, submitter_id, first_submitter_id) VALUES (%s, 'etab', 'etab',"
                 " '{}', '{}', %s, %s)", (W["A"], W["bf"], W["bf"])),
                ("SELECT dadm.change_snapshot('etab', %s, NULL, NULL, NULL, NULL)", (W["A"],)),
                ("SELECT * FROM dadm.correspondent_counts(%s, %s, 'fonctionnel', NULL)",
                 (W["A"], W["products"]["apogee"])),
                # deciding is for validators
                ("UPDATE dadm.change_request SET status = 'approved' WHERE etab_id = %s",
                 (W["B"],)),
                ("UPDATE dadm.installation SET server_os = 'x' WHERE id = %s", (W["B.apogee"],)),
                ('INSERT INTO dadm."grant" (account_id, role, nature, product_id, etab_id)'
                 " VALUES (%s, 'correspondent', 'technique', %s, %s)",
                 (W["bf"], W["products"]["apogee"], W["B"])),
            ]
            for sql, args in statements:
                with self.subTest(sql=sql):
                    cur.execute("SAVEPOINT s")
                    with self.assertRaises(psycopg2.errors.InsufficientPrivilege):
                        cur.execute(sql, args)
                    cur.execute("ROLLBACK TO SAVEPOINT s")
            # a correspondent of A may not forge a request outside its scope either
            begin(cur, tok("af"))
            for sql, args in [
                ("INSERT INTO dadm.change_request (etab_id, chapter, target_key, product_id,"
                 " installation_id, proposed, replaced, submitter_id, first_submitter_id)"
                 " VALUES (%s, 'server', 'x', %s, %s, '{}', '{}', %s, %s)",
                 (W["A"], W["products"]["sifac"], W["A.sifac"], W["af"], W["af"])),
                ("INSERT INTO dadm.change_request (etab_id, chapter, target_key, account_id,"
                 " proposed, replaced, submitter_id, first_submitter_id)"
                 " VALUES (%s, 'profile', 'y', %s, '{}', '{}', %s, %s)",
                 (W["A"], W["at"], W["af"], W["af"])),
                ("UPDATE dadm.change_request SET status = 'approved', decider_id = %s,"
                 " decided_at = now() WHERE id = %s", (W["at"], self.cr["id"])),
                ("UPDATE dadm.account SET phone = '01 01 01 01 01' WHERE id = %s", (W["af"],)),
            ]:
                with self.subTest(sql=sql):
                    cur.execute("SAVEPOINT s")
                    with self.assertRaises(psycopg2.errors.InsufficientPrivilege):
                        cur.execute(sql, args)
                        if cur.rowcount == 0:  # a filtered UPDATE is a refusal too
                            raise psycopg2.errors.InsufficientPrivilege()
                    cur.execute("ROLLBACK TO SAVEPOINT s")
            cur.execute("SELECT count(*) FROM dadm.change_request WHERE id = %s",
                        (self.cr["id"],))
            self.assertEqual(cur.fetchone()[0], 1)
            # the validator sees every establishment's
            begin(cur, tok(VALIDATOR))
            cur.execute("SELECT count(*) FROM dadm.change_request WHERE etab_id IN (%s, %s)",
                        (W["A"], W["B"]))
            self.assertGreaterEqual(cur.fetchone()[0], 2)
        finally:
            c.rollback()
            c.close()


class RaceTest(Base):
    """Two validators approve the same request at the same moment, each on
    its own connection: exactly one wins, the other is told, and the change
    is applied once."""

    def race(self, crs, hold_sql, hold_args):
        """Approves each (validator, request) from its own thread, HTTP
        connection and daemon worker (hence database connection). A row
        lock held meanwhile by a third transaction (hold_sql) stops every
        approval where it would first collide, so all are in flight at the
        same moment; then the lock is released and they proceed together."""
        results = [None] * len(crs)

        def run(i, validator, cr):
            results[i] = approve(validator, cr)

        def waiting():
            with connect("dadm_owner") as c, c.cursor() as cur:
                cur.execute("SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted")
                n = cur.fetchone()[0]
            c.close()
            return n

        holder = connect("dadm_owner")
        threads = []
        try:
            holder.cursor().execute(hold_sql, hold_args)
            for i, (v, cr) in enumerate(crs):
                t = threading.Thread(target=run, args=(i, v, cr))
                t.start()
                threads.append(t)
                # the next connection goes to another worker once this one waits
                deadline = time.time() + 10
                while waiting() < i + 1 and time.time() < deadline:
                    time.sleep(0.02)
            self.assertEqual(waiting(), len(crs), "the approvals are not all in flight")
        finally:
            holder.rollback()
            holder.close()
            for t in threads:
                t.join()
        return results

    def test_same_request(self):
        for round_ in range(4):
            with self.subTest(round=round_):
                login = login_of(f"race{round_}")
                cr = self.created(submit("at", "A", {
                    "chapter": "correspondent_add", "product": "apogee",
                    "values": {"login": login, "nature": "fonctionnel", "given_name": "R",
                               "family_name": "Ace", "email": f"{login}@univ-test.fr"}}))
                try:
                    # both wait on the request's row, locked by a third transaction
                    results = self.race([(VALIDATOR, cr["id"]), ("v2", cr["id"])],
                                        "SELECT 1 FROM dadm.change_request WHERE id = %s"
                                        " FOR UPDATE", (cr["id"],))
                    self.assertEqual(sorted(r.status for r in results), [200, 409],
                                     [r.body for r in results])
                    loser = next(r for r in results if r.status == 409)
                    self.assertIn("déjà été approuvée", loser.json()["detail"])
                    self.assertEqual(one("SELECT count(*) FROM dadm.account WHERE login = %s",
                                         (login,)), 1)
                    self.assertEqual(one('SELECT count(*) FROM dadm."grant" g'
                                         " JOIN dadm.account a ON a.id = g.account_id"
                                         " WHERE a.login = %s", (login,)), 1)
                    self.assertEqual([a for a, _ in audit_of(cr["id"])].count("change.approve"),
                                     1)
                    self.assertEqual(len(mails_to(
                        f"{login_of('at')}@univ-test.fr",
                        f"Votre demande de modification n° {cr['id']} %")), 1)
                finally:
                    owner('DELETE FROM dadm."grant" g USING dadm.account a'
                          " WHERE a.id = g.account_id AND a.login = %s", (login,), fetch=False)
                    withdraw("at", cr["id"])

    def test_quota_under_concurrent_approvals(self):
        # apogee fonctionnel in A: "af" holds one of the two places. A pending
        # removal of "af" lets two additions be submitted; once it is
        # withdrawn, approving both at the same moment may fill only the one
        # free place.
        rm = self.created(submit("at", "A", {"chapter": "correspondent_remove",
                                             "product": "apogee", "account": login_of("af"),
                                             "values": {"nature": "fonctionnel"}}))
        logins = [login_of("qa"), login_of("qb")]
        crs = [self.created(submit("at", "A", {
            "chapter": "correspondent_add", "product": "apogee",
            "values": {"login": login, "nature": "fonctionnel", "given_name": "Q",
                       "family_name": "Uota", "email": f"{login}@univ-test.fr"}}))
            for login in logins]
        self.assertEqual(withdraw("at", rm["id"]).status, 200)
        try:
            # the establishment's row, locked by a third transaction, holds
            # both approvals at their first write (the new account's key
            # check), after the quota check: without the lock per
            # establishment and product, both would pass it
            results = self.race([(VALIDATOR, crs[0]["id"]), ("v2", crs[1]["id"])],
                                "SELECT 1 FROM dadm.etab WHERE id = %s FOR UPDATE", (W["A"],))
            self.assertEqual(sorted(r.status for r in results), [200, 409],
                             [r.body for r in results])
            self.assertIn("Quota atteint",
                          next(r for r in results if r.status == 409).json()["detail"])
            self.assertEqual(one('SELECT count(*) FROM dadm."grant" WHERE etab_id = %s'
                                 " AND product_id = %s AND nature = 'fonctionnel'",
                                 (W["A"], W["products"]["apogee"])), 2)
        finally:
            owner('DELETE FROM dadm."grant" g USING dadm.account a WHERE a.id = g.account_id'
                  " AND a.login = ANY(%s)", (logins,), fetch=False)
            for cr in crs:
                withdraw("at", cr["id"])

if __name__ == "__main__":
    unittest.main()
