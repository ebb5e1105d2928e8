"""The time side of assistance requests (sql/0010_calendar_sla.sql): the
business-day calendar, the service-level clocks of a DA, the ARS / AVS
timers run by `dadmctl da-timers --at` (a controllable clock: nothing here
sleeps), and the dashboards of src/api_da_board.c.

The DAs are inserted directly as the cluster's superuser with chosen
instants (the filing API is not needed), titled "t-timers …", and deleted
by each test's cleanup with their events, mails and the closures the test
added, so the other modules never see them. The instants lie in 2026,
before the date the tests run, so DAs other modules create with now() are
never due at them; what the timers did is counted on this module's DAs
only (a demo DA waiting in ARS / AVS since before August 2026 would be
reminded or closed by these runs: demo data should date its waits from
now())."""

import datetime
import os
import unittest
import zoneinfo

import jsonschema
import yaml

from harness import Daemon, connect, ctl, session, SRC, POITIERS, STRASBOURG, superuser

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def run_timers(at):
    """dadmctl da-timers --at; returns (reminders, closures)."""
    out = ctl("da-timers", "--at", at)[1]
    # "da-timers at …: N reminder(s), M automatic closure(s)"
    tail = out.rsplit(":", 1)[1].split(",")
    return int(tail[0].split()[0]), int(tail[1].split()[0])


class Fixture:
    """DAs and closures made as the superuser, removed at cleanup."""

    def __init__(self, testcase):
        self.c = connect(superuser())
        self.c.autocommit = True
        self.cur = self.c.cursor()
        self.das = []
        self.closures = []
        testcase.addCleanup(self.cleanup)
        self.acc = dict(self.rows("SELECT login, id FROM dadm.account"))
        self.etab = dict(self.rows("SELECT uai, id FROM dadm.etab"))
        self.product = dict(self.rows("SELECT code, id FROM dadm.product"))

    def rows(self, sql, args=()):
        self.cur.execute(sql, args)
        return self.cur.fetchall()

    def one(self, sql, args=()):
        self.cur.execute(sql, args)
        row = self.cur.fetchone()
        return row[0] if row else None

    def da(self, *, uai=STRASBOURG, product="apogee", filer="alice.martin", status="ECT",
           sub_status=None, created, status_since=None, priority="non_bloquant",
           consultant="hugo.bernard", closed_at=None, title="t-timers"):
        """Inserts a DA; returns (id, number)."""
        e, p = self.etab[uai], self.product[product]
        self.cur.execute(
            "INSERT INTO dadm.da (etab_id, product_id, installation_id, version_label, priority,"
            " domain_id, nature, title, description, status, sub_status, status_since,"
            " filer_id, consultant_id, created_at, updated_at, closed_at)"
            " SELECT %s, %s, i.id, 'test', %s, d.id, d.nature, %s, 'Demande de test', %s, %s,"
            " %s, %s, %s, %s, %s, %s"
            " FROM dadm.installation i JOIN dadm.domain d ON d.product_id = i.product_id"
            " WHERE i.etab_id = %s AND i.product_id = %s ORDER BY d.id LIMIT 1"
            " RETURNING id, number",
            (e, p, priority, title, status, sub_status, status_since or created,
             self.acc[filer], self.acc[consultant] if consultant else None, created, created,
             closed_at, e, p))
        da_id, number = self.cur.fetchone()
        self.das.append((da_id, number))
        return da_id, number

    def event(self, da_id, at, kind, from_status=None, to_status=None, detail="{}",
              author=None):
        self.cur.execute(
            "INSERT INTO dadm.da_event (etab_id, da_id, at, author_id, kind, from_status,"
            " to_status, detail) SELECT etab_id, id, %s, %s, %s, %s, %s, %s FROM dadm.da"
            " WHERE id = %s", (at, self.acc[author] if author else None, kind, from_status,
                               to_status, detail, da_id))

    def closure(self, starts_on, ends_on):
        self.closures.append(self.one(
            "INSERT INTO dadm.closure (starts_on, ends_on, reason) VALUES (%s, %s,"
            " 't-timers') RETURNING id", (starts_on, ends_on)))

    def cleanup(self):
        for da_id, number in self.das:
            self.cur.execute("DELETE FROM dadm.da_event WHERE da_id = %s", (da_id,))
            self.cur.execute("DELETE FROM dadm.da WHERE id = %s", (da_id,))
            self.cur.execute("DELETE FROM dadm.outbox WHERE subject LIKE %s",
                             (f"DA n° {number} :%",))
        for cid in self.closures:
            self.cur.execute("DELETE FROM dadm.closure WHERE id = %s", (cid,))
        self.c.close()

    def effects(self):
        """(reminders, automatic closures) recorded on this fixture's DAs."""
        self.cur.execute("SELECT count(*) FILTER (WHERE kind = 'reminder'),"
                         " count(*) FILTER (WHERE kind = 'auto_closure')"
                         " FROM dadm.da_event WHERE da_id = ANY (%s)",
                         ([d for d, _ in self.das],))
        return self.cur.fetchone()

    def timers(self, at):
        """Runs the timers as of `at`; returns what they did to this
        fixture's DAs (other DAs of the database are not counted)."""
        r0, c0 = self.effects()
        run_timers(at)
        r1, c1 = self.effects()
        return r1 - r0, c1 - c0

    def state(self, da_id):
        self.cur.execute("SELECT status, sub_status, closed_at, published, reminded_at,"
                         " status_since FROM dadm.da WHERE id = %s", (da_id,))
        return self.cur.fetchone()

    def events(self, da_id, kinds=("reminder", "auto_closure")):
        return self.rows("SELECT kind, at, author_id, from_status::text, to_status::text"
                         " FROM dadm.da_event WHERE da_id = %s AND kind::text = ANY (%s)"
                         " ORDER BY at, id", (da_id, list(kinds)))

    def mails(self, number):
        return self.rows("SELECT to_addr, subject FROM dadm.outbox WHERE subject LIKE %s"
                         " ORDER BY id", (f"DA n° {number} :%",))

    def sla(self, da_id, now):
        """{clock: (due, Paris wall clock, elapsed, state)} as of `now`."""
        return {r[0]: r[1:] for r in self.rows(
            "SELECT clock, to_char(due_at AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD HH24:MI'),"
            " elapsed, state FROM dadm.da_sla(%s, %s)", (da_id, now))}


