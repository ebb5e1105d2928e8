#!/usr/bin/python3
"""forge.py - an independent SAML 2.0 IdP that forges responses for negative tests.

Builds a SAMLResponse for the SP described by --sp-metadata (the assertion
content comes from python3-lasso acting as an IdP), applies the chosen
--case, signs with xmlsec1 (Debian package "xmlsec1") and prints the value of
the HTTP-POST form field SAMLResponse (base64, one line) on stdout.

  forge.py --sp-metadata F --idp-key K --idp-cert C --idp-entity-id E \
           --case CASE [--in-response-to ID] [--eppn X] [--supann UAI]
           [--assertion-id ID] [options]

--list-cases prints every case with the verdict a correct SP must reach.
Needs Debian's /usr/bin/python3 (python3-lasso, python3-lxml) and xmlsec1.
"""

import argparse
import base64
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time

import lasso
from lxml import etree

NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS = {"samlp": NS_SAMLP, "saml": NS_SAML, "ds": NS_DS, "md": NS_MD}
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

OID_EPPN = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
OID_MAIL = "urn:oid:0.9.2342.19200300.100.1.3"
OID_DISPLAY_NAME = "urn:oid:2.16.840.1.113730.3.1.241"
OID_SUPANN_ETAB = "urn:oid:1.3.6.1.4.1.7135.1.2.1.14"
KNOWN_UAIS = ("0673021V", "0860856N")

ALGS = {
    "sha256": ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
               "http://www.w3.org/2001/04/xmlenc#sha256"),
    "sha1": ("http://www.w3.org/2000/09/xmldsig#rsa-sha1",
             "http://www.w3.org/2000/09/xmldsig#sha1"),
}
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

# case -> (what it does, verdict of a correct SP: accept / reject)
CASES = {
    "valid": ("response and assertion signed, everything right", "accept"),
    "response-signed-only": ("only the Response is signed (common IdP setting)", "accept"),
    "assertion-signed-only": ("only the Assertion is signed (common IdP setting)", "accept"),
    "unsigned": ("no signature at all", "reject"),
    "wrong-key": ("signed with a key that is not the IdP's", "reject"),
    "tampered": ("eduPersonPrincipalName changed after signing", "reject"),
    "sha1": ("signed with RSA-SHA1 / SHA1 digests (weak; policy decision)", "accept"),
    "wrong-destination": ("Response Destination is another URL", "reject"),
    "no-destination": ("signed Response without Destination", "reject"),
    "wrong-recipient": ("SubjectConfirmationData Recipient is another URL", "reject"),
    "wrong-audience": ("Audience is another SP", "reject"),
    "no-audience": ("no AudienceRestriction", "reject"),
    "foreign-audiences": ("one AudienceRestriction listing two other SPs (lasso drops such a "
                          "restriction while parsing)", "reject"),
    "expired": ("NotOnOrAfter (Conditions and SubjectConfirmationData) in the past", "reject"),
    "not-yet-valid": ("Conditions NotBefore in the future", "reject"),
    "unsolicited": ("no InResponseTo (IdP-initiated)", "reject"),
    "replay": ("assertion ID given by --assertion-id (already consumed)", "reject"),
    "other-uai": ("supannEtablissement names the other establishment", "reject"),
    "no-eppn": ("no eduPersonPrincipalName released", "reject"),
    "two-assertions": ("two assertions, both validly signed (second for --evil-eppn)", "reject"),
    "xsw-before": ("unsigned assertion for --evil-eppn inserted before the signed one, "
                   "Response signature removed", "reject"),
    "xsw-after": ("unsigned assertion for --evil-eppn inserted after the signed one, "
                  "Response signature removed", "reject"),
    "xsw-wrap": ("forged assertion takes the signed one's ID and signature, the signed one "
                 "hidden inside its ds:Object, Response signature removed", "reject"),
    "other-issuer": ("Issuer is another IdP (signed with --other-idp-key if given)", "reject"),
    "comment": ("comment injected inside the signed eduPersonPrincipalName and NameID; "
                "signature still valid, the SP must read the full value", "accept"),
    "status-denied": ("status Responder/AuthnFailed, no assertion", "reject"),
}


def die(msg):
    sys.stderr.write("forge.py: %s\n" % msg)
    sys.exit(2)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def pem_body(pem):
    lines = [l.strip() for l in pem.splitlines()]
    try:
        start = lines.index("-----BEGIN CERTIFICATE-----")
        end = lines.index("-----END CERTIFICATE-----")
    except ValueError:
        die("not a PEM certificate")
    return "".join(lines[start + 1:end])


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        die(str(e))


