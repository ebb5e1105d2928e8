"""docs/openapi.yaml against the server: every route of src/routes.c is
described (and nothing else), and live answers match the schemas the
description gives for their status."""

import os
import re
import unittest

import jsonschema
import yaml

from harness import Daemon, SRC, connect, ids, session, POITIERS, STRASBOURG

SPEC_PATH = os.path.join(SRC, "docs", "openapi.yaml")
ROUTES_PATH = os.path.join(SRC, "src", "routes.c")

d = None
spec = None


def setUpModule():
    global d, spec
    with open(SPEC_PATH) as f:
        spec = yaml.safe_load(f)
    d = Daemon().start()


def tearDownModule():
    assert d.stop() == 0


def server_routes():
    with open(ROUTES_PATH) as f:
        text = f.read()
    return {(m, p) for m, p in re.findall(r'\{\{"([A-Z]+)", "([^"]+)"\}', text)}


def documented_routes():
    out = set()
    for path, item in spec["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                out.add((method.upper(), path))
    return out


class DescriptionTest(unittest.TestCase):
    def test_openapi_version(self):
        self.assertTrue(spec["openapi"].startswith("3.1"))

    def test_every_route_described(self):
        self.assertEqual(sorted(server_routes() - documented_routes()), [],
                         "routes of the server missing from docs/openapi.yaml")

    def test_nothing_else_described(self):
        self.assertEqual(sorted(documented_routes() - server_routes()), [],
                         "docs/openapi.yaml describes routes the server does not have")

    def test_every_operation_has_responses(self):
        for path, item in spec["paths"].items():
            for method, op in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    with self.subTest(op=f"{method} {path}"):
                        self.assertTrue(op.get("responses"))
                        self.assertTrue(op.get("summary"))


def schema_for(method, path, status, content_type):
    op = spec["paths"][path][method.lower()]
    resp = op["responses"].get(str(status))
    if resp is None:
        raise AssertionError(f"{method} {path}: status {status} is not described")
    while "$ref" in resp:
        ref = resp["$ref"].lstrip("#/").split("/")
        node = spec
        for part in ref:
            node = node[part]
        resp = node
    media = content_type.split(";")[0].strip()
    content = resp.get("content", {})
    if media not in content:
        raise AssertionError(f"{method} {path} {status}: {media} is not described")
    return content[media].get("schema", {})


def check(testcase, method, path, actual_path=None, login=None, status=None, body=None):
    r = d.request(method, actual_path or path, token=session(login) if login else None,
                  body=body)
    if status is not None:
        testcase.assertEqual(r.status, status, r.body[:300])
    schema = schema_for(method, path, r.status, r.header("Content-Type") or "")
    if (r.header("Content-Type") or "").split(";")[0].endswith("json"):
        resolver = jsonschema.RefResolver.from_schema(spec)
        jsonschema.Draft202012Validator(schema, resolver=resolver).validate(r.json())
    return r


class ConformanceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.etabs, cls.products = ids()

    def test_login_and_submission(self):
        r = check(self, "POST", "/api/v1/sessions",
                  body={"login": "denis.roux", "password": "Dadm#Demo-2026"}, status=201)
        self.assertTrue(r.json()["csrf_token"])
        # A submission that fails validation answers with a described problem.
        b = self.etabs[POITIERS]
        check(self, "POST", "/api/v1/etabs/{id}/change-requests",
              f"/api/v1/etabs/{b}/change-requests", "denis.roux", 422,
              body={"chapter": "profile", "values": {"email": "not-an-address"}})

    def test_operations(self):
        a = self.etabs[STRASBOURG]
        b = self.etabs[POITIERS]
        cases = [
            ("GET", "/healthz", None, None, 200),
            ("GET", "/readyz", None, None, 200),
            ("GET", "/api/v1/products", None, None, 200),
            ("GET", "/api/v1/products", "/api/v1/products?limit=0", None, 422),
            ("GET", "/api/v1/me", None, None, 401),
            ("GET", "/api/v1/me", None, "alice.martin", 200),
            ("GET", "/api/v1/etabs", None, "hugo.bernard", 200),
            ("GET", "/api/v1/etabs", None, None, 401),
            ("GET", "/api/v1/etabs/{id}", f"/api/v1/etabs/{a}", "alice.martin", 200),
            ("GET", "/api/v1/etabs/{id}", f"/api/v1/etabs/{b}", "alice.martin", 404),
            ("GET", "/api/v1/etabs/{id}/installations", f"/api/v1/etabs/{a}/installations",
             "chloe.weber", 200),
            ("GET", "/api/v1/etabs/{id}/installations", f"/api/v1/etabs/{b}/installations",
             "chloe.weber", 404),
            ("GET", "/api/v1/etabs/{id}/directory-runs", f"/api/v1/etabs/{a}/directory-runs",
             "karim.fontaine", 200),
            ("GET", "/api/v1/etabs/{id}/directory-runs", f"/api/v1/etabs/{a}/directory-runs",
             "denis.roux", 404),
            ("GET", "/api/v1/change-requests", None, "julie.moreau", 200),
            ("GET", "/api/v1/change-requests", None, None, 401),
            ("GET", "/api/v1/etabs/{id}/change-requests", f"/api/v1/etabs/{a}/change-requests",
             "alice.martin", 200),
            ("GET", "/api/v1/etabs/{id}/change-requests", f"/api/v1/etabs/{b}/change-requests",
             "alice.martin", 404),
            ("GET", "/api/v1/change-requests/{id}", "/api/v1/change-requests/999999999",
             "julie.moreau", 404),
            ("POST", "/api/v1/change-requests/{id}/approve",
             "/api/v1/change-requests/999999999/approve", "julie.moreau", 404),
            ("DELETE", "/api/v1/sessions/current", None, None, 401),
            ("GET", "/login", None, None, 200),
            ("GET", "/saml/metadata", None, None, 404),  # no [saml] keys in this daemon
        ]
        for method, path, actual, login, status in cases:
            with self.subTest(method=method, path=actual or path, login=login):
                check(self, method, path, actual, login, status)

    def test_assistance_requests(self):
        body = {"product": "apogee", "priority": "bloquant", "domain": "technique",
                "version": "6.40.10", "title": "Conformité", "description": "OpenAPI",
                "internal_ref": "REF-1", "message_code": "ORA-1"}
        n = check(self, "POST", "/api/v1/das", None, "bruno.keller", 201, body).json()["number"]
        check(self, "POST", "/api/v1/das", None, "bruno.keller", 422, dict(body, title=""))
        check(self, "POST", "/api/v1/das", None, "hugo.bernard", 403, body)
        check(self, "POST", "/api/v1/das", None, "denis.roux", 422,
              dict(body, version="6.40.00", domain="inscriptions"))
        one = "/api/v1/das/{number}"
        cases = [
            ("GET", "/api/v1/das", None, "alice.martin", 200),
            ("GET", "/api/v1/das", "/api/v1/das?status=NOPE", "alice.martin", 422),
            ("GET", "/api/v1/das", None, None, 401),
            ("GET", one, f"/api/v1/das/{n}", "alice.martin", 200),
            ("GET", one, f"/api/v1/das/{n}", "denis.roux", 404),
            ("GET", one + "/events", f"/api/v1/das/{n}/events", "marc.dubois", 200),
            ("GET", one + "/events", f"/api/v1/das/{n}/events", "alice.martin", 200),
        ]
        for method, path, actual, login, status in cases:
            with self.subTest(method=method, path=actual or path, login=login):
                check(self, method, path, actual, login, status)
        c = connect("dadm_owner")
        with c, c.cursor() as cur:
            cur.execute("SELECT id FROM dadm.contractor WHERE name = 'Prestatech'")
            prestatech = cur.fetchone()[0]
        c.close()
        steps = [
            ("notes", "marc.dubois", {"body": "Interne"}, 200),
            ("complements", "alice.martin", {"body": "Précision"}, 200),
            ("requalification", "marc.dubois", {"priority": "non_bloquant"}, 200),
            ("answers", "alice.martin", {"body": "x"}, 409),
            ("questions", "marc.dubois", {"body": "Question ?"}, 200),
            ("answers", "bruno.keller", {"body": "Réponse"}, 200),
            ("moves", "marc.dubois", {"status": "INT"}, 200),
            ("externalisation", "marc.dubois", {"contractor": prestatech}, 200),
            ("solutions", "louis.garnier", {"body": "Solution"}, 200),
            ("solutions", "marc.dubois", {}, 200),
            ("refusal", "alice.martin", {"motive": "Non"}, 200),
            ("solutions", "marc.dubois", {"body": "Autre solution"}, 200),
            ("validation", "alice.martin", {}, 200),
            ("moves", "marc.dubois", {"status": "INT"}, 409),
        ]
        for action, login, body, status in steps:
            with self.subTest(action=action, login=login):
                check(self, "POST", one + "/" + action, f"/api/v1/das/{n}/{action}", login,
                      status, body)
        check(self, "GET", one + "/events", f"/api/v1/das/{n}/events", "marc.dubois", 200)


class DaFilesConformanceTest(unittest.TestCase):
    """Live answers of the DA attachment and consent routes against their
    schemas (the DAs inserted as the superuser: filing is elsewhere)."""

    def validate(self, method, path, r, status):
        self.assertEqual(r.status, status, r.body[:300])
        schema = schema_for(method, path, r.status, r.header("Content-Type") or "")
        resolver = jsonschema.RefResolver.from_schema(spec)
        jsonschema.Draft202012Validator(schema, resolver=resolver).validate(r.json())
        return r.json()

    def test_attachments_and_consents(self):
        from test_da_files import PNG, multipart, new_da
        apo = new_da(STRASBOURG, "apogee", "alice.martin")
        tele = new_da(POITIERS, "sifac", "emma.girard")
        alice, emma, ines = (session(x) for x in ("alice.martin", "emma.girard", "ines.petit"))
        att = "/api/v1/das/{number}/attachments"
        body, ctype = multipart([("file", "écran.png", "image/png", PNG)])
        r = d.request("POST", f"/api/v1/das/{apo}/attachments", body=body,
                      headers={"Content-Type": ctype}, token=alice)
        a = self.validate("POST", att, r, 201)
        r = d.request("POST", f"/api/v1/das/{apo}/attachments", body=b"x",
                      headers={"Content-Type": "text/plain"}, token=alice)
        self.validate("POST", att, r, 415)
        self.validate("POST", att, d.request("POST", "/api/v1/das/999999999/attachments",
                                             body=body, headers={"Content-Type": ctype},
                                             token=alice), 404)
        lst = self.validate("GET", att, d.get(f"/api/v1/das/{apo}/attachments", token=alice), 200)
        self.assertEqual(lst["items"], [a])
        self.validate("GET", att, d.get(f"/api/v1/das/{apo}/attachments"), 401)
        one = "/api/v1/das/{number}/attachments/{id}"
        r = d.get(f"/api/v1/das/{apo}/attachments/{a['id']}", token=alice)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, PNG)
        self.assertIn("200", spec["paths"][one]["get"]["responses"])
        self.validate("GET", one, d.get(f"/api/v1/das/{apo}/attachments/999999999",
                                        token=alice), 404)

        cons = "/api/v1/das/{number}/consents"
        c = self.validate("POST", cons, d.request("POST", f"/api/v1/das/{tele}/consents",
                                                  {"reason": "Accès en production."},
                                                  token=ines), 201)
        self.validate("POST", cons, d.request("POST", f"/api/v1/das/{tele}/consents",
                                              {"reason": "Encore."}, token=ines), 409)
        self.validate("POST", cons, d.request("POST", f"/api/v1/das/{apo}/consents",
                                              {"reason": "x"}, token=emma), 404)
        grant = "/api/v1/das/{number}/consents/{id}/grant"
        self.validate("POST", grant, d.request("POST", f"/api/v1/das/{tele}/consents/{c['id']}"
                                               "/grant", {"valid_from": "x"}, token=emma), 422)
        self.validate("POST", grant, d.request("POST", f"/api/v1/das/{tele}/consents/{c['id']}"
                                               "/grant", {"valid_from": "2099-01-01T08:00:00Z",
                                                          "valid_until": "2099-01-02T08:00:00Z"},
                                               token=ines), 403)
        g = self.validate("POST", grant,
                          d.request("POST", f"/api/v1/das/{tele}/consents/{c['id']}/grant",
                                    {"valid_from": "2099-01-01T08:00:00Z",
                                     "valid_until": "2099-01-02T08:00:00Z"}, token=emma), 200)
        self.assertEqual((g["status"], g["in_force"]), ("granted", False))
        refuse = "/api/v1/das/{number}/consents/{id}/refuse"
        self.validate("POST", refuse, d.request("POST", f"/api/v1/das/{tele}/consents/{c['id']}"
                                                "/refuse", {"motive": "non"}, token=emma), 409)
        c2 = self.validate("POST", cons, d.request("POST", f"/api/v1/das/{tele}/consents",
                                                   {"reason": "Autre accès."}, token=ines), 201)
        self.validate("POST", refuse, d.request("POST", f"/api/v1/das/{tele}/consents/{c2['id']}"
                                                "/refuse", {"motive": "Pas maintenant."},
                                                token=emma), 200)
        lst = self.validate("GET", cons, d.get(f"/api/v1/das/{tele}/consents", token=emma), 200)
        self.assertEqual([x["status"] for x in lst["items"]], ["granted", "refused"])


if __name__ == "__main__":
    unittest.main()