def utc(wall):
    """A Paris wall-clock instant as a timestamptz literal PostgreSQL reads."""
    return wall + " Europe/Paris"


def paris(wall):
    """A Paris wall-clock instant as an aware datetime."""
    return datetime.datetime.fromisoformat(wall).replace(tzinfo=PARIS)


def when(text):
    """An instant of a JSON answer (whatever the session's time zone)."""
    return datetime.datetime.fromisoformat(text)


class CalendarTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = connect("dadm_app")
        cls.cur = cls.c.cursor()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def q(self, sql, args=()):
        self.cur.execute(sql, args)
        return self.cur.fetchone()[0]

    def test_easter(self):
        for year, day in [(2024, "2024-03-31"), (2025, "2025-04-20"), (2026, "2026-04-05"),
                          (2027, "2027-03-28"), (2028, "2028-04-16"), (2038, "2038-04-25"),
                          (2285, "2285-03-22"), (2019, "2019-04-21")]:
            with self.subTest(year=year):
                self.assertEqual(str(self.q("SELECT dadm.easter_sunday(%s)", (year,))), day)

    def test_holidays_2026(self):
        self.cur.execute("SELECT day::text, name FROM dadm.public_holidays(2026)")
        days = dict(self.cur.fetchall())
        self.assertEqual(len(days), 11)
        self.assertEqual(days["2026-04-06"], "Lundi de Pâques")
        self.assertEqual(days["2026-05-14"], "Ascension")
        self.assertEqual(days["2026-05-25"], "Lundi de Pentecôte")
        for d in ("2026-01-01", "2026-05-01", "2026-05-08", "2026-07-14", "2026-08-15",
                  "2026-11-01", "2026-11-11", "2026-12-25"):
            self.assertIn(d, days)
        # Easter Sunday itself is a Sunday, not in the list.
        self.assertNotIn("2026-04-05", days)

    def test_moving_holidays_other_years(self):
        # Ascension and Whit Monday of 2025 and 2027.
        for day in ("2025-04-21", "2025-05-29", "2025-06-09", "2027-03-29", "2027-05-06",
                    "2027-05-17"):
            with self.subTest(day=day):
                self.assertTrue(self.q("SELECT dadm.is_public_holiday(%s)", (day,)))
        self.assertFalse(self.q("SELECT dadm.is_public_holiday('2026-05-15')"))

    def test_business_days(self):
        cases = [("2026-05-13", True), ("2026-05-14", False),  # Ascension Thursday
                 ("2026-05-16", False), ("2026-05-17", False),  # weekend
                 ("2026-05-25", False), ("2026-05-26", True), ("2026-04-06", False)]
        for day, expected in cases:
            with self.subTest(day=day):
                self.assertEqual(self.q("SELECT dadm.is_business_day(%s)", (day,)), expected)

    def test_add_business_days(self):
        # N business days from t end at 24:00 (Paris) of the N-th business
        # day after t's date, whatever the hour of t.
        cases = [
            (utc("2026-05-13 09:00"), 1, "2026-05-16 00:00"),  # over Ascension Thursday
            (utc("2026-05-13 23:30"), 2, "2026-05-19 00:00"),  # and a weekend
            (utc("2026-05-22 10:00"), 1, "2026-05-27 00:00"),  # over Whit Monday
            (utc("2026-03-27 10:00"), 1, "2026-03-31 00:00"),  # over the change to summer time
            (utc("2026-05-16 12:00"), 1, "2026-05-19 00:00"),  # from a Saturday
            (utc("2026-05-11 10:00"), 5, "2026-05-20 00:00"),
        ]
        for at, n, expected in cases:
            with self.subTest(at=at, n=n):
                self.assertEqual(self.q(
                    "SELECT to_char(dadm.add_business_days(%s, %s) AT TIME ZONE 'Europe/Paris',"
                    " 'YYYY-MM-DD HH24:MI')", (at, n)), expected)
        self.assertEqual(self.q("SELECT dadm.add_business_days(%s, 0) = %s::timestamptz",
                                (utc("2026-05-13 09:00"), utc("2026-05-13 09:00"))), True)

    def test_business_days_between(self):
        cases = [
            (utc("2026-05-13 10:00"), utc("2026-05-15 23:59"), 0),  # Thursday off, Friday not over
            (utc("2026-05-13 10:00"), utc("2026-05-16 00:00"), 1),
            (utc("2026-05-13 10:00"), utc("2026-05-19 08:00"), 2),
            (utc("2026-05-11 10:00"), utc("2026-05-11 23:00"), 0),
            (utc("2026-05-19 10:00"), utc("2026-05-11 10:00"), 0),
        ]
        for a, b, n in cases:
            with self.subTest(a=a, b=b):
                self.assertEqual(self.q("SELECT dadm.business_days_between(%s, %s)", (a, b)), n)

    def test_privileges(self):
        # The daemon's role runs the clocks and the job; nobody else.
        self.assertTrue(self.q("SELECT has_function_privilege('dadm.da_sla(bigint,"
                               " timestamptz)', 'EXECUTE')"))
        self.assertTrue(self.q("SELECT has_function_privilege('dadm.da_timers_run(timestamptz)',"
                               " 'EXECUTE')"))
        self.assertFalse(self.q("SELECT has_function_privilege('public',"
                                " 'dadm.da_timers_run(timestamptz)', 'EXECUTE')"))


