"""One assistance request through the parts that handle it in turn, all
through the public interfaces: filed by the API, acknowledged (the SLA clock
of the dashboard), questioned (ARS), an attachment added, left unanswered so
that the timers (dadmctl da-timers --at, a controllable clock) remind the
site and then close the request, which the API then shows closed and
unpublished, with every step in its thread."""

import datetime
import re
import unittest

from harness import Daemon, ctl, owner, session

d = None


def setUpModule():
    global d
    d = Daemon().start()


def tearDownModule():
    assert d.stop() == 0


def timers(at):
    out = ctl("da-timers", "--at", at.isoformat())[1]
    m = re.search(r"(\d+) reminder.*?(\d+) automatic closure", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


class FlowTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.alice = session("alice.martin")
        cls.hugo = session("hugo.bernard")

    def call(self, method, path, tok, body=None, **kw):
        return d.request(method, "/api/v1" + path, body=body, token=tok, **kw)

    def test_filed_questioned_reminded_closed(self):
        r = self.call("POST", "/das", self.alice,
                      {"product": "apogee", "priority": "bloquant", "domain": "inscriptions",
                       "version": "6.40.10", "title": "Parcours croisé",
                       "description": "Un dépôt suivi d'un bout à l'autre."})
        self.assertEqual(r.status, 201, r.body)
        da = r.json()
        number = da["number"]
        self.assertEqual(da["status"], "ECT")
        self.assertIsNotNone(da["consultant_id"])

        # The dashboard shows it being processed, acknowledged at filing.
        board = self.call("GET", "/das/dashboard", self.alice).json()
        group = next(g for g in board["groups"] if any(i["number"] == number
                                                       for i in g["items"]))
        item = next(i for i in group["items"] if i["number"] == number)
        self.assertEqual(item["status"], "ECT")
        clocks = item["sla"]
        self.assertEqual(clocks["acknowledgement"]["state"], "met")
        self.assertEqual(clocks["answer"]["state"], "running")

        # The consultant in charge asks a question: ARS.
        consultant = owner("SELECT login FROM dadm.account WHERE id = %s",
                           (da["consultant_id"],))[0][0]
        tok = self.hugo if consultant == "hugo.bernard" else session(consultant)
        r = self.call("POST", f"/das/{number}/questions", tok, {"body": "Quel diplôme ?"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.call("GET", f"/das/{number}", self.alice).json()["status"], "ARS")
        # The answer clock stands still while the site owes an answer.
        board = self.call("GET", "/das/dashboard", self.alice).json()
        item = next(i for g in board["groups"] for i in g["items"] if i["number"] == number)
        self.assertEqual(item["sla"]["answer"]["state"], "suspended")

        # An attachment on the waiting request (the request's updated_at moves).
        before = self.call("GET", f"/das/{number}", self.alice).json()["updated_at"]
        boundary = "----flow"
        payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\";"
                   f" filename=\"trace.txt\"\r\nContent-Type: text/plain\r\n\r\n"
                   f"ORA-01403: no data found\r\n--{boundary}--\r\n").encode()
        r = self.call("POST", f"/das/{number}/attachments", self.alice, payload,
                      headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual(r.status, 201, r.body)
        self.assertGreater(self.call("GET", f"/das/{number}", self.alice).json()["updated_at"],
                           before)

        # The timers, as of instants counted from the question.
        since = owner("SELECT status_since FROM dadm.da WHERE number = %s", (number,))[0][0]
        da_id = owner("SELECT id FROM dadm.da WHERE number = %s", (number,))[0][0]

        def mine(kind):
            return owner("SELECT count(*) FROM dadm.da_event WHERE da_id = %s AND kind = %s",
                         (da_id, kind))[0][0]
        timers(since + datetime.timedelta(days=1))
        self.assertEqual(mine("reminder"), 0)
        # Eight calendar days hold at least five business days (and at most
        # two weekends and a holiday or two fewer): reminded.
        timers(since + datetime.timedelta(days=9))
        self.assertEqual(mine("reminder"), 1)
        self.assertEqual(self.call("GET", f"/das/{number}", self.alice).json()["status"], "ARS")
        subjects = [s for (s,) in owner("SELECT subject FROM dadm.outbox WHERE subject LIKE %s",
                                        (f"%{number}%",))]
        self.assertTrue(any("relance" in s.lower() or "rappel" in s.lower() for s in subjects),
                        subjects)
        # Five more business days after the reminder: closed, not published.
        timers(since + datetime.timedelta(days=20))
        self.assertEqual(mine("auto_closure"), 1)
        got = self.call("GET", f"/das/{number}", self.alice).json()
        self.assertEqual((got["status"], got["published"]), ("ABN", False))
        self.assertIsNotNone(got["closed_at"])
        kinds = [e["kind"] for e in self.call("GET", f"/das/{number}/events", self.alice)
                 .json()["items"]]
        for k in ("filed", "assignment", "question", "attachment", "reminder", "auto_closure"):
            self.assertIn(k, kinds)
        # Closed: the site can no longer answer nor attach.
        r = self.call("POST", f"/das/{number}/answers", self.alice, {"body": "Trop tard"})
        self.assertEqual(r.status, 409, r.body)
        board = self.call("GET", "/das/dashboard", self.alice).json()
        group = next(g for g in board["groups"] if any(i["number"] == number
                                                       for i in g["items"]))
        self.assertEqual(group["key"], "traitees")


if __name__ == "__main__":
    unittest.main()
