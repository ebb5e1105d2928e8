"""bench/acs/load.py: the responses of bench/acs/run (curl POSTs them).

  load.py prepare PORT N IDP_KEY IDP_CERT IDP_ENTITY SP_METADATA OUTDIR
      N logins (GET /saml/login: a pending request each), and for each a
      valid response forged with tests/saml/forge.py (fresh request ID and
      assertion ID), written to OUTDIR/NNNNN.b64
"""

import base64
import contextlib
import http.client
import io
import os
import re
import sys
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "saml"))
import forge  # noqa: E402


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    loc = r.getheader("Location")
    c.close()
    return r.status, loc


def prepare(port, n, key, cert, entity, sp_md, out):
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        status, loc = get(port, "/saml/login?etab=0673021V&next=/login")
        if status != 302:
            sys.exit("login %d: status %d" % (i, status))
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
        xml = zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15).decode()
        rid = re.search(r' ID="([^"]+)"', xml).group(1)
        path = os.path.join(out, "%05d.b64" % i)
        with contextlib.redirect_stdout(io.StringIO()):
            forge.main(["--sp-metadata", sp_md, "--idp-key", key, "--idp-cert", cert,
                        "--idp-entity-id", entity, "--case", "valid", "--in-response-to", rid,
                        "--lifetime", "3600", "--out", path])


if __name__ == "__main__":
    if len(sys.argv) != 9 or sys.argv[1] != "prepare":
        sys.exit(__doc__)
    prepare(int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:9])