class ClosureCalendarTest(unittest.TestCase):
    def test_closure_days_are_not_business_days(self):
        f = Fixture(self)
        f.closure("2026-07-20", "2026-07-31")
        self.assertFalse(f.one("SELECT dadm.is_business_day('2026-07-20')"))
        self.assertFalse(f.one("SELECT dadm.is_business_day('2026-07-31')"))
        self.assertTrue(f.one("SELECT dadm.is_business_day('2026-08-03')"))
        self.assertEqual(f.one(
            "SELECT to_char(dadm.add_business_days(%s, 3) AT TIME ZONE 'Europe/Paris',"
            " 'YYYY-MM-DD HH24:MI')", (utc("2026-07-16 10:00"),)), "2026-08-05 00:00")
        self.assertEqual(f.one("SELECT dadm.business_days_between(%s, %s)",
                               (utc("2026-07-15 10:00"), utc("2026-08-05 00:00"))), 4)


class SlaTest(unittest.TestCase):
    def test_acknowledged_at_filing_answer_over_ascension(self):
        f = Fixture(self)
        da, _ = f.da(created=utc("2026-05-13 09:00"), priority="bloquant")
        f.event(da, utc("2026-05-13 09:00"), "filed", None, "ECT",
                detail='{"consultant_id": %d}' % f.acc["hugo.bernard"])
        # Acknowledgement: 1 business day, Thursday 14 is Ascension -> Friday.
        s = f.sla(da, utc("2026-05-18 12:00"))
        self.assertEqual(s["acknowledgement"], ("2026-05-16 00:00", 0, "met"))
        # Answer: 2 business days from the acknowledgement: Friday 15, Monday 18.
        self.assertEqual(s["answer"], ("2026-05-19 00:00", 1, "running"))
        self.assertEqual(f.sla(da, utc("2026-05-19 00:01"))["answer"],
                         ("2026-05-19 00:00", 2, "missed"))
        self.assertEqual(s["decision"], (None, None, "not_started"))
        # Answered (a move to AVS) on Monday afternoon: met.
        f.event(da, utc("2026-05-18 15:00"), "solution", "ECT", "AVS")
        self.assertEqual(f.sla(da, utc("2026-06-30 12:00"))["answer"],
                         ("2026-05-19 00:00", 1, "met"))

    def test_ars_suspends_the_answer_clock(self):
        f = Fixture(self)
        # Non bloquant, consultant at filing (no event trail): 4 business days
        # from Monday 2 March would end on Saturday 7, 00:00. The ARS wait from
        # Wednesday 4 to Monday 9 holds Thursday 5 and Friday 6: they do not
        # count, and the due instant moves to Wednesday 11, 00:00.
        da, _ = f.da(created=utc("2026-03-02 09:00"))
        f.event(da, utc("2026-03-04 10:00"), "question", "ECT", "ARS")
        f.event(da, utc("2026-03-09 11:00"), "answer", "ARS", "ECT")
        s = f.sla(da, utc("2026-03-10 12:00"))
        self.assertEqual(s["answer"], ("2026-03-11 00:00", 3, "running"))
        f.event(da, utc("2026-03-10 16:00"), "solution", "ECT", "AVS")
        self.assertEqual(f.sla(da, utc("2026-03-20 12:00"))["answer"],
                         ("2026-03-11 00:00", 3, "met"))
        # Still in ARS: the clock stands still, with no due instant.
        da2, _ = f.da(created=utc("2026-03-02 09:00"), status="ARS",
                      status_since=utc("2026-03-04 10:00"))
        f.event(da2, utc("2026-03-04 10:00"), "question", "ECT", "ARS")
        self.assertEqual(f.sla(da2, utc("2026-03-20 12:00"))["answer"],
                         (None, 2, "suspended"))

    def test_acknowledged_at_first_assignment(self):
        f = Fixture(self)
        # Filed on Friday evening with no consultant; assigned on Tuesday.
        da, _ = f.da(created=utc("2026-03-06 17:00"), consultant=None)
        self.assertEqual(f.sla(da, utc("2026-03-09 12:00"))["acknowledgement"],
                         ("2026-03-10 00:00", 0, "running"))
        f.event(da, utc("2026-03-10 09:00"), "assignment", author="hugo.bernard")
        s = f.sla(da, utc("2026-03-12 12:00"))
        self.assertEqual(s["acknowledgement"], ("2026-03-10 00:00", 1, "missed"))
        # The answer clock starts at that acknowledgement: 4 business days,
        # Wednesday 11 to Monday 16.
        self.assertEqual(s["answer"], ("2026-03-17 00:00", 1, "running"))

    def test_decision_clock_over_whit_monday(self):
        f = Fixture(self)
        da, _ = f.da(created=utc("2026-05-18 09:00"), priority="bloquant", status="ADV",
                     status_since=utc("2026-05-27 10:00"))
        f.event(da, utc("2026-05-21 10:00"), "status", "ECT", "ATD")
        f.event(da, utc("2026-05-27 10:00"), "status", "ATD", "ADV")
        # 2 business days from Thursday 21: Friday 22, (Whit Monday) Tuesday 26.
        self.assertEqual(f.sla(da, utc("2026-06-01 12:00"))["decision"],
                         ("2026-05-27 00:00", 2, "missed"))

    def test_sla_reads_through_the_callers_policies(self):
        f = Fixture(self)
        da, _ = f.da(created=utc("2026-03-02 09:00"))
        c = connect(superuser())
        try:
            cur = c.cursor()
            token = os.urandom(32).hex()
            for login, expected in (("denis.roux", 0), ("alice.martin", 3)):
                cur.execute("SELECT dadm.session_open(sha256(convert_to(%s, 'UTF8')), %s, NULL,"
                            " 'operator', 600, 600)", (token + login, f.acc[login]))
                cur.execute("SET LOCAL ROLE dadm_app")
                cur.execute("SELECT account_id FROM dadm.begin_request(sha256(convert_to(%s,"
                            " 'UTF8')))", (token + login,))
                cur.execute("SELECT count(*) FROM dadm.da_sla(%s, now())", (da,))
                with self.subTest(login=login):
                    self.assertEqual(cur.fetchone()[0], expected)
                cur.execute("RESET ROLE")
        finally:
            c.rollback()
            c.close()


