"""A minimal scripted browser for the SAML tests: cookie jar, manual redirects,
HTML form parsing.  Standard library only."""

import html.parser
import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request


class Form:
    def __init__(self, action, method):
        self.action = action
        self.method = method
        self.fields = {}


class _FormParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._cur = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._cur = Form(a.get("action") or "", (a.get("method") or "get").lower())
            self.forms.append(self._cur)
        elif tag in ("input", "button") and self._cur is not None:
            name = a.get("name")
            if name and (a.get("type") or "text").lower() not in ("submit", "button", "image", "reset"):
                self._cur.fields[name] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._cur = None


def parse_forms(body, base_url):
    p = _FormParser()
    p.feed(body)
    for f in p.forms:
        f.action = urllib.parse.urljoin(base_url, f.action) if f.action else base_url
    return p.forms


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Response:
    def __init__(self, url, status, headers, body):
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def location(self):
        loc = self.headers.get("Location")
        return urllib.parse.urljoin(self.url, loc) if loc else None


class Browser:
    def __init__(self, timeout=20):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.timeout = timeout

    def request(self, url, data=None):
        """One HTTP exchange, no redirect followed."""
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(url, data=body)
        try:
            with self.opener.open(req, timeout=self.timeout) as r:
                return Response(url, r.status, r.headers, r.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as e:
            return Response(url, e.code, e.headers, e.read().decode("utf-8", "replace"))

    def go(self, url, data=None, stop=None, max_redirects=20):
        """Follow redirects (GET) until a non-redirect answer, or until the
        next Location satisfies stop(url) (returned unfetched as .location)."""
        r = self.request(url, data)
        for _ in range(max_redirects):
            if r.status not in (301, 302, 303, 307, 308) or not r.location:
                return r
            if stop and stop(r.location):
                return r
            r = self.request(r.location)
        raise RuntimeError("too many redirects from %s" % url)
