#!/usr/bin/python3
"""Self-test of the SAML test infrastructure (run by selftest.sh).

  selftest.py --sp-key K --sp-cert C ENV_A ENV_B

ENV_A / ENV_B: the env files written by "idp.sh start" for IdP a and IdP b.
Part 1 drives the real SimpleSAMLphp IdPs like a browser; part 2 checks every
forge.py case against the lasso-based SP of samlsp.py.  Prints one line per
check and "N passed, N failed" at the end; exit status 1 if any failed.
"""

import argparse
import base64
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import traceback
import urllib.parse

from lxml import etree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import browser  # noqa: E402
import forge  # noqa: E402
import samlsp  # noqa: E402

RESULTS = {"passed": 0, "failed": 0}


def check(ok, what, detail=""):
    if ok:
        RESULTS["passed"] += 1
        print("ok - %s%s" % (what, (" (%s)" % detail) if detail else ""))
    else:
        RESULTS["failed"] += 1
        print("not ok - %s%s" % (what, (": %s" % detail) if detail else ""))
    sys.stdout.flush()
    return ok


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            parts = shlex.split(v)
            env[k] = parts[0] if parts else ""
    return env


class IdP:
    def __init__(self, env):
        self.env = env
        self.entity_id = env["IDP_ENTITY_ID"]
        self.uai = env["IDP_UAI"]
        self.sp_acs = env["IDP_SP_ACS_URL"]
        self.sp_slo = env["IDP_SP_SLO_URL"]

    def user(self, role):
        r = role.upper()
        return self.env["IDP_USER_" + r], self.env["IDP_PASSWORD_" + r], self.env["IDP_EPPN_" + r]


def login_flow(sp, idp, b, username, password, relay_state="/espace"):
    """AuthnRequest -> IdP login form -> credentials -> SAMLResponse.
    Returns (request_id, form fields posted to the ACS, or None, last page)."""
    url, rid = sp.authn_request(idp.entity_id, relay_state=relay_state)
    r = b.go(url)
    if r.status != 200:
        raise AssertionError("IdP answered %d to the AuthnRequest: %s" % (r.status, r.body[:300]))
    forms = browser.parse_forms(r.body, r.url)
    acs = [f for f in forms if f.action == idp.sp_acs]
    if not acs:  # the login form (no IdP session yet)
        login = [f for f in forms if "username" in f.fields and "password" in f.fields]
        if not login:
            raise AssertionError("no login form at %s" % r.url)
        f = login[0]
        f.fields["username"] = username
        f.fields["password"] = password
        r = b.go(f.action, f.fields)
        forms = browser.parse_forms(r.body, r.url)
        acs = [f for f in forms if f.action == idp.sp_acs]
    if not acs:
        return rid, None, r
    return rid, acs[0].fields, r