def sp_info(md_xml):
    root = etree.fromstring(md_xml.encode())
    if root.tag != "{%s}EntityDescriptor" % NS_MD:
        ed = root.find(".//md:EntityDescriptor[md:SPSSODescriptor]", NS)
        if ed is None:
            die("no SP EntityDescriptor in the SP metadata")
        root = ed
    entity_id = root.get("entityID")
    acs = None
    for e in root.findall("md:SPSSODescriptor/md:AssertionConsumerService", NS):
        if e.get("Binding") == BINDING_POST and (acs is None or e.get("isDefault") == "true"):
            acs = e.get("Location")
    if not entity_id or not acs:
        die("SP metadata without entityID or HTTP-POST AssertionConsumerService")
    return entity_id, acs, etree.tostring(root).decode()


def idp_metadata(entity_id, cert_pem):
    return (
        '<md:EntityDescriptor xmlns:md="%s" xmlns:ds="%s" entityID="%s">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="%s">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s'
        '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="http://idp.invalid/sso"/>'
        '</md:IDPSSODescriptor></md:EntityDescriptor>'
    ) % (NS_MD, NS_DS, entity_id, NS_SAMLP, pem_body(cert_pem))


def text_value(s):
    v = lasso.Saml2AttributeValue()
    t = lasso.MiscTextNode.newWithString(s)
    t.textChild = True
    v.any = [t]
    return v


def attribute(name, values):
    a = lasso.Saml2Attribute()
    a.name = name
    a.nameFormat = lasso.SAML2_ATTRIBUTE_NAME_FORMAT_URI
    a.attributeValue = [text_value(v) for v in values]
    return a


def build_with_lasso(idp_entity_id, key_pem, cert_pem, sp_md, sp_entity_id, attrs, now, lifetime):
    """The IdP side of an SSO, done by lasso: returns the Response XML (bytes)."""
    server = lasso.Server.newFromBuffers(idp_metadata(idp_entity_id, cert_pem), key_pem, None, cert_pem)
    if server is None:
        die("lasso refused the IdP key/certificate")
    server.signatureMethod = lasso.SIGNATURE_METHOD_RSA_SHA256
    server.addProviderFromBuffer(lasso.PROVIDER_ROLE_SP, sp_md)
    login = lasso.Login(server)
    login.initIdpInitiatedAuthnRequest(sp_entity_id)
    login.request.nameIdPolicy.format = lasso.SAML2_NAME_IDENTIFIER_FORMAT_TRANSIENT
    login.request.nameIdPolicy.allowCreate = True
    login.request.protocolBinding = lasso.SAML2_METADATA_BINDING_POST
    login.processAuthnRequestMsg(None)
    login.validateRequestMsg(True, True)
    login.buildAssertion(lasso.SAML2_AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT,
                         iso(now), None, iso(now), iso(now + lifetime))
    stmt = lasso.Saml2AttributeStatement()
    stmt.attribute = [attribute(n, v) for n, v in attrs]
    login.assertion.attributeStatement = [stmt]
    login.buildAuthnResponseMsg()
    return base64.b64decode(login.msgBody)


def q(tag):
    """'saml:Audience' -> '{urn:oasis:names:tc:SAML:2.0:assertion}Audience'"""
    prefix, local = tag.split(":")
    return "{%s}%s" % (NS[prefix], local)


def strip_signatures(el):
    for s in el.findall(".//ds:Signature", NS):
        s.getparent().remove(s)


def assertions(root):
    return root.findall("saml:Assertion", NS)