class TimersTest(unittest.TestCase):
    def test_reminder_then_auto_closure_across_a_weekend(self):
        f = Fixture(self)
        # ARS since Thursday 5 March: Fri 6, Mon 9, Tue 10, Wed 11, Thu 12.
        da, number = f.da(created=utc("2026-03-02 09:00"), status="ARS",
                          status_since=utc("2026-03-05 10:00"))
        f.event(da, utc("2026-03-05 10:00"), "question", "ECT", "ARS", author="hugo.bernard")
        self.assertEqual(f.timers(utc("2026-03-12 23:59")), (0, 0))
        self.assertEqual(f.events(da), [])
        self.assertEqual(f.timers(utc("2026-03-13 00:00")), (1, 0))
        st = f.state(da)
        self.assertEqual(st[0], "ARS")
        self.assertEqual(st[4], f.one("SELECT %s::timestamptz", (utc("2026-03-13 00:00"),)))
        # Once per wait; a second run at the same instant does nothing at all.
        self.assertEqual(run_timers(utc("2026-03-13 00:00")), (0, 0))
        self.assertEqual(f.timers(utc("2026-03-16 12:00")), (0, 0))
        ev = f.events(da)
        self.assertEqual(len(ev), 1)
        self.assertEqual((ev[0][0], ev[0][2]), ("reminder", None))
        self.assertEqual(f.mails(number), [("alice.martin@unistra.fr", f"DA n° {number} : relance")])
        # 5 more business days after the reminder (Friday 13): Mon 16 … Fri 20.
        self.assertEqual(f.timers(utc("2026-03-20 23:59")), (0, 0))
        self.assertEqual(f.timers(utc("2026-03-21 00:00")), (0, 1))
        status, sub, closed_at, published, _, since = f.state(da)
        at = f.one("SELECT %s::timestamptz", (utc("2026-03-21 00:00"),))
        self.assertEqual((status, sub, closed_at, published, since), ("ABN", None, at, False, at))
        ev = f.events(da)
        self.assertEqual([(k, a, fr, to) for k, _, a, fr, to in ev],
                         [("reminder", None, None, None), ("auto_closure", None, "ARS", "ABN")])
        self.assertEqual(ev[1][1], at)
        self.assertEqual([m[1] for m in f.mails(number)],
                         [f"DA n° {number} : relance", f"DA n° {number} : clôture automatique"])
        self.assertEqual(f.one("SELECT count(*) FROM dadm.audit WHERE action = 'da.auto_closure'"
                               " AND target = %s", (f"da:{number}",)), 1)
        self.assertIsNone(f.one("SELECT dadm.audit_verify()"))
        # Idempotent: nothing more, at the same instant or later.
        self.assertEqual(run_timers(utc("2026-03-21 00:00")), (0, 0))
        self.assertEqual(f.timers(utc("2026-04-30 12:00")), (0, 0))
        self.assertEqual(len(f.events(da)), 2)
        self.assertEqual(len(f.mails(number)), 2)

    def test_avs_across_ascension_and_whit_monday(self):
        f = Fixture(self)
        # AVS since Monday 11 May: Tue 12, Wed 13, (Ascension) Fri 15, Mon 18,
        # Tue 19 -> reminder from Wednesday 20, 00:00.
        da, number = f.da(created=utc("2026-05-04 09:00"), status="AVS",
                          status_since=utc("2026-05-11 10:00"))
        f.event(da, utc("2026-05-11 10:00"), "solution", "ECT", "AVS", author="hugo.bernard")
        self.assertEqual(f.timers(utc("2026-05-19 00:00")), (0, 0))
        self.assertEqual(f.timers(utc("2026-05-19 23:59")), (0, 0))
        self.assertEqual(f.timers(utc("2026-05-20 00:00")), (1, 0))
        # After the reminder: Thu 21, Fri 22, (Whit Monday) Tue 26, Wed 27,
        # Thu 28 -> closure from Friday 29, 00:00.
        self.assertEqual(f.timers(utc("2026-05-28 23:59")), (0, 0))
        self.assertEqual(f.timers(utc("2026-05-29 00:00")), (0, 1))
        self.assertEqual(f.state(da)[:4],
                         ("ABN", None, f.one("SELECT %s::timestamptz", (utc("2026-05-29 00:00"),)),
                          False))
        self.assertEqual([(e[0], e[3], e[4]) for e in f.events(da)],
                         [("reminder", None, None), ("auto_closure", "AVS", "ABN")])
        self.assertEqual(len(f.mails(number)), 2)

    def test_agency_closure_pauses_the_timers(self):
        f = Fixture(self)
        f.closure("2026-07-20", "2026-07-31")
        # Due on Thursday 9 July already, before the closure.
        early, n_early = f.da(created=utc("2026-06-29 09:00"), status="ARS",
                              status_since=utc("2026-07-01 10:00"))
        # Thu 16, Fri 17, (closure) Mon 3, Tue 4, Wed 5 August -> Thursday 6,
        # 00:00; without the closure it would be Thursday 23 July.
        late, n_late = f.da(created=utc("2026-07-13 09:00"), status="ARS",
                            status_since=utc("2026-07-15 10:00"))
        # Nothing at all while the agency is closed, not even what was due
        # before.
        self.assertEqual(run_timers(utc("2026-07-27 12:00")), (0, 0))
        self.assertEqual(run_timers(utc("2026-07-31 23:59")), (0, 0))
        self.assertEqual(f.events(early) + f.events(late), [])
        self.assertEqual(f.timers(utc("2026-08-05 12:00")), (1, 0))
        self.assertEqual(len(f.events(early)), 1)
        self.assertEqual(f.events(late), [])
        self.assertEqual(f.timers(utc("2026-08-06 00:00")), (1, 0))
        self.assertEqual(len(f.events(late)), 1)
        self.assertEqual(len(f.mails(n_early)) + len(f.mails(n_late)), 2)

    def test_new_wait_gets_its_own_reminder(self):
        f = Fixture(self)
        # Reminded during an earlier wait (before status_since): this wait is
        # reminded again, not closed.
        da, _ = f.da(created=utc("2026-03-02 09:00"), status="ARS",
                     status_since=utc("2026-03-16 10:00"))
        f.cur.execute("UPDATE dadm.da SET reminded_at = %s WHERE id = %s",
                      (utc("2026-03-10 09:00"), da))
        self.assertEqual(f.timers(utc("2026-03-20 12:00")), (0, 0))
        self.assertEqual(f.timers(utc("2026-03-24 00:00")), (1, 0))
        self.assertEqual(f.state(da)[0], "ARS")

    def test_job_runs_under_the_job_runner(self):
        # The job entry exists and runs (at now(): the test DAs of 2026 are
        # all gone by then, and no other DA is due).
        self.assertIn("job da_timers done", ctl("job", "run", "--name", "da_timers")[1])
        code, _, err = ctl("da-timers", "--at", "not a time", check=False)
        self.assertEqual(code, 1)
        self.assertIn("not a timestamp", err)


