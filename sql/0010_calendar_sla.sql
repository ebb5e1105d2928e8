-- Business-day calendar (Europe/Paris), the service-level clocks of a DA
-- (charte §3.2) and the ARS / AVS timers (charte §4.2, guide "ARS", "AVS").
--
-- Business day: Monday to Friday, not a French public holiday, not inside
-- an agency closure (dadm.closure, starts_on..ends_on inclusive).
--
-- Counting, one rule everywhere: "N business days from instant t" ends at
-- the end (24:00, Paris) of the N-th business day after t's Paris date; the
-- day of t itself never counts, whatever the hour. The business days
-- elapsed between t1 and t2 are the business days that lie strictly after
-- t1's Paris date and have ended by t2. So
--     dadm.add_business_days(t, n) <= t2  <=>  dadm.business_days_between(t, t2) >= n.
--
-- Everything takes its instant as a parameter (p_now): the clocks and the
-- timers are a function of the data, and tests move the clock at will.

-- The Paris calendar date of an instant.
CREATE FUNCTION dadm.paris_date(p_at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT (p_at AT TIME ZONE 'Europe/Paris')::date
$$;

-- The instant a Paris calendar day ends (24:00, that is 00:00 of the next
-- day, summer or winter time).
CREATE FUNCTION dadm.paris_day_end(p_day date) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT (p_day + 1)::timestamp AT TIME ZONE 'Europe/Paris'
$$;

-- Easter Sunday of a Gregorian year (the anonymous Gregorian computus:
-- Meeus / Jones / Butcher), for years 1583 to 9999.
CREATE FUNCTION dadm.easter_sunday(p_year integer) RETURNS date
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
DECLARE
    a integer := p_year % 19;           -- place in the Metonic cycle
    b integer := p_year / 100;          -- century
    c integer := p_year % 100;
    d integer := b / 4;
    e integer := b % 4;
    f integer := (b + 8) / 25;
    g integer := (b - f + 1) / 3;       -- lunar correction
    h integer := (19 * a + b - d - g + 15) % 30;  -- epact: days to the Paschal full moon
    i integer := c / 4;
    k integer := c % 4;
    l integer := (32 + 2 * e + 2 * i - h - k) % 7; -- days from the full moon to Sunday
    m integer := (a + 11 * h + 22 * l) / 451;
    n integer := h + l - 7 * m + 114;
BEGIN
    IF p_year < 1583 OR p_year > 9999 THEN
        RAISE EXCEPTION 'easter_sunday: year % is outside 1583..9999', p_year
            USING ERRCODE = '22023';
    END IF;
    RETURN make_date(p_year, n / 31, n % 31 + 1);
END
$$;

-- The French public holidays of a year (metropolitan list; Easter Sunday
-- and Whit Sunday fall on Sundays and are not listed).
CREATE FUNCTION dadm.public_holidays(p_year integer)
RETURNS TABLE (day date, name text)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 11
SET search_path = pg_catalog
AS $$
    SELECT x.day, x.name
      FROM (SELECT dadm.easter_sunday(p_year) AS easter) e,
           LATERAL (VALUES
               (make_date(p_year, 1, 1), 'Jour de l''an'),
               (e.easter + 1, 'Lundi de Pâques'),
               (make_date(p_year, 5, 1), 'Fête du travail'),
               (make_date(p_year, 5, 8), 'Victoire 1945'),
               (e.easter + 39, 'Ascension'),
               (e.easter + 50, 'Lundi de Pentecôte'),
               (make_date(p_year, 7, 14), 'Fête nationale'),
               (make_date(p_year, 8, 15), 'Assomption'),
               (make_date(p_year, 11, 1), 'Toussaint'),
               (make_date(p_year, 11, 11), 'Armistice 1918'),
               (make_date(p_year, 12, 25), 'Noël')) AS x(day, name)
     ORDER BY x.day
$$;

CREATE FUNCTION dadm.is_public_holiday(p_day date) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT to_char(p_day, 'MM-DD') IN ('01-01', '05-01', '05-08', '07-14', '08-15', '11-01',
                                       '11-11', '12-25')
        OR p_day - dadm.easter_sunday(extract(year FROM p_day)::integer) IN (1, 39, 50)
$$;

-- Is the day inside an agency closure?
CREATE FUNCTION dadm.in_closure(p_day date) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT EXISTS (SELECT 1 FROM dadm.closure c
                    WHERE p_day BETWEEN c.starts_on AND c.ends_on)
$$;

-- Monday to Friday, not a public holiday, not inside an agency closure.
-- STABLE: it reads dadm.closure.
CREATE FUNCTION dadm.is_business_day(p_day date) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT extract(isodow FROM p_day) < 6
       AND NOT dadm.is_public_holiday(p_day)
       AND NOT dadm.in_closure(p_day)
$$;

-- The business days from p_from to p_to (both included), ascending. One
-- set-based query (the holidays of the years concerned, the closures
-- overlapping the range), so the clocks below cost one query each, not one
-- function call per day.
CREATE FUNCTION dadm.business_days(p_from date, p_to date) RETURNS SETOF date
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ROWS 20
SET search_path = pg_catalog
AS $$
DECLARE
    v_off date[];
BEGIN
    IF p_to < p_from THEN
        RETURN;
    END IF;
    SELECT array_agg(o.day) INTO v_off
      FROM (SELECT h.day
              FROM generate_series(extract(year FROM p_from)::integer,
                                   extract(year FROM p_to)::integer) AS y(y),
                   LATERAL dadm.public_holidays(y.y) AS h
            UNION ALL
            SELECT g.d::date
              FROM dadm.closure c,
                   LATERAL generate_series(greatest(c.starts_on, p_from)::timestamp,
                                           least(c.ends_on, p_to)::timestamp,
                                           interval '1 day') AS g(d)
             WHERE c.starts_on <= p_to AND c.ends_on >= p_from) AS o;
    RETURN QUERY
        SELECT g.d::date
          FROM generate_series(p_from::timestamp, p_to::timestamp, interval '1 day') AS g(d)
         WHERE extract(isodow FROM g.d) < 6
           AND NOT (g.d::date = ANY (coalesce(v_off, '{}')))
         ORDER BY 1;
END
$$;

-- The deadline of N business days from instant p_at: the end (24:00,
-- Paris) of the N-th business day after p_at's Paris date. N = 0 gives
-- p_at itself; a negative N is an error.
CREATE FUNCTION dadm.add_business_days(p_at timestamptz, p_days integer) RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
DECLARE
    v_day date := dadm.paris_date(p_at);
    v_end date;
    v_due timestamptz;
BEGIN
    IF p_days < 0 THEN
        RAISE EXCEPTION 'add_business_days: negative count %', p_days USING ERRCODE = '22023';
    END IF;
    IF p_days = 0 THEN
        RETURN p_at;
    END IF;
    -- A short window first (weekends and a few holidays), then a long one
    -- for long agency closures.
    FOREACH v_end IN ARRAY ARRAY[v_day + 2 * p_days + 21, v_day + 2 * p_days + 3660] LOOP
        SELECT dadm.paris_day_end(b.d) INTO v_due
          FROM dadm.business_days(v_day + 1, v_end) AS b(d)
         ORDER BY b.d OFFSET p_days - 1 LIMIT 1;
        IF v_due IS NOT NULL THEN
            RETURN v_due;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'add_business_days: no business day within ten years' USING ERRCODE = '22023';
END
$$;

-- Business days elapsed from p_from to p_to: those strictly after
-- p_from's Paris date that have ended by p_to. 0 when p_to <= p_from.
CREATE FUNCTION dadm.business_days_between(p_from timestamptz, p_to timestamptz)
RETURNS integer
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT count(*)::integer
      FROM dadm.business_days(dadm.paris_date(p_from) + 1, dadm.paris_date(p_to) - 1)
$$;

-- One service-level clock. It starts at p_start and allows p_limit
-- business days; the business days wholly inside a pause (p_pauses: ranges
-- of instants, an unbounded upper end for a pause still under way) do not
-- count, so a day counts when it is a business day after p_start's Paris
-- date and not strictly between a pause's start date and end date (the day
-- a pause starts and the day it ends still count). p_done is when the clock
-- stopped (NULL: not yet).
--   due_at:  the end of the p_limit-th counting day; NULL when a pause under
--            way stops the clock before the limit is reached.
--   elapsed: counting days ended by p_done (or p_now while running).
--   state:   not_started (no p_start), met / missed (done by / after
--            due_at), missed (not done and p_now past due_at), suspended
--            (not done, inside a pause at p_now), running.
CREATE FUNCTION dadm.sla_clock(p_start timestamptz, p_limit integer, p_done timestamptz,
                               p_now timestamptz, p_pauses tstzrange[] DEFAULT '{}',
                               OUT due_at timestamptz, OUT elapsed integer, OUT state text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
DECLARE
    v_first date;       -- the first day that may count
    v_until date;       -- elapsed counts the counting days before this date
    v_stop date;        -- start date of a pause under way, or NULL
    v_span integer;     -- days covered by the pauses that ended
    v_end date;
    v_days date[];      -- the counting days from v_first to v_end
BEGIN
    IF p_start IS NULL THEN
        state := 'not_started';
        RETURN;
    END IF;
    p_pauses := coalesce(p_pauses, '{}');
    v_first := dadm.paris_date(p_start) + 1;
    v_until := dadm.paris_date(coalesce(p_done, p_now));
    SELECT min(dadm.paris_date(lower(u.r))) FILTER (WHERE upper_inf(u.r)),
           coalesce(sum(dadm.paris_date(upper(u.r)) - dadm.paris_date(lower(u.r)))
                        FILTER (WHERE NOT upper_inf(u.r)), 0)
      INTO v_stop, v_span
      FROM unnest(p_pauses) AS u(r);

    -- The counting days, in one query: up to the elapsed limit and far
    -- enough for the due day (weekends, holidays, the pauses that ended);
    -- a second, long window only when long agency closures hid it. Days
    -- after the start of a pause under way never count.
    v_end := greatest(v_until - 1, v_first + 2 * p_limit + v_span + 21);
    LOOP
        v_end := least(v_end, v_stop);
        SELECT array_agg(b.d ORDER BY b.d) INTO v_days
          FROM dadm.business_days(v_first, v_end) AS b(d)
         WHERE NOT EXISTS (SELECT 1 FROM unnest(p_pauses) AS u(r)
                            WHERE b.d > dadm.paris_date(lower(u.r))
                              AND (upper_inf(u.r) OR b.d < dadm.paris_date(upper(u.r))));
        v_days := coalesce(v_days, '{}');
        EXIT WHEN cardinality(v_days) >= p_limit OR v_end = v_stop
                  OR v_end > v_first + 2 * p_limit + v_span + 3660;
        v_end := v_first + 2 * p_limit + v_span + 3661;
    END LOOP;
    IF cardinality(v_days) >= p_limit THEN
        due_at := dadm.paris_day_end(v_days[p_limit]);
    END IF;
    SELECT count(*)::integer INTO elapsed FROM unnest(v_days) AS u(d) WHERE u.d < v_until;

    IF p_done IS NOT NULL THEN
        state := CASE WHEN due_at IS NULL OR p_done <= due_at THEN 'met' ELSE 'missed' END;
    ELSIF due_at IS NOT NULL AND p_now > due_at THEN
        state := 'missed';
    ELSIF EXISTS (SELECT 1 FROM unnest(p_pauses) AS u(r) WHERE u.r @> p_now) THEN
        state := 'suspended';
    ELSE
        state := 'running';
    END IF;
END
$$;

-- The three service-level clocks of a DA (charte §3.2), from the DA and its
-- status moves (da_event rows with a to_status), as of p_now. SECURITY
-- INVOKER: it reads through the caller's policies, so a DA the caller may
-- not see gives no row. One row per clock:
-- - acknowledgement: 1 business day from filing (created_at). Acknowledged
--   when a consultant is in charge: at filing when the DA had one then (the
--   `filed` event's detail names a consultant_id, or, with no `assignment`
--   event at all, the DA has a consultant), else at the first `assignment`
--   event.
-- - answer: 2 (bloquant) / 4 (non_bloquant) business days from the
--   acknowledgement; the business days wholly inside an ARS wait (from the
--   move into ARS to the move out of it) do not count. Answered at the first
--   move to AVS after the acknowledgement, or, when the DA closes without
--   one, at its closure.
-- - decision (taking a defect into maintenance): 2 (bloquant) / 10
--   (non_bloquant) business days from the first move to ATD; decided at the
--   first move out of ATD after it.
-- Columns: clock ('acknowledgement', 'answer', 'decision'), started_at,
-- limit_days, due_at, done_at, elapsed (business days), state (see
-- sla_clock).
CREATE FUNCTION dadm.da_sla(p_da bigint, p_now timestamptz)
RETURNS TABLE (clock text, started_at timestamptz, limit_days integer, due_at timestamptz,
               done_at timestamptz, elapsed integer, state text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog
AS $$
DECLARE
    v dadm.da%ROWTYPE;
    v_ack timestamptz;
    v_answer timestamptz;
    v_atd timestamptz;
    v_decided timestamptz;
    v_pauses tstzrange[];
    v_bloquant boolean;
    c record;
BEGIN
    SELECT * INTO v FROM dadm.da WHERE id = p_da;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_bloquant := v.priority = 'bloquant';

    -- Acknowledgement.
    SELECT CASE
               WHEN EXISTS (SELECT 1 FROM dadm.da_event e
                             WHERE e.da_id = v.id AND e.kind = 'filed'
                               AND e.detail ? 'consultant_id'
                               AND jsonb_typeof(e.detail -> 'consultant_id') <> 'null')
                   THEN v.created_at
               ELSE coalesce((SELECT min(e.at) FROM dadm.da_event e
                               WHERE e.da_id = v.id AND e.kind = 'assignment'),
                             CASE WHEN v.consultant_id IS NOT NULL THEN v.created_at END)
           END
      INTO v_ack;
    SELECT * INTO c FROM dadm.sla_clock(v.created_at, 1, v_ack, p_now);
    clock := 'acknowledgement'; started_at := v.created_at; limit_days := 1;
    due_at := c.due_at; done_at := v_ack; elapsed := c.elapsed; state := c.state;
    RETURN NEXT;

    -- Answer: paused by the ARS waits, from each move into ARS to the next
    -- status move (unbounded while the DA is still in ARS).
    WITH moves AS (
        SELECT e.at, e.to_status,
               lead(e.at) OVER (ORDER BY e.at, e.id) AS next_at
          FROM dadm.da_event e
         WHERE e.da_id = v.id AND e.to_status IS NOT NULL)
    SELECT coalesce(array_agg(tstzrange(m.at, m.next_at, '[)') ORDER BY m.at), '{}')
      INTO v_pauses
      FROM moves m
     WHERE m.to_status = 'ARS' AND (m.next_at IS NULL OR m.next_at > m.at);
    -- A DA in ARS whose move there left no event still pauses.
    IF v.status = 'ARS' AND NOT EXISTS (SELECT 1 FROM unnest(v_pauses) u(r) WHERE upper_inf(u.r))
    THEN
        v_pauses := v_pauses || tstzrange(v.status_since, NULL, '[)');
    END IF;
    IF v_ack IS NOT NULL THEN
        SELECT min(e.at) INTO v_answer FROM dadm.da_event e
         WHERE e.da_id = v.id AND e.to_status = 'AVS' AND e.at >= v_ack;
        v_answer := coalesce(v_answer, v.closed_at);
    END IF;
    SELECT * INTO c FROM dadm.sla_clock(v_ack, CASE WHEN v_bloquant THEN 2 ELSE 4 END, v_answer,
                                        p_now, v_pauses);
    clock := 'answer'; started_at := v_ack; limit_days := CASE WHEN v_bloquant THEN 2 ELSE 4 END;
    due_at := c.due_at; done_at := v_answer; elapsed := c.elapsed; state := c.state;
    RETURN NEXT;

    -- Decision on maintenance.
    SELECT min(e.at) INTO v_atd FROM dadm.da_event e
     WHERE e.da_id = v.id AND e.to_status = 'ATD';
    IF v_atd IS NULL AND v.status = 'ATD' THEN
        v_atd := v.status_since;
    END IF;
    IF v_atd IS NOT NULL THEN
        SELECT min(e.at) INTO v_decided FROM dadm.da_event e
         WHERE e.da_id = v.id AND e.from_status = 'ATD' AND e.to_status <> 'ATD'
           AND e.at >= v_atd;
    END IF;
    SELECT * INTO c FROM dadm.sla_clock(v_atd, CASE WHEN v_bloquant THEN 2 ELSE 10 END,
                                        v_decided, p_now);
    clock := 'decision'; started_at := v_atd; limit_days := CASE WHEN v_bloquant THEN 2 ELSE 10 END;
    due_at := c.due_at; done_at := v_decided; elapsed := c.elapsed; state := c.state;
    RETURN NEXT;
END
$$;

-- The same clocks as one JSON object keyed by clock, for the API:
-- {"acknowledgement": {"started_at", "limit_days", "due_at", "done_at",
-- "elapsed", "state"}, "answer": {…}, "decision": {…}}. SECURITY INVOKER.
CREATE FUNCTION dadm.da_sla_json(p_da bigint, p_now timestamptz) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$
    SELECT jsonb_object_agg(s.clock, to_jsonb(s) - 'clock')
      FROM dadm.da_sla(p_da, p_now) s
$$;

-- The ARS / AVS timers, run as of p_now (the job passes now(); dadmctl
-- da-timers --at passes any instant). For each DA waiting on the site (ARS:
-- a question; AVS: a proposed solution):
-- - 5 business days after it entered the wait (status_since) without a
--   move: a reminder, once per wait (reminded_at is set; a reminder older
--   than the wait's start belongs to an earlier wait): a `reminder` event
--   (no author), a mail to the filer;
-- - 5 business days after that reminder: automatic closure: ABN, no
--   sub-status, closed, not published, an `auto_closure` event (from the
--   wait to ABN), a mail to the filer, an audit row.
-- Agency closures pause the timers: their days are not business days, and
-- nothing is issued when p_now falls inside one. Idempotent: a second run
-- at the same instant finds nothing due. One run at a time (transaction
-- advisory lock on the job's key, which the job runner also holds); rows a
-- concurrent transaction is moving are skipped and taken by the next run.
-- Returns the number of reminders and closures issued.
CREATE FUNCTION dadm.da_timers_run(p_now timestamptz, OUT reminders integer,
                                   OUT closures integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    d record;
    v_wait text;
BEGIN
    reminders := 0;
    closures := 0;
    IF p_now IS NULL THEN
        RAISE EXCEPTION 'da_timers_run: p_now is required' USING ERRCODE = '22004';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('dadm.job.da_timers'));
    IF dadm.in_closure(dadm.paris_date(p_now)) THEN
        RETURN;
    END IF;
    FOR d IN
        SELECT x.id, x.etab_id, x.number, x.title, x.status, x.status_since, x.reminded_at,
               a.email AS filer_email
          FROM dadm.da x JOIN dadm.account a ON a.id = x.filer_id
         WHERE x.status IN ('ARS', 'AVS') AND x.closed_at IS NULL
         ORDER BY x.id
           FOR UPDATE OF x SKIP LOCKED
    LOOP
        v_wait := CASE d.status WHEN 'ARS' THEN 'une réponse à la question du service assistance'
                                ELSE 'votre validation ou votre refus de la solution proposée' END;
        IF d.reminded_at IS NULL OR d.reminded_at < d.status_since THEN
            CONTINUE WHEN dadm.add_business_days(d.status_since, 5) > p_now;
            UPDATE dadm.da SET reminded_at = p_now, updated_at = now() WHERE id = d.id;
            INSERT INTO dadm.da_event (etab_id, da_id, at, author_id, kind, body, detail)
            VALUES (d.etab_id, d.id, p_now, NULL, 'reminder',
                    format('Relance automatique : %s est attendue depuis le %s.', v_wait,
                           to_char(d.status_since AT TIME ZONE 'Europe/Paris', 'DD/MM/YYYY')),
                    jsonb_build_object('wait', d.status, 'closes_at',
                                       dadm.add_business_days(p_now, 5)));
            PERFORM dadm.outbox_push(d.etab_id, d.filer_email,
                format('DA n° %s : relance', d.number),
                format(E'Bonjour,\n\nLa demande d''assistance n° %s « %s » attend %s ' ||
                       E'depuis le %s.\n\nSans suite de votre part dans les 5 jours ouvrés, ' ||
                       E'elle sera clôturée automatiquement le %s et ne figurera pas dans la ' ||
                       E'base de connaissance.\n\nLe service assistance',
                       d.number, d.title, v_wait,
                       to_char(d.status_since AT TIME ZONE 'Europe/Paris', 'DD/MM/YYYY'),
                       to_char(dadm.add_business_days(p_now, 5) AT TIME ZONE 'Europe/Paris'
                               - interval '1 day', 'DD/MM/YYYY')));
            reminders := reminders + 1;
        ELSE
            CONTINUE WHEN dadm.add_business_days(d.reminded_at, 5) > p_now;
            UPDATE dadm.da
               SET status = 'ABN', sub_status = NULL, status_since = p_now, closed_at = p_now,
                   published = false, updated_at = now()
             WHERE id = d.id;
            INSERT INTO dadm.da_event (etab_id, da_id, at, author_id, kind, from_status,
                                       to_status, body, detail)
            VALUES (d.etab_id, d.id, p_now, NULL, 'auto_closure', d.status::dadm.da_status,
                    'ABN', format('Clôture automatique : %s n''est pas venue après la relance ' ||
                                  'du %s.', v_wait,
                                  to_char(d.reminded_at AT TIME ZONE 'Europe/Paris',
                                          'DD/MM/YYYY')),
                    jsonb_build_object('wait', d.status, 'reminded_at', d.reminded_at));
            PERFORM dadm.outbox_push(d.etab_id, d.filer_email,
                format('DA n° %s : clôture automatique', d.number),
                format(E'Bonjour,\n\nLa demande d''assistance n° %s « %s » est clôturée ' ||
                       E'automatiquement : %s n''est pas venue après la relance du %s.\n' ||
                       E'Elle ne figurera pas dans la base de connaissance.\n\n' ||
                       E'Le service assistance',
                       d.number, d.title, v_wait,
                       to_char(d.reminded_at AT TIME ZONE 'Europe/Paris', 'DD/MM/YYYY')));
            PERFORM dadm.audit_append('da.auto_closure', 'da:' || d.number, d.etab_id,
                                      jsonb_build_object('da_id', d.id, 'from', d.status,
                                                         'reminded_at', d.reminded_at,
                                                         'at', p_now));
            closures := closures + 1;
        END IF;
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION dadm.paris_date(timestamptz), dadm.paris_day_end(date),
    dadm.easter_sunday(integer), dadm.public_holidays(integer), dadm.is_public_holiday(date),
    dadm.in_closure(date), dadm.is_business_day(date), dadm.business_days(date, date),
    dadm.add_business_days(timestamptz, integer),
    dadm.business_days_between(timestamptz, timestamptz),
    dadm.sla_clock(timestamptz, integer, timestamptz, timestamptz, tstzrange[]),
    dadm.da_sla(bigint, timestamptz), dadm.da_sla_json(bigint, timestamptz),
    dadm.da_timers_run(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.paris_date(timestamptz), dadm.paris_day_end(date),
    dadm.easter_sunday(integer), dadm.public_holidays(integer), dadm.is_public_holiday(date),
    dadm.in_closure(date), dadm.is_business_day(date), dadm.business_days(date, date),
    dadm.add_business_days(timestamptz, integer),
    dadm.business_days_between(timestamptz, timestamptz),
    dadm.sla_clock(timestamptz, integer, timestamptz, timestamptz, tstzrange[]),
    dadm.da_sla(bigint, timestamptz), dadm.da_sla_json(bigint, timestamptz),
    dadm.da_timers_run(timestamptz) TO dadm_app;
