"""A small SAML 2.0 service provider built on python3-lasso, for tests.

It plays the part the dadm SP will play in C: it builds signed AuthnRequests
(HTTP-Redirect) and LogoutRequests, and checks a SAMLResponse (HTTP-POST)
in two layers:

  1. what lasso itself checks (lasso_login_process_authn_response_msg):
     XML parsing, the Issuer is a known IdP, the signatures (response and/or
     assertions, verify hint MAYBE: every assertion must be covered by a
     valid signature, an invalid signature anywhere is fatal), status
     Success, same Issuer on every assertion;
  2. what lasso leaves to the SP (checked here, as dadm must do in C):
     the Issuer is the IdP the request went to, Destination, exactly one
     plain Assertion, InResponseTo (or unsolicited allowed), bearer
     SubjectConfirmation with Recipient and NotOnOrAfter, Conditions
     (NotBefore / NotOnOrAfter / AudienceRestriction), assertion-ID replay,
     one eduPersonPrincipalName.

Errors are raised as Rejected(stage, reason) with stage "lasso" or "sp".
Only Debian's /usr/bin/python3 has the lasso module.
"""

import base64
import calendar
import time
import urllib.parse

import lasso

OID_EPPN = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
OID_MAIL = "urn:oid:0.9.2342.19200300.100.1.3"
OID_DISPLAY_NAME = "urn:oid:2.16.840.1.113730.3.1.241"
OID_SUPANN_ETAB = "urn:oid:1.3.6.1.4.1.7135.1.2.1.14"
ATTR_NAMES = {
    OID_EPPN: "eduPersonPrincipalName",
    OID_MAIL: "mail",
    OID_DISPLAY_NAME: "displayName",
    OID_SUPANN_ETAB: "supannEtablissement",
}
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
CLOCK_SKEW = 60  # seconds of tolerance on every time check


class Rejected(Exception):
    def __init__(self, stage, reason):
        super().__init__("%s: %s" % (stage, reason))
        self.stage = stage
        self.reason = reason


def parse_instant(s):
    """xs:dateTime in UTC ('2024-01-02T03:04:05Z', fractions allowed) -> epoch."""
    if not s:
        raise ValueError("empty timestamp")
    if not s.endswith("Z"):
        raise ValueError("timestamp not in UTC: %r" % s)
    base = s[:-1].split(".")[0]
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))


def text_of(value):
    """Text of one saml:AttributeValue (concatenation of its text children)."""
    parts = []
    for node in value.any or ():
        content = getattr(node, "content", None)
        if content is None:
            raise ValueError("AttributeValue with a non-text child")
        parts.append(content)
    return "".join(parts)