with open(os.path.join(SRC, "docs", "openapi.yaml")) as _f:
    SPEC = yaml.safe_load(_f)


def validate(path, resp):
    op = SPEC["paths"][path]["get"]["responses"][str(resp.status)]
    if "$ref" in op:
        op = SPEC["components"]["responses"][op["$ref"].rsplit("/", 1)[1]]
    media = (resp.header("Content-Type") or "").split(";")[0]
    schema = op["content"][media]["schema"]
    resolver = jsonschema.RefResolver.from_schema(SPEC)
    jsonschema.Draft202012Validator(schema, resolver=resolver).validate(resp.json())


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0

    def get(self, path, login):
        r = self.d.get(path, token=session(login) if login else None)
        validate(path.split("?")[0], r)
        return r

    def board(self, login):
        r = self.get("/api/v1/das/dashboard", login)
        self.assertEqual(r.status, 200, r.body[:300])
        return {g["key"]: g for g in r.json()["groups"]}

    def test_dashboard_groups_and_scope(self):
        f = Fixture(self)
        t = utc("2026-05-13 09:00")
        mine = {}
        for status, sub in (("ECT", None), ("AVA", None), ("ARS", None), ("AVS", None),
                            ("ATD", None), ("DEV", "INI"), ("TER", None), ("ABN", None)):
            closed = t if status in ("TER", "ABN") else None
            mine[status] = f.da(created=t, status=status, sub_status=sub, closed_at=closed,
                                title=f"t-timers {status}")[1]
        other = f.da(uai=POITIERS, filer="denis.roux", created=t, status="ARS")[1]
        sifac = f.da(product="sifac", filer="bruno.keller", consultant="ines.petit", created=t,
                     status="ECT")[1]
        expected = {"en_cours": ["ECT", "AVA"], "attente_reponse": ["ARS"],
                    "attente_validation": ["AVS"], "attente_decision": ["ATD"],
                    "maintenance": ["DEV"], "traitees": ["TER", "ABN"]}
        g = self.board("alice.martin")
        self.assertEqual(list(g), list(expected))
        for key, statuses in expected.items():
            with self.subTest(group=key):
                numbers = {i["number"]: i for i in g[key]["items"]}
                for s in statuses:
                    self.assertIn(mine[s], numbers)
                    self.assertEqual(numbers[mine[s]]["status"], s)
                # Nothing of another establishment, nor of a product alice
                # is no correspondent of.
                self.assertNotIn(other, numbers)
                self.assertNotIn(sifac, numbers)
        item = next(i for i in g["attente_reponse"]["items"] if i["number"] == mine["ARS"])
        self.assertEqual(item["product"], "apogee")
        self.assertEqual(when(item["sla"]["acknowledgement"]["due_at"]), paris("2026-05-16 00:00"))
        self.assertEqual(item["sla"]["acknowledgement"]["state"], "met")
        dev = next(i for i in g["maintenance"]["items"] if i["number"] == mine["DEV"])
        self.assertEqual(dev["sub_status"], "INI")
        # Poitiers' correspondent sees its DA and none of Strasbourg's.
        gp = self.board("denis.roux")
        seen = {i["number"] for grp in gp.values() for i in grp["items"]}
        self.assertIn(other, seen)
        self.assertFalse(seen & set(mine.values()))
        # bruno (technique, apogee and sifac) sees both products of Strasbourg.
        gb = self.board("bruno.keller")
        seen = {i["number"] for grp in gb.values() for i in grp["items"]}
        self.assertTrue(set(mine.values()) <= seen and sifac in seen and other not in seen)
        # emma (Poitiers, sifac) sees none of these.
        ge = self.board("emma.girard")
        seen = {i["number"] for grp in ge.values() for i in grp["items"]}
        self.assertFalse(seen & (set(mine.values()) | {other, sifac}))

    def test_dashboard_refused(self):
        for login, status in (("hugo.bernard", 403), ("julie.moreau", 403),
                              ("chloe.weber", 403), (None, 401)):
            with self.subTest(login=login):
                r = self.get("/api/v1/das/dashboard", login)
                self.assertEqual(r.status, status)
                self.assertTrue(r.json()["detail"])

    def test_queue(self):
        f = Fixture(self)
        # Two open apogee DAs, one of each establishment, and a closed one.
        soon, n_soon = f.da(created=utc("2026-05-13 09:00"), priority="bloquant")
        later, n_later = f.da(uai=POITIERS, filer="denis.roux", consultant=None,
                              created=utc("2026-05-20 09:00"))
        _, n_closed = f.da(created=utc("2026-05-13 09:00"), status="TER",
                           closed_at=utc("2026-05-15 09:00"))
        _, n_sifac = f.da(product="sifac", filer="bruno.keller", consultant="ines.petit",
                          created=utc("2026-05-13 09:00"))
        r = self.get("/api/v1/das/queue?product=apogee&limit=200", "hugo.bernard")
        self.assertEqual(r.status, 200, r.body[:300])
        items = r.json()["items"]
        numbers = [i["number"] for i in items]
        self.assertIn(n_soon, numbers)
        self.assertIn(n_later, numbers)
        self.assertNotIn(n_closed, numbers)
        self.assertNotIn(n_sifac, numbers)
        # Oldest due first: the bloquant answer of the 13th is due before the
        # unacknowledged DA of the 20th.
        self.assertLess(numbers.index(n_soon), numbers.index(n_later))
        a = items[numbers.index(n_soon)]
        self.assertEqual(a["consultant"]["login"], "hugo.bernard")
        self.assertEqual(a["etab_uai"], STRASBOURG)
        self.assertEqual(when(a["next_due"]), paris("2026-05-19 00:00"))
        self.assertEqual(a["sla_state"], "missed")
        b = items[numbers.index(n_later)]
        self.assertIsNone(b["consultant"])
        self.assertEqual(when(b["next_due"]), paris("2026-05-22 00:00"))
        # Without ?product: every product hugo consults (apogee only).
        r = self.get("/api/v1/das/queue?limit=200", "hugo.bernard")
        self.assertEqual({i["product"] for i in r.json()["items"]}, {"apogee"})
        # ines (sifac) sees none of apogee's and may not ask for its queue.
        r = self.get("/api/v1/das/queue?limit=200", "ines.petit")
        self.assertEqual(r.status, 200)
        got = {i["number"] for i in r.json()["items"]}
        self.assertIn(n_sifac, got)
        self.assertFalse(got & {n_soon, n_later})
        self.assertEqual(self.get("/api/v1/das/queue?product=apogee", "ines.petit").status, 403)
        self.assertEqual(self.get("/api/v1/das/queue?product=nope", "hugo.bernard").status, 404)
        self.assertEqual(self.get("/api/v1/das/queue?limit=0", "hugo.bernard").status, 422)

    def test_queue_refused(self):
        for login, status in (("alice.martin", 403), ("denis.roux", 403),
                              ("julie.moreau", 403), ("louis.garnier", 403), (None, 401)):
            with self.subTest(login=login):
                r = self.get("/api/v1/das/queue", login)
                self.assertEqual(r.status, status)
                if status == 403:
                    self.assertIn("consultants", r.json()["detail"])


if __name__ == "__main__":
    unittest.main()