def set_attr_values(assertion, oid, values):
    stmt = assertion.find("saml:AttributeStatement", NS)
    for a in stmt.findall("saml:Attribute", NS):
        if a.get("Name") == oid:
            stmt.remove(a)
    if values is None:
        return
    a = etree.SubElement(stmt, q("saml:Attribute"), Name=oid,
                         NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
    for v in values:
        etree.SubElement(a, q("saml:AttributeValue")).text = v


def eppn_value_element(assertion):
    for a in assertion.findall("saml:AttributeStatement/saml:Attribute", NS):
        if a.get("Name") == OID_EPPN:
            return a.find("saml:AttributeValue", NS)
    return None


def set_times(root, issue, not_before, not_on_or_after):
    root.set("IssueInstant", iso(issue))
    for a in assertions(root):
        a.set("IssueInstant", iso(issue))
        c = a.find("saml:Conditions", NS)
        c.set("NotBefore", iso(not_before))
        c.set("NotOnOrAfter", iso(not_on_or_after))
        scd = a.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
        scd.set("NotOnOrAfter", iso(not_on_or_after))
        for st in a.findall("saml:AuthnStatement", NS):
            st.set("AuthnInstant", iso(issue))
            st.set("SessionNotOnOrAfter", iso(issue + 8 * 3600))


def set_issuer(el, entity_id):
    for i in el.iter(q("saml:Issuer")):
        i.text = entity_id
    for n in el.iter(q("saml:NameID")):
        if n.get("NameQualifier"):
            n.set("NameQualifier", entity_id)


def new_id():
    return "_" + os.urandom(20).hex()


def signature_template(ref_id, alg):
    sig_alg, digest_alg = ALGS[alg]
    s = etree.Element(q("ds:Signature"), nsmap={"ds": NS_DS})
    si = etree.SubElement(s, q("ds:SignedInfo"))
    etree.SubElement(si, q("ds:CanonicalizationMethod"), Algorithm=EXC_C14N)
    etree.SubElement(si, q("ds:SignatureMethod"), Algorithm=sig_alg)
    ref = etree.SubElement(si, q("ds:Reference"), URI="#" + ref_id)
    tr = etree.SubElement(ref, q("ds:Transforms"))
    etree.SubElement(tr, q("ds:Transform"), Algorithm=ENVELOPED)
    etree.SubElement(tr, q("ds:Transform"), Algorithm=EXC_C14N)
    etree.SubElement(ref, q("ds:DigestMethod"), Algorithm=digest_alg)
    etree.SubElement(ref, q("ds:DigestValue"))
    etree.SubElement(s, q("ds:SignatureValue"))
    ki = etree.SubElement(s, q("ds:KeyInfo"))
    etree.SubElement(ki, q("ds:X509Data"))
    return s


def sign_element(root, el, key_file, cert_file, alg, workdir):
    """Sign el (Response or Assertion, a node of root's tree) in place with xmlsec1;
    returns the new root (the document is re-parsed)."""
    issuer = el.find("saml:Issuer", NS)
    issuer.addnext(signature_template(el.get("ID"), alg))
    src = os.path.join(workdir, "unsigned.xml")
    dst = os.path.join(workdir, "signed.xml")
    with open(src, "wb") as f:
        f.write(etree.tostring(root))
    cmd = ["xmlsec1", "--sign", "--privkey-pem", "%s,%s" % (key_file, cert_file),
           "--id-attr:ID", "%s:Response" % NS_SAMLP,
           "--id-attr:ID", "%s:Assertion" % NS_SAML,
           "--node-id", el.get("ID"), "--output", dst, src]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        die("xmlsec1 failed: %s" % r.stderr.strip())
    return etree.parse(dst, etree.XMLParser(remove_blank_text=False)).getroot()


def find_by_id(root, id_):
    for e in root.iter():
        if e.get("ID") == id_:
            return e
    return None


def make_keypair(workdir):
    key = os.path.join(workdir, "other.key")
    crt = os.path.join(workdir, "other.crt")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes",
                        "-days", "2", "-subj", "/CN=not-the-idp", "-keyout", key, "-out", crt],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        die("openssl failed: %s" % r.stderr.strip())
    return key, crt


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Forge a SAMLResponse (base64, HTTP-POST form value) for negative tests.")
    p.add_argument("--sp-metadata", help="SP metadata XML file (entityID, HTTP-POST ACS)")
    p.add_argument("--idp-key", help="IdP private key (PEM)")
    p.add_argument("--idp-cert", help="IdP certificate (PEM)")
    p.add_argument("--idp-entity-id", help="IdP entityID (Issuer)")
    p.add_argument("--case", default="valid", help="see --list-cases (default: valid)")
    p.add_argument("--list-cases", action="store_true", help="list the cases and exit")
    p.add_argument("--in-response-to", help="InResponseTo of Response and SubjectConfirmationData "
                   "(absent if not given, and always absent for case unsolicited)")
    p.add_argument("--eppn", default="alice@univ-a.test", help="eduPersonPrincipalName")
    p.add_argument("--evil-eppn", help="eppn of injected assertions (default: root@<eppn domain>)")
    p.add_argument("--mail", help="mail (default: derived from --eppn)")
    p.add_argument("--display-name", default="Alice Martin", help="displayName")
    p.add_argument("--supann", default=KNOWN_UAIS[0],
                   help="UAI released as supannEtablissement {UAI}... (default 0673021V); "
                   "'none' releases no supannEtablissement")
    p.add_argument("--other-uai", help="UAI for case other-uai (default: the other test UAI)")
    p.add_argument("--assertion-id", help="assertion ID to use (required by case replay)")
    p.add_argument("--response-id", help="Response ID to use")
    p.add_argument("--name-id", help="NameID value (default: random transient)")
    p.add_argument("--acs-url", help="override the ACS URL taken from the SP metadata")
    p.add_argument("--wrong-url", default="http://sp.invalid/saml/acs",
                   help="URL used by wrong-destination / wrong-recipient")
    p.add_argument("--wrong-audience", default="http://sp.invalid/saml/metadata",
                   help="Audience used by wrong-audience")
    p.add_argument("--lifetime", type=int, default=300, help="validity in seconds (default 300)")
    p.add_argument("--time-offset", type=int, default=0,
                   help="shift every timestamp by this many seconds")
    p.add_argument("--sign", choices=("both", "response", "assertion", "none"),
                   help="what to sign (default: set by the case, 'both' for most)")
    p.add_argument("--sig-alg", choices=sorted(ALGS), help="signature/digest algorithm (default sha256)")
    p.add_argument("--other-key", help="key for wrong-key (default: generated)")
    p.add_argument("--other-cert", help="certificate for wrong-key (default: generated)")
    p.add_argument("--other-idp-entity-id", default="https://idp.univ-b.test/idp/shibboleth",
                   help="Issuer for other-issuer")
    p.add_argument("--other-idp-key", help="key other-issuer signs with (default: --idp-key)")
    p.add_argument("--other-idp-cert", help="certificate matching --other-idp-key")
    p.add_argument("--comment-at", type=int,
                   help="position of the injected comment in the eppn (case comment; default: middle)")
    p.add_argument("--xml", action="store_true", help="print the XML instead of base64")
    p.add_argument("--out", help="write to this file instead of stdout")
    a = p.parse_args(argv)

    if a.list_cases:
        for name, (what, verdict) in CASES.items():
            print("%-22s %-7s %s" % (name, verdict, what))
        return 0
    for opt in ("sp_metadata", "idp_key", "idp_cert", "idp_entity_id"):
        if not getattr(a, opt):
            die("--%s is required" % opt.replace("_", "-"))
    case = a.case
    if case not in CASES:
        die("unknown case %r (see --list-cases)" % case)
    if case == "replay" and not a.assertion_id:
        die("case replay needs --assertion-id")
    if shutil.which("xmlsec1") is None:
        die("xmlsec1 not found (apt-get install xmlsec1)")

    sp_entity_id, acs_url, sp_md = sp_info(read(a.sp_metadata))
    acs_url = a.acs_url or acs_url
    key_file, cert_file = a.idp_key, a.idp_cert
    key_pem, cert_pem = read(key_file), read(cert_file)
    idp_entity_id = a.idp_entity_id
    eppn = a.eppn
    domain = eppn.split("@", 1)[1] if "@" in eppn else "univ-a.test"
    evil_eppn = a.evil_eppn or "root@" + domain
    mail = a.mail or eppn.split("@")[0] + "@" + domain
    supann = None if a.supann == "none" else a.supann
    if case == "other-uai":
        other = a.other_uai or (KNOWN_UAIS[1] if supann != KNOWN_UAIS[1] else KNOWN_UAIS[0])
        supann = other
    now = int(time.time()) + a.time_offset
    sign = a.sign or {"unsigned": "none", "response-signed-only": "response",
                      "assertion-signed-only": "assertion"}.get(case, "both")
    alg = a.sig_alg or ("sha1" if case == "sha1" else "sha256")

    def attrs_for(e):
        out = []
        if not (case == "no-eppn" and e == eppn):
            out.append((OID_EPPN, [e]))
        out.append((OID_MAIL, [mail]))
        out.append((OID_DISPLAY_NAME, [a.display_name]))
        if supann:
            out.append((OID_SUPANN_ETAB, ["{UAI}" + supann]))
        return out

    workdir = tempfile.mkdtemp(prefix="forge-")
    try:
        xml = build_with_lasso(idp_entity_id, key_pem, cert_pem, sp_md, sp_entity_id,
                               attrs_for(eppn), now, a.lifetime)
        root = etree.fromstring(xml)
        strip_signatures(root)
        root.set("Destination", acs_url)
        asrt = assertions(root)[0]
        scd = asrt.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
        scd.set("Recipient", acs_url)
        if a.response_id:
            root.set("ID", a.response_id)
        if a.assertion_id:
            asrt.set("ID", a.assertion_id)
            for st in asrt.findall("saml:AuthnStatement", NS):
                st.set("SessionIndex", a.assertion_id)
        if a.name_id:
            asrt.find("saml:Subject/saml:NameID", NS).text = a.name_id
        set_times(root, now, now, now + a.lifetime)
        irt = None if case == "unsolicited" else a.in_response_to
        for el in (root, scd):
            if irt:
                el.set("InResponseTo", irt)
            elif "InResponseTo" in el.attrib:
                del el.attrib["InResponseTo"]

        # -- content cases (before signing) --
        if case == "wrong-destination":
            root.set("Destination", a.wrong_url)
        elif case == "no-destination":
            del root.attrib["Destination"]
        elif case == "wrong-recipient":
            scd.set("Recipient", a.wrong_url)
        elif case == "wrong-audience":
            for au in asrt.iter(q("saml:Audience")):
                au.text = a.wrong_audience
        elif case == "no-audience":
            for ar in asrt.findall("saml:Conditions/saml:AudienceRestriction", NS):
                ar.getparent().remove(ar)
        elif case == "foreign-audiences":
            for ar in asrt.findall("saml:Conditions/saml:AudienceRestriction", NS):
                for au in ar.findall("saml:Audience", NS):
                    ar.remove(au)
                etree.SubElement(ar, q("saml:Audience")).text = a.wrong_audience
                etree.SubElement(ar, q("saml:Audience")).text = a.wrong_audience + "/2"
        elif case == "expired":
            set_times(root, now - 3600, now - 3600, now - 1800)
        elif case == "not-yet-valid":
            set_times(root, now, now + 1800, now + 3600)
        elif case == "other-issuer":
            idp_entity_id = a.other_idp_entity_id
            set_issuer(root, idp_entity_id)
            if a.other_idp_key:
                if not a.other_idp_cert:
                    die("--other-idp-key needs --other-idp-cert")
                key_file, cert_file = a.other_idp_key, a.other_idp_cert
        elif case == "status-denied":
            root.remove(asrt)
            status = root.find("samlp:Status", NS)
            for c in list(status):
                status.remove(c)
            sc = etree.SubElement(status, q("samlp:StatusCode"),
                                  Value="urn:oasis:names:tc:SAML:2.0:status:Responder")
            etree.SubElement(sc, q("samlp:StatusCode"),
                             Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed")
        elif case == "two-assertions":
            second = copy.deepcopy(asrt)
            second.set("ID", new_id())
            eppn_value_element(second).text = evil_eppn
            asrt.addnext(second)
        if case == "wrong-key":
            if a.other_key and a.other_cert:
                key_file, cert_file = a.other_key, a.other_cert
            else:
                key_file, cert_file = make_keypair(workdir)

        # -- signing --
        if sign in ("both", "assertion"):
            for asrt_id in [x.get("ID") for x in assertions(root)]:
                root = sign_element(root, find_by_id(root, asrt_id), key_file, cert_file, alg, workdir)
        if sign in ("both", "response"):
            root = sign_element(root, root, key_file, cert_file, alg, workdir)

        # -- cases applied to the signed document --
        if case == "tampered":
            eppn_value_element(assertions(root)[0]).text = evil_eppn
        elif case in ("xsw-before", "xsw-after", "xsw-wrap"):
            rsig = root.find("ds:Signature", NS)
            if rsig is not None:
                root.remove(rsig)
            signed = assertions(root)[0]
            evil = copy.deepcopy(signed)
            eppn_value_element(evil).text = evil_eppn
            if case == "xsw-wrap":
                # The forged assertion keeps the original ID and signature; the
                # genuine signed assertion moves into that signature's ds:Object.
                root.replace(signed, evil)
                obj = etree.SubElement(evil.find("ds:Signature", NS), q("ds:Object"))
                obj.append(signed)
            else:
                strip_signatures(evil)
                evil.set("ID", new_id())
                if case == "xsw-before":
                    signed.addprevious(evil)
                else:
                    signed.addnext(evil)
        elif case == "comment":
            val = eppn_value_element(assertions(root)[0])
            at = a.comment_at if a.comment_at is not None else len(val.text) // 2
            text = val.text
            val.text = text[:at]
            c = etree.Comment("")
            c.tail = text[at:]
            val.append(c)
            nid = assertions(root)[0].find("saml:Subject/saml:NameID", NS)
            t = nid.text
            nid.text = t[:len(t) // 2]
            c2 = etree.Comment("")
            c2.tail = t[len(t) // 2:]
            nid.append(c2)

        out = etree.tostring(root)
        etree.fromstring(out)  # well-formed
        data = out.decode() if a.xml else base64.b64encode(out).decode()
        if a.out:
            with open(a.out, "w") as f:
                f.write(data + "\n")
        else:
            sys.stdout.write(data + "\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