def part_idp(sp, other_key_sp, idp, other_idp):
    name = idp.env["IDP_NAME"]
    tag = "IdP %s" % name

    # metadata
    md = etree.parse(idp.env["IDP_METADATA_FILE"]).getroot()
    check(md.get("entityID") == idp.entity_id, "%s: metadata file names %s" % (tag, idp.entity_id))
    idpsso = md.find("{urn:oasis:names:tc:SAML:2.0:metadata}IDPSSODescriptor")
    check(idpsso is not None and idpsso.get("WantAuthnRequestsSigned") == "true",
          "%s: metadata has WantAuthnRequestsSigned=true" % tag)

    # nominal user, full browser flow
    b = browser.Browser()
    user, pw, eppn = idp.user("ok")
    rid, fields, page = login_flow(sp, idp, b, user, pw)
    if not check(fields is not None, "%s: %s logs in through the form, SAMLResponse posted to the ACS" % (tag, user),
                 "" if fields else page.body[:300]):
        return
    check(fields.get("RelayState") == "/espace", "%s: RelayState returned" % tag)
    xml = base64.b64decode(fields["SAMLResponse"])
    doc = etree.fromstring(xml)
    ns = {"ds": "http://www.w3.org/2000/09/xmldsig#", "saml": samlp_ns("saml")}
    check(doc.find("ds:Signature", ns) is not None and doc.find("saml:Assertion/ds:Signature", ns) is not None,
          "%s: Response and Assertion are both signed" % tag)
    names = {(a.get("Name"), a.get("NameFormat")) for a in doc.iter("{%s}Attribute" % samlp_ns("saml"))}
    uri = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
    check(names == {(samlsp.OID_EPPN, uri), (samlsp.OID_MAIL, uri), (samlsp.OID_DISPLAY_NAME, uri),
                    (samlsp.OID_SUPANN_ETAB, uri)},
          "%s: attributes released under their OIDs with NameFormat uri" % tag)
    try:
        res = sp.process_response(fields["SAMLResponse"], expected_idp=idp.entity_id,
                                  expected_request_id=rid, expected_uai=idp.uai)
        check(res["eppn"] == eppn, "%s: lasso SP accepts the response, eppn %s" % (tag, res["eppn"]))
        print("#   attributes: %s" % res["attributes"])
        print("#   NameID %s (%s), assertion %s, InResponseTo %s"
              % (res["name_id"], res["name_id_format"], res["assertion_id"], res["in_response_to"]))
    except samlsp.Rejected as e:
        check(False, "%s: lasso SP accepts the response" % tag, str(e))
        return

    # the same response again
    try:
        sp.process_response(fields["SAMLResponse"], expected_idp=idp.entity_id,
                            expected_request_id=rid, expected_uai=idp.uai)
        check(False, "%s: replayed response refused" % tag)
    except samlsp.Rejected as e:
        check("replayed" in e.reason, "%s: replayed response refused" % tag, str(e))

    # response of this IdP presented for a request sent to the other IdP
    try:
        sp.process_response(fields["SAMLResponse"], expected_idp=other_idp.entity_id,
                            expected_request_id=rid, record=False)
        check(False, "%s: response refused when the request went to the other IdP" % tag)
    except samlsp.Rejected as e:
        check(e.stage == "sp", "%s: response refused when the request went to the other IdP" % tag, str(e))

    # IdP session: a second request in the same browser needs no password
    rid2, fields2, _ = login_flow(sp, idp, b, "", "")
    ok = fields2 is not None
    if ok:
        try:
            sp.process_response(fields2["SAMLResponse"], expected_idp=idp.entity_id,
                                expected_request_id=rid2, expected_uai=idp.uai)
        except samlsp.Rejected:
            ok = False
    check(ok, "%s: second login reuses the IdP session (cookies over plain HTTP)" % tag)

    # SP-initiated logout (signed LogoutRequest, HTTP-Redirect both ways)
    url, lrid, ldump = sp.logout_request(res["session_dump"])
    r = b.go(url, stop=lambda u: u.startswith(idp.sp_slo))
    loc = r.location or ""
    if check(loc.startswith(idp.sp_slo) and "SAMLResponse=" in loc,
             "%s: SP-initiated logout answered at the SP's SLO URL" % tag, loc[:100] or r.body[:200]):
        try:
            status = sp.process_logout_response(samlsp.query_of(loc), ldump, lrid)
            check(status == "urn:oasis:names:tc:SAML:2.0:status:Success",
                  "%s: signed LogoutResponse verified, status Success" % tag, status)
        except samlsp.Rejected as e:
            check(False, "%s: signed LogoutResponse verified" % tag, str(e))
    rid3, fields3, page3 = login_flow(sp, idp, b, "", "")
    check(fields3 is None and "password" in page3.body,
          "%s: after logout the IdP asks for the password again" % tag)

    # IdP-initiated logout
    b = browser.Browser()
    rid, fields, _ = login_flow(sp, idp, b, user, pw)
    res = sp.process_response(fields["SAMLResponse"], expected_idp=idp.entity_id,
                              expected_request_id=rid, expected_uai=idp.uai)
    return_to = idp.env["IDP_URL"] + "/logout.php?done"
    r = b.go(idp.env["IDP_INIT_SLO_URL"] + urllib.parse.quote(return_to, safe=""),
             stop=lambda u: u.startswith(idp.sp_slo))
    loc = r.location or ""
    if check(loc.startswith(idp.sp_slo) and "SAMLRequest=" in loc,
             "%s: IdP-initiated logout sends a LogoutRequest to the SP's SLO URL" % tag,
             loc[:100] or r.body[:200]):
        try:
            resp_url, name_id = sp.process_logout_request(samlsp.query_of(loc), res["session_dump"])
            check(name_id == res["name_id"], "%s: signed LogoutRequest verified, NameID matches the session" % tag)
            r = b.go(resp_url, stop=lambda u: u.startswith(return_to))
            check((r.location or "").startswith(return_to),
                  "%s: IdP accepts the SP's signed LogoutResponse and returns to ReturnTo" % tag,
                  (r.location or r.body[:200]))
        except samlsp.Rejected as e:
            check(False, "%s: IdP-initiated logout" % tag, str(e))

    # the other test users
    for role, expect in (("ok2", None), ("no_supann", None),
                         ("other_uai", "supannEtablissement"), ("no_eppn", "eduPersonPrincipalName")):
        b = browser.Browser()
        u, p, e = idp.user(role)
        rid, fields, page = login_flow(sp, idp, b, u, p)
        if not check(fields is not None, "%s: %s (%s) gets a SAMLResponse" % (tag, u, role)):
            continue
        try:
            res = sp.process_response(fields["SAMLResponse"], expected_idp=idp.entity_id,
                                      expected_request_id=rid, expected_uai=idp.uai)
            check(expect is None and res["eppn"] == e,
                  "%s: %s accepted" % (tag, u), "%s %s" % (res["eppn"], res["attributes"].get("displayName")))
        except samlsp.Rejected as ex:
            check(expect is not None and expect in ex.reason and ex.stage == "sp",
                  "%s: %s refused by the SP checks (%s)" % (tag, u, role), str(ex))

    # wrong password: the form again, no response
    b = browser.Browser()
    rid, fields, page = login_flow(sp, idp, b, user, pw + "x")
    check(fields is None and "password" in page.body, "%s: wrong password gives the form again" % tag)

    # unsigned AuthnRequest: refused by the IdP (validate.authnrequest)
    b = browser.Browser()
    url, _ = sp.authn_request(idp.entity_id)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    bare = url.split("?")[0] + "?" + urllib.parse.urlencode({"SAMLRequest": q["SAMLRequest"][0]})
    r = b.go(bare)
    check("no signature found" in r.body and "SAMLResponse" not in r.body,
          "%s: unsigned AuthnRequest refused by the IdP" % tag)

    # AuthnRequest signed with a key the IdP does not know: refused too
    b = browser.Browser()
    url, _ = other_key_sp.authn_request(idp.entity_id)
    r = b.go(url)
    check("Unable to validate" in r.body and "SAMLResponse" not in r.body,
          "%s: AuthnRequest signed with an unknown key refused by the IdP" % tag)