class TestSP:
    def __init__(self, sp_metadata, sp_key, sp_cert, idp_metadata_files):
        """sp_metadata, sp_key, sp_cert: file paths (PEM key and cert).
        idp_metadata_files: IdP metadata XML files to trust."""
        with open(sp_metadata) as f:
            md = f.read()
        with open(sp_key) as f:
            key = f.read()
        with open(sp_cert) as f:
            cert = f.read()
        self.server = lasso.Server.newFromBuffers(md, key, None, cert)
        if self.server is None:
            raise RuntimeError("lasso could not load the SP metadata/key")
        self.server.signatureMethod = lasso.SIGNATURE_METHOD_RSA_SHA256
        for path in idp_metadata_files:
            with open(path) as f:
                self.server.addProviderFromBuffer(lasso.PROVIDER_ROLE_IDP, f.read())
        self.entity_id = self.server.providerId
        self.acs_url = self.server.getAssertionConsumerServiceUrl(None)
        self.seen_assertion_ids = set()

    # -- login ------------------------------------------------------------
    def authn_request(self, idp_entity_id, relay_state=None, name_id_format=None, force_authn=False):
        """Return (url, request_id) for an HTTP-Redirect AuthnRequest."""
        login = lasso.Login(self.server)
        login.initAuthnRequest(idp_entity_id, lasso.HTTP_METHOD_REDIRECT)
        req = login.request
        req.protocolBinding = lasso.SAML2_METADATA_BINDING_POST
        req.nameIdPolicy.format = name_id_format or lasso.SAML2_NAME_IDENTIFIER_FORMAT_TRANSIENT
        req.nameIdPolicy.allowCreate = True
        req.forceAuthn = bool(force_authn)
        if relay_state:
            login.msgRelayState = relay_state
        login.setSignatureHint(lasso.PROFILE_SIGNATURE_HINT_FORCE)
        login.buildAuthnRequestMsg()
        return login.msgUrl, req.id

    def process_response(self, saml_response_b64, expected_idp=None, expected_request_id=None,
                         allow_unsolicited=False, expected_uai=None, now=None, record=True):
        """Check a SAMLResponse form value; return a dict describing the login."""
        now = time.time() if now is None else now
        login = lasso.Login(self.server)
        login.setSignatureVerifyHint(lasso.PROFILE_SIGNATURE_VERIFY_HINT_MAYBE)
        try:
            login.processAuthnResponseMsg(saml_response_b64)
        except lasso.Error as e:
            raise Rejected("lasso", "%s (%d)" % (lasso.strError(e.code), e.code))
        resp = login.response

        def reject(reason):
            raise Rejected("sp", reason)

        issuer = login.remoteProviderId
        if expected_idp is not None and issuer != expected_idp:
            reject("response from %r, request went to %r" % (issuer, expected_idp))
        if not resp.destination:
            reject("no Destination")
        if resp.destination != self.acs_url:
            reject("Destination %r is not our ACS %r" % (resp.destination, self.acs_url))
        if resp.encryptedAssertion:
            reject("EncryptedAssertion not supported")
        assertions = list(resp.assertion or ())
        if len(assertions) != 1:
            reject("%d assertions, exactly one wanted" % len(assertions))
        a = assertions[0]
        if not a.id:
            reject("assertion without ID")

        irt = resp.inResponseTo
        if expected_request_id is not None:
            if irt != expected_request_id:
                reject("InResponseTo %r, expected %r" % (irt, expected_request_id))
        elif irt:
            reject("InResponseTo %r matches no pending request" % irt)
        elif not allow_unsolicited:
            reject("unsolicited response")

        subj = a.subject
        if subj is None or subj.nameId is None:
            reject("no Subject/NameID")
        sc = subj.subjectConfirmation
        if sc is None or sc.method != BEARER:
            reject("no bearer SubjectConfirmation")
        scd = sc.subjectConfirmationData
        if scd is None:
            reject("no SubjectConfirmationData")
        if scd.recipient != self.acs_url:
            reject("Recipient %r is not our ACS" % scd.recipient)
        if (scd.inResponseTo or None) != (irt or None):
            reject("SubjectConfirmationData InResponseTo %r differs from the response's %r"
                   % (scd.inResponseTo, irt))
        try:
            if not scd.notOnOrAfter:
                reject("SubjectConfirmationData without NotOnOrAfter")
            if now >= parse_instant(scd.notOnOrAfter) + CLOCK_SKEW:
                reject("SubjectConfirmationData expired (%s)" % scd.notOnOrAfter)
            if scd.notBefore and now < parse_instant(scd.notBefore) - CLOCK_SKEW:
                reject("SubjectConfirmationData not yet valid (%s)" % scd.notBefore)
            cond = a.conditions
            if cond is None:
                reject("no Conditions")
            if cond.notBefore and now < parse_instant(cond.notBefore) - CLOCK_SKEW:
                reject("assertion not yet valid (NotBefore %s)" % cond.notBefore)
            if cond.notOnOrAfter and now >= parse_instant(cond.notOnOrAfter) + CLOCK_SKEW:
                reject("assertion expired (NotOnOrAfter %s)" % cond.notOnOrAfter)
        except ValueError as e:
            reject("bad timestamp: %s" % e)
        restrictions = list(cond.audienceRestriction or ())
        if not restrictions:
            reject("no AudienceRestriction")
        for r in restrictions:
            if r.audience != self.entity_id:
                reject("Audience %r is not us" % r.audience)
        if cond.condition:
            reject("unknown Condition")
        if a.id in self.seen_assertion_ids:
            reject("assertion %s replayed" % a.id)

        attributes = {}
        for stmt in a.attributeStatement or ():
            for attr in stmt.attribute or ():
                name = ATTR_NAMES.get(attr.name, attr.name)
                try:
                    values = [text_of(v) for v in attr.attributeValue or ()]
                except ValueError as e:
                    reject("attribute %s: %s" % (name, e))
                attributes.setdefault(name, []).extend(values)
        eppn = attributes.get("eduPersonPrincipalName", [])
        if len(eppn) != 1 or not eppn[0]:
            reject("eduPersonPrincipalName missing or not single-valued: %r" % eppn)
        supann = attributes.get("supannEtablissement")
        if expected_uai is not None and supann is not None:
            # Released: it must name the establishment ("{UAI}" prefix, exact code).
            if "{UAI}" + expected_uai not in supann:
                reject("supannEtablissement %r does not name UAI %s" % (supann, expected_uai))

        try:
            login.acceptSso()
        except lasso.Error as e:
            raise Rejected("lasso", "acceptSso: %s (%d)" % (lasso.strError(e.code), e.code))
        if record:
            self.seen_assertion_ids.add(a.id)
        session_index = None
        for st in a.authnStatement or ():
            session_index = st.sessionIndex
        return {
            "idp": issuer,
            "in_response_to": irt,
            "assertion_id": a.id,
            "name_id": subj.nameId.content,
            "name_id_format": subj.nameId.format,
            "session_index": session_index,
            "attributes": attributes,
            "eppn": eppn[0],
            "session_dump": login.session.dump() if login.session else None,
            "identity_dump": login.identity.dump() if login.identity else None,
        }

    def lasso_only(self, saml_response_b64):
        """What lasso alone says (process + accept_sso, nothing else): None if
        it accepts, else the error string."""
        login = lasso.Login(self.server)
        login.setSignatureVerifyHint(lasso.PROFILE_SIGNATURE_VERIFY_HINT_MAYBE)
        try:
            login.processAuthnResponseMsg(saml_response_b64)
            login.acceptSso()
        except lasso.Error as e:
            return "%s (%d)" % (lasso.strError(e.code), e.code)
        return None

    # -- logout -----------------------------------------------------------
    def logout_request(self, session_dump, idp_entity_id=None):
        """SP-initiated logout: return (url, request_id, logout_dump)."""
        logout = lasso.Logout(self.server)
        logout.setSessionFromDump(session_dump)
        logout.initRequest(idp_entity_id, lasso.HTTP_METHOD_REDIRECT)
        logout.setSignatureHint(lasso.PROFILE_SIGNATURE_HINT_FORCE)
        logout.buildRequestMsg()
        return logout.msgUrl, logout.request.id, logout.dump()

    def process_logout_response(self, query, logout_dump=None, expected_request_id=None):
        """Check the LogoutResponse (HTTP-Redirect query string)."""
        logout = lasso.Logout.newFromDump(self.server, logout_dump) if logout_dump else lasso.Logout(self.server)
        logout.setSignatureVerifyHint(lasso.PROFILE_SIGNATURE_VERIFY_HINT_FORCE)
        try:
            logout.processResponseMsg(query)
        except lasso.Error as e:
            raise Rejected("lasso", "%s (%d)" % (lasso.strError(e.code), e.code))
        if expected_request_id is not None and logout.response.inResponseTo != expected_request_id:
            raise Rejected("sp", "LogoutResponse InResponseTo %r" % logout.response.inResponseTo)
        return logout.response.status.statusCode.value

    def process_logout_request(self, query, session_dump):
        """IdP-initiated logout: check the LogoutRequest, return (response_url, name_id)."""
        logout = lasso.Logout(self.server)
        logout.setSignatureVerifyHint(lasso.PROFILE_SIGNATURE_VERIFY_HINT_FORCE)
        try:
            logout.processRequestMsg(query)
        except lasso.Error as e:
            raise Rejected("lasso", "%s (%d)" % (lasso.strError(e.code), e.code))
        name_id = logout.request.nameId.content if logout.request.nameId else None
        if session_dump:
            logout.setSessionFromDump(session_dump)
        try:
            logout.validateRequest()
        except lasso.Error as e:
            # The response still has to be sent (with a non-success status).
            if e.code not in (lasso.PROFILE_ERROR_SESSION_NOT_FOUND, lasso.LOGOUT_ERROR_UNSUPPORTED_PROFILE):
                raise Rejected("lasso", "validateRequest: %s (%d)" % (lasso.strError(e.code), e.code))
        logout.setSignatureHint(lasso.PROFILE_SIGNATURE_HINT_FORCE)
        logout.buildResponseMsg()
        return logout.msgUrl, name_id


def query_of(url):
    return urllib.parse.urlsplit(url).query


def decode_redirect_message(url, param):
    """Decode a DEFLATEd HTTP-Redirect SAMLRequest/SAMLResponse for display."""
    import zlib
    q = urllib.parse.parse_qs(query_of(url))
    raw = base64.b64decode(q[param][0])
    return zlib.decompress(raw, -15).decode()
