"""The first API, for every role that may call it and every role that may
not — another establishment's correspondent above all."""

import unittest

from harness import Daemon, connect, ids, session, NANTES, POITIERS, STRASBOURG

d = None


def setUpModule():
    global d
    d = Daemon().start()


def tearDownModule():
    assert d.stop() == 0


class Tokens:
    cache = {}

    @classmethod
    def of(cls, login):
        if login not in cls.cache:
            cls.cache[login] = session(login)
        return cls.cache[login]


def get(path, login=None):
    return d.get(path, token=Tokens.of(login) if login else None)


class ProductsTest(unittest.TestCase):
    def test_public_list(self):
        r = get("/api/v1/products")
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual(body["total"], len(ids()[1]))
        codes = [p["code"] for p in body["items"]]
        self.assertIn("sifac", codes)
        self.assertEqual(codes, sorted(codes))
        sifac = next(p for p in body["items"] if p["code"] == "sifac")
        self.assertEqual(sifac["reader_login"], "sifacread")
        self.assertNotIn("reader_hash", sifac)
        self.assertIn({"code": "recettes", "name": "Recettes", "nature": "fonctionnel"},
                      sifac["domains"])
        self.assertEqual(sifac["versions"][0]["label"], "V5.0")  # newest first
        evrp = next(p for p in body["items"] if p["code"] == "evrp")
        self.assertTrue(evrp["current_only"])

    def test_pagination(self):
        body = get("/api/v1/products?limit=2&offset=2").json()
        self.assertEqual((body["total"], body["limit"], body["offset"]), (len(ids()[1]), 2, 2))
        self.assertEqual(len(body["items"]), 2)
        all_codes = [p["code"] for p in get("/api/v1/products").json()["items"]]
        self.assertEqual([p["code"] for p in body["items"]], all_codes[2:4])

    def test_same_for_everyone(self):
        self.assertEqual(get("/api/v1/products", "denis.roux").json(),
                         get("/api/v1/products").json())


class MeTest(unittest.TestCase):
    def test_anonymous(self):
        r = get("/api/v1/me")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["type"], "/problems/unauthenticated")

    def test_correspondent(self):
        etabs, products = ids()
        me = get("/api/v1/me", "alice.martin").json()
        self.assertEqual(me["login"], "alice.martin")
        self.assertEqual(me["level"], 2)
        self.assertEqual(me["etab_id"], etabs[STRASBOURG])
        self.assertFalse(me["agency"])
        self.assertEqual(me["grants"], [{"role": "correspondent", "nature": "fonctionnel",
                                         "product_id": products["apogee"],
                                         "etab_id": etabs[STRASBOURG]}])

    def test_agency(self):
        me = get("/api/v1/me", "julie.moreau").json()
        self.assertTrue(me["agency"])
        self.assertIsNone(me["etab_id"])
        self.assertEqual(me["grants"], [{"role": "validator"}])

    def test_cookie_equals_bearer(self):
        t = Tokens.of("denis.roux")
        self.assertEqual(d.get("/api/v1/me", cookie=t).json()["login"], "denis.roux")

    def test_bad_tokens(self):
        for bad in ("x", "A" * 43, "A" * 44, Tokens.of("denis.roux")[:-1] + "!", ""):
            with self.subTest(token=bad):
                self.assertEqual(d.get("/api/v1/me", token=bad).status, 401)

    def test_expired_and_disabled(self):
        t = session("emma.girard")
        self.assertEqual(d.get("/api/v1/me", token=t).status, 200)
        with connect("dadm_owner") as c, c.cursor() as cur:
            cur.execute("UPDATE dadm.session SET expires_at = now() - interval '1 second'"
                        " WHERE account_id = (SELECT id FROM dadm.account"
                        "  WHERE login = 'emma.girard')")
        c.close()
        self.assertEqual(d.get("/api/v1/me", token=t).status, 401)
        t = session("fanny.leroy")
        with connect("dadm_owner") as c, c.cursor() as cur:
            cur.execute("UPDATE dadm.account SET status = 'disabled' WHERE login = 'fanny.leroy'")
        c.close()
        try:
            self.assertEqual(d.get("/api/v1/me", token=t).status, 401)
            self.assertEqual(d.get("/api/v1/etabs", token=t).status, 401)
        finally:
            with connect("dadm_owner") as c, c.cursor() as cur:
                cur.execute("UPDATE dadm.account SET status = 'active'"
                            " WHERE login = 'fanny.leroy'")
            c.close()

    def test_idle_timeout(self):
        t = session("bruno.keller")
        with connect("dadm_owner") as c, c.cursor() as cur:
            cur.execute("UPDATE dadm.session SET last_seen_at = now() - idle_timeout"
                        " - interval '1 second' WHERE account_id = (SELECT id FROM dadm.account"
                        " WHERE login = 'bruno.keller') AND ended_at IS NULL")
        c.close()
        self.assertEqual(d.get("/api/v1/me", token=t).status, 401)


class EtabsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.etabs, cls.products = ids()

    def uais(self, login):
        r = get("/api/v1/etabs", login)
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(body["total"], len(body["items"]))
        return sorted(e["uai"] for e in body["items"])

    def test_list_by_role(self):
        everyone = sorted(self.etabs)
        cases = {
            "alice.martin": [STRASBOURG],      # correspondent A
            "bruno.keller": [STRASBOURG],
            "chloe.weber": [STRASBOURG],       # administrator of A
            "denis.roux": [POITIERS],          # correspondent B
            "fanny.leroy": [NANTES],
            "hugo.bernard": everyone,          # consultant
            "julie.moreau": everyone,          # validator
            "karim.fontaine": everyone,        # administrator of the agency
            "louis.garnier": [],               # contractor
        }
        for login, expected in cases.items():
            with self.subTest(login=login):
                self.assertEqual(self.uais(login), expected)

    def test_list_anonymous(self):
        self.assertEqual(get("/api/v1/etabs").status, 401)

    def test_get_one(self):
        a = self.etabs[STRASBOURG]
        r = get(f"/api/v1/etabs/{a}", "alice.martin")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["uai"], STRASBOURG)
        self.assertEqual(r.json()["generic_email"], "espace-dadm@unistra.fr")
        for login in ("denis.roux", "fanny.leroy", "louis.garnier"):
            with self.subTest(login=login):
                r = get(f"/api/v1/etabs/{a}", login)
                self.assertEqual(r.status, 404)
                self.assertEqual(r.json()["detail"], "Établissement introuvable.")
        self.assertEqual(get(f"/api/v1/etabs/{a}").status, 401)
        self.assertEqual(get(f"/api/v1/etabs/{a}", "hugo.bernard").status, 200)

    def test_get_bad_ids(self):
        for path in ("/api/v1/etabs/abc", "/api/v1/etabs/-1", "/api/v1/etabs/0",
                     "/api/v1/etabs/99999999", "/api/v1/etabs/99999999999999999999999"):
            with self.subTest(path=path):
                self.assertEqual(get(path, "karim.fontaine").status, 404)

    def products_of(self, uai, login):
        r = get(f"/api/v1/etabs/{self.etabs[uai]}/installations", login)
        if r.status != 200:
            return r.status
        return sorted(i["product"] for i in r.json()["items"])

    def test_installations_by_role(self):
        cases = [
            (STRASBOURG, "alice.martin", ["apogee"]),            # only its product
            (STRASBOURG, "bruno.keller", ["apogee", "sifac"]),
            (STRASBOURG, "chloe.weber", ["apogee", "sifac", "siham"]),
            (STRASBOURG, "hugo.bernard", ["apogee", "sifac", "siham"]),
            (STRASBOURG, "denis.roux", 404),                     # another establishment
            (STRASBOURG, "emma.girard", 404),
            (STRASBOURG, "louis.garnier", 404),
            (STRASBOURG, None, 401),
            (POITIERS, "denis.roux", ["apogee"]),
            (POITIERS, "alice.martin", 404),
            (POITIERS, "chloe.weber", 404),                      # admin of another one
        ]
        for uai, login, expected in cases:
            with self.subTest(uai=uai, login=login):
                self.assertEqual(self.products_of(uai, login), expected)

    def test_installation_content(self):
        items = get(f"/api/v1/etabs/{self.etabs[POITIERS]}/installations",
                    "julie.moreau").json()["items"]
        sifac = next(i for i in items if i["product"] == "sifac")
        self.assertEqual(sifac["mode"], "teleservice")
        self.assertEqual(sifac["version"], "V4.2")


if __name__ == "__main__":
    unittest.main()