def samlp_ns(p):
    return {"saml": "urn:oasis:names:tc:SAML:2.0:assertion",
            "samlp": "urn:oasis:names:tc:SAML:2.0:protocol"}[p]


def part_forge(sp, idp_a, idp_b, sp_metadata):
    ea = idp_a.env
    base = ["--sp-metadata", sp_metadata, "--idp-key", ea["IDP_KEY_FILE"], "--idp-cert", ea["IDP_CERT_FILE"],
            "--idp-entity-id", idp_a.entity_id]
    eppn = ea["IDP_EPPN_OK"]
    rid = "_forge_request_0001"
    consumed = "_forge_consumed_assertion"

    def forge_run(case, *extra):
        cmd = [sys.executable, os.path.join(HERE, "forge.py")] + base + [
            "--case", case, "--in-response-to", rid, "--eppn", eppn, "--supann", idp_a.uai] + list(extra)
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError("forge.py %s failed: %s" % (case, r.stderr.strip()))
        return r.stdout.strip()

    # prime the replay cache with a consumed assertion ID
    first = forge_run("valid", "--assertion-id", consumed)
    try:
        sp.process_response(first, expected_idp=idp_a.entity_id, expected_request_id=rid,
                            expected_uai=idp_a.uai)
        check(True, "forge valid (assertion %s) accepted" % consumed)
    except samlsp.Rejected as e:
        check(False, "forge valid accepted", str(e))

    print("# %-22s %-7s %-46s %s" % ("case", "verdict", "lasso alone", "lasso + SP checks"))
    signature_cases = {"unsigned", "wrong-key", "tampered", "xsw-before", "xsw-after", "xsw-wrap"}
    comment_eppn = eppn + ".evil.example"
    for case, (what, verdict) in forge.CASES.items():
        extra = []
        if case == "replay":
            extra = ["--assertion-id", consumed]
        if case == "other-issuer":
            extra = ["--other-idp-entity-id", idp_b.entity_id,
                     "--other-idp-key", idp_b.env["IDP_KEY_FILE"], "--other-idp-cert", idp_b.env["IDP_CERT_FILE"]]
        if case == "comment":
            extra = ["--eppn", comment_eppn, "--comment-at", str(len(eppn))]
        try:
            b64 = forge_run(case, *extra)
            xml = base64.b64decode(b64, validate=True)
            etree.fromstring(xml)
        except Exception as e:  # noqa: BLE001
            check(False, "forge %s produces well-formed XML" % case, str(e))
            continue
        lasso_says = sp.lasso_only(b64)
        try:
            res = sp.process_response(b64, expected_idp=idp_a.entity_id, expected_request_id=rid,
                                      expected_uai=idp_a.uai, record=False)
            full = "accept eppn=%s" % res["eppn"]
            got = "accept"
        except samlsp.Rejected as e:
            full = "reject [%s] %s" % (e.stage, e.reason)
            got = "reject"
            res = None
        print("# %-22s %-7s %-46s %s" % (case, verdict, (lasso_says or "accept")[:46], full))
        ok = got == verdict
        if case == "comment" and res is not None:
            ok = ok and res["eppn"] == comment_eppn
        if case in signature_cases:
            ok = ok and lasso_says is not None
        check(ok, "forge %s: well-formed, %s%s" % (case, verdict,
                                                   " (by lasso itself)" if case in signature_cases else ""),
              full)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sp-key", required=True)
    p.add_argument("--sp-cert", required=True)
    p.add_argument("env_a")
    p.add_argument("env_b")
    a = p.parse_args()
    idp_a, idp_b = IdP(load_env(a.env_a)), IdP(load_env(a.env_b))
    sp_metadata = idp_a.env["IDP_SP_METADATA"]
    sp = samlsp.TestSP(sp_metadata, a.sp_key, a.sp_cert,
                       [idp_a.env["IDP_METADATA_FILE"], idp_b.env["IDP_METADATA_FILE"]])
    print("# SP %s, ACS %s" % (sp.entity_id, sp.acs_url))
    # The same SP entity with a key pair the IdPs do not know.
    tmp = tempfile.mkdtemp(prefix="selftest-")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "2",
                        "-subj", "/CN=not-the-sp", "-keyout", tmp + "/k", "-out", tmp + "/c"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        other_key_sp = samlsp.TestSP(sp_metadata, tmp + "/k", tmp + "/c",
                                     [idp_a.env["IDP_METADATA_FILE"], idp_b.env["IDP_METADATA_FILE"]])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for idp, other in ((idp_a, idp_b), (idp_b, idp_a)):
        try:
            part_idp(sp, other_key_sp, idp, other)
        except Exception:  # noqa: BLE001
            check(False, "IdP %s flow" % idp.env["IDP_NAME"], traceback.format_exc())
    try:
        part_forge(sp, idp_a, idp_b, sp_metadata)
    except Exception:  # noqa: BLE001
        check(False, "forge cases", traceback.format_exc())
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
