-- Directory provisioning: per-establishment LDAP settings, synchronisation
-- state (the RFC 4533 cookie), run records, and the SQL side of a run.
--
-- The sync engine runs on one database connection, as the owner in dadmctl
-- and as the daemon's role in dadmd's job thread. Rather than give the
-- daemon a second, privileged login, every read and write of a run goes
-- through the SECURITY DEFINER functions below: they are the job's whole
-- interface, each touching only the establishment it is given, and the
-- daemon's role still reads no tenant table outside row-level security.

CREATE TYPE dadm.ldap_scope AS ENUM ('base', 'one', 'sub');
CREATE TYPE dadm.dir_run_mode AS ENUM ('full', 'sync', 'timestamp');
CREATE TYPE dadm.dir_run_status AS ENUM ('succeeded', 'failed');

-- Where an establishment's people live, and how to read them.
CREATE TABLE dadm.etab_directory (
    etab_id        bigint PRIMARY KEY REFERENCES dadm.etab,
    uri            text NOT NULL CHECK (uri ~ '^ldaps?://[^\s/?#]{1,250}/?$'),
    starttls       boolean NOT NULL DEFAULT true,
    allow_plain    boolean NOT NULL DEFAULT false,
    ca_file        text CHECK (length(ca_file) BETWEEN 1 AND 4096),
    bind_dn        text CHECK (length(bind_dn) BETWEEN 1 AND 1000),
    bind_password  text CHECK (length(bind_password) <= 1000),
    -- A path read at each run: the secret need not sit in the database.
    password_file  text CHECK (length(password_file) BETWEEN 1 AND 4096),
    base_dn        text NOT NULL CHECK (length(base_dn) BETWEEN 1 AND 1000),
    scope          dadm.ldap_scope NOT NULL DEFAULT 'sub',
    filter         text NOT NULL DEFAULT '(objectClass=eduPerson)'
                   CHECK (length(filter) BETWEEN 3 AND 2000),
    page_size      integer NOT NULL DEFAULT 500 CHECK (page_size BETWEEN 1 AND 10000),
    -- How incremental runs read: content synchronisation when the server
    -- offers it ('auto'), always ('sync'), or never ('timestamp': entries
    -- whose modifyTimestamp is newer than the last run, paged, for bind
    -- accounts whose size limit forbids an unpaged synchronisation).
    incremental    text NOT NULL DEFAULT 'auto'
                   CHECK (incremental IN ('auto', 'sync', 'timestamp')),
    -- Required scope of eduPersonPrincipalName values ("univ-a.test"); NULL: any.
    eppn_domain    text CHECK (eppn_domain ~ '^[a-z0-9.-]{1,190}$'),
    -- Attribute mapping; the defaults are SUPANN / eduPerson names.
    map            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(map) = 'object'),
    interval_seconds integer NOT NULL DEFAULT 3600 CHECK (interval_seconds >= 60),
    enabled        boolean NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT (bind_password IS NOT NULL AND password_file IS NOT NULL))
);

-- What the last successful run left behind, for the next incremental one.
CREATE TABLE dadm.etab_directory_state (
    etab_id       bigint PRIMARY KEY REFERENCES dadm.etab,
    sync_cookie   bytea,
    last_started_at timestamptz,
    last_full_at  timestamptz,
    last_run_at   timestamptz
);

CREATE TABLE dadm.directory_run (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    etab_id     bigint NOT NULL REFERENCES dadm.etab,
    mode        dadm.dir_run_mode NOT NULL,
    status      dadm.dir_run_status NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz NOT NULL DEFAULT now(),
    seen        integer NOT NULL DEFAULT 0,
    created     integer NOT NULL DEFAULT 0,
    updated     integer NOT NULL DEFAULT 0,
    disabled    integer NOT NULL DEFAULT 0,
    reenabled   integer NOT NULL DEFAULT 0,
    skipped     integer NOT NULL DEFAULT 0,
    -- [{"dn", "reason"}], at most 1000 kept; `skipped` has the full count.
    skipped_entries jsonb NOT NULL DEFAULT '[]',
    error       text CHECK (length(error) <= 2000),
    UNIQUE (etab_id, id)
);
CREATE INDEX directory_run_etab_idx ON dadm.directory_run (etab_id, id DESC);

-- What the directory says of a provisioned account: its
-- eduPersonPrincipalName as released (the key single sign-on matches within
-- the establishment whose IdP answered), the other mapped attributes, and a
-- digest of all of them as last applied (an unchanged entry is skipped on
-- that comparison alone).
-- (The login, its lower-case form, is unique and indexed: single sign-on
-- finds the account by login and establishment.)
ALTER TABLE dadm.account ADD COLUMN dir_eppn text CHECK (length(dir_eppn) <= 256),
                         ADD COLUMN dir_info jsonb,
                         ADD COLUMN dir_hash text;

-- account_etab_idx duplicates the leading column of the unique indexes
-- (etab_id, id) and (etab_id, dir_key): every provisioned account paid for
-- it and no query needs it.
DROP INDEX dadm.account_etab_idx;

-- The same rules as the account checks of 0001_base.sql, written so that
-- PostgreSQL's regular expression engine does not expand the bounded
-- repetitions: with them a load of 230,000 accounts spent most of its time
-- here (about 40 µs a row instead of 2).
ALTER TABLE dadm.account
    DROP CONSTRAINT account_login_check,
    ADD CONSTRAINT account_login_check
        CHECK (login ~ '^[a-z0-9][a-z0-9._@-]+$' AND length(login) <= 128),
    DROP CONSTRAINT account_email_check,
    ADD CONSTRAINT account_email_check
        CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(split_part(email, '@', 1)) <= 64
               AND length(split_part(email, '@', 2)) <= 190),
    DROP CONSTRAINT account_phone_check,
    ADD CONSTRAINT account_phone_check
        CHECK (phone ~ '^\+?[0-9 .()-]+$'
               AND length(phone) - (left(phone, 1) = '+')::integer BETWEEN 4 AND 30);

ALTER TABLE dadm.etab_directory ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.etab_directory FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.etab_directory TO dadm_owner USING (true) WITH CHECK (true);

ALTER TABLE dadm.etab_directory_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.etab_directory_state FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.etab_directory_state TO dadm_owner USING (true) WITH CHECK (true);

ALTER TABLE dadm.directory_run ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.directory_run FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.directory_run TO dadm_owner USING (true) WITH CHECK (true);
-- The agency and the establishment's administrators, nobody else.
CREATE POLICY scope_read ON dadm.directory_run FOR SELECT TO dadm_app
    USING ((SELECT dadm.my_agency())
           OR etab_id = ANY ((SELECT dadm.my_admin_etabs())::bigint[]));

GRANT SELECT ON dadm.directory_run TO dadm_app;

-- Settings and state of one establishment's directory, for the engine.
CREATE FUNCTION dadm.ldap_settings(p_etab bigint)
RETURNS TABLE (etab_id bigint, uai text, uri text, starttls boolean, allow_plain boolean,
               ca_file text, bind_dn text, bind_password text, password_file text,
               base_dn text, scope text, filter text, page_size integer, eppn_domain text,
               map jsonb, incremental text, sync_cookie bytea, last_started_at text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT d.etab_id, e.uai, d.uri, d.starttls, d.allow_plain, d.ca_file, d.bind_dn,
           d.bind_password, d.password_file, d.base_dn, d.scope::text, d.filter, d.page_size,
           d.eppn_domain, d.map, d.incremental, s.sync_cookie,
           -- A minute of margin for clocks apart: re-reading an unchanged
           -- entry changes nothing.
           to_char((s.last_started_at - interval '1 minute') AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS"Z"')
      FROM dadm.etab_directory d JOIN dadm.etab e ON e.id = d.etab_id
      LEFT JOIN dadm.etab_directory_state s ON s.etab_id = d.etab_id
     WHERE d.etab_id = p_etab
$$;

-- Establishments whose scheduled run is due, and whether it must be a
-- complete listing: never done, or older than a day (an incremental run by
-- modifyTimestamp cannot see an entry leave, nor one enter the scope
-- without a change).
CREATE FUNCTION dadm.ldap_due() RETURNS TABLE (etab_id bigint, full_run boolean)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT d.etab_id,
           s.last_full_at IS NULL OR s.last_full_at < now() - interval '1 day'
      FROM dadm.etab_directory d
      LEFT JOIN dadm.etab_directory_state s ON s.etab_id = d.etab_id
     WHERE d.enabled
       AND (s.last_run_at IS NULL
            OR s.last_run_at + make_interval(secs => d.interval_seconds) <= now())
     ORDER BY d.etab_id
$$;

-- Opens the staging table of a run: a temporary table, dropped at commit,
-- that the calling role may fill with COPY and nothing else.
CREATE FUNCTION dadm.ldap_stage_open() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
BEGIN
    DROP TABLE IF EXISTS pg_temp.ldap_stage;
    -- kind: 'e' an entry to create or update, 'p' a key still present,
    -- 'd' a key the directory deleted. hash: a digest of the mapped values,
    -- so that an unchanged entry costs one comparison. dir_info stays text
    -- until it is written.
    CREATE TEMP TABLE ldap_stage (
        kind text NOT NULL,
        dir_key text NOT NULL,
        dn text,
        hash text,
        login text,
        eppn text,
        given_name text,
        family_name text,
        email text,
        phone text,
        dir_info text
    ) ON COMMIT DROP;
    EXECUTE format('GRANT INSERT ON pg_temp.ldap_stage TO %I', session_user);
END
$$;

-- Applies the staged entries of a run to the accounts of p_etab, in the
-- caller's transaction, and records the run. p_present_mode: disable every
-- active account of the establishment whose key was neither sent nor
-- present (a full listing); otherwise disable only the 'd' keys. Each key is
-- staged at most once (the caller sees to it). Entries sharing one login,
-- and entries whose login belongs to another account, are skipped and
-- listed. Returns the run record's id (NULL when p_dry: the counts are
-- computed, nothing is written).
CREATE FUNCTION dadm.ldap_apply(p_etab bigint, p_mode dadm.dir_run_mode,
                                p_present_mode boolean, p_started timestamptz,
                                p_cookie bytea, p_seen integer, p_skipped integer,
                                p_skipped_entries jsonb, p_dry boolean,
                                OUT run_id bigint, OUT created integer, OUT updated integer,
                                OUT disabled integer, OUT reenabled integer,
                                OUT skipped integer, OUT skipped_entries jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    v_taken jsonb;
    v_dup jsonb;
    v_ids bigint[];
BEGIN
    -- Only what is new or changed goes further: a run over an unchanged
    -- directory ends with this join and the check for vanished keys.
    CREATE TEMP TABLE ldap_in ON COMMIT DROP AS
        SELECT s.*, a.id AS account_id, a.status AS status
          FROM pg_temp.ldap_stage s
          LEFT JOIN dadm.account a ON a.etab_id = p_etab AND a.dir_key = s.dir_key
         WHERE s.kind = 'e'
           AND (a.id IS NULL OR a.dir_hash IS DISTINCT FROM s.hash OR a.status <> 'active');

    -- One login claimed by several entries (the directory does not enforce
    -- unique eduPersonPrincipalName values): none of them is provisioned.
    WITH t AS (
        DELETE FROM pg_temp.ldap_in i
         WHERE i.login IN (SELECT x.login FROM pg_temp.ldap_stage x WHERE x.kind = 'e'
                            GROUP BY x.login HAVING count(*) > 1)
        RETURNING i.dn)
    SELECT coalesce(jsonb_agg(jsonb_build_object('dn', t.dn, 'reason', 'duplicate_eppn')
                              ORDER BY t.dn), '[]')
      INTO v_dup FROM t;

    -- Logins held by another account (another establishment, a local
    -- account, another directory key): never merged, skipped.
    WITH t AS (
        DELETE FROM pg_temp.ldap_in i
         WHERE EXISTS (SELECT 1 FROM dadm.account a
                        WHERE a.login = i.login
                          AND (a.etab_id IS DISTINCT FROM p_etab
                               OR a.dir_key IS DISTINCT FROM i.dir_key))
        RETURNING i.dn)
    SELECT coalesce(jsonb_agg(jsonb_build_object('dn', t.dn, 'reason', 'login_taken')
                              ORDER BY t.dn), '[]')
      INTO v_taken FROM t;
    skipped := p_skipped + jsonb_array_length(v_dup) + jsonb_array_length(v_taken);
    skipped_entries := (SELECT coalesce(jsonb_agg(y.x), '[]') FROM (
        SELECT x FROM jsonb_array_elements(p_skipped_entries || v_dup || v_taken) x
         LIMIT 1000) y);

    SELECT count(*) FILTER (WHERE i.account_id IS NULL),
           count(*) FILTER (WHERE i.account_id IS NOT NULL AND i.status = 'active'),
           count(*) FILTER (WHERE i.status = 'disabled')
      INTO created, updated, reenabled
      FROM pg_temp.ldap_in i;

    IF p_present_mode THEN
        SELECT array_agg(a.id) INTO v_ids FROM dadm.account a
         WHERE a.etab_id = p_etab AND a.dir_key IS NOT NULL AND a.status = 'active'
           AND NOT EXISTS (SELECT 1 FROM pg_temp.ldap_stage s
                            WHERE s.dir_key = a.dir_key AND s.kind IN ('e', 'p'));
    ELSE
        SELECT array_agg(a.id) INTO v_ids FROM dadm.account a
         WHERE a.etab_id = p_etab AND a.status = 'active'
           AND a.dir_key IN (SELECT s.dir_key FROM pg_temp.ldap_stage s WHERE s.kind = 'd')
           AND a.dir_key NOT IN (SELECT s.dir_key FROM pg_temp.ldap_stage s
                                  WHERE s.kind = 'e');
    END IF;
    disabled := coalesce(cardinality(v_ids), 0);

    IF p_dry THEN
        DROP TABLE pg_temp.ldap_in;
        RETURN;
    END IF;

    UPDATE dadm.account a
       SET login = i.login, dir_eppn = i.eppn, given_name = i.given_name,
           family_name = i.family_name, email = i.email, phone = i.phone,
           dir_info = i.dir_info::jsonb, dir_hash = i.hash, status = 'active',
           updated_at = now()
      FROM pg_temp.ldap_in i
     WHERE i.account_id IS NOT NULL AND a.id = i.account_id;

    INSERT INTO dadm.account (etab_id, kind, login, given_name, family_name, email, phone,
                              dir_eppn, dir_key, dir_info, dir_hash)
    SELECT p_etab, 'person', i.login, i.given_name, i.family_name, i.email, i.phone,
           i.eppn, i.dir_key, i.dir_info::jsonb, i.hash
      FROM pg_temp.ldap_in i
     WHERE i.account_id IS NULL;

    IF disabled > 0 THEN
        UPDATE dadm.account SET status = 'disabled', updated_at = now()
         WHERE id = ANY (v_ids);
        UPDATE dadm.session SET ended_at = now()
         WHERE account_id = ANY (v_ids) AND ended_at IS NULL;
    END IF;

    INSERT INTO dadm.directory_run (etab_id, mode, status, started_at, seen, created, updated,
                                    disabled, reenabled, skipped, skipped_entries)
    VALUES (p_etab, p_mode, 'succeeded', p_started, p_seen, created, updated, disabled,
            reenabled, skipped, skipped_entries)
    RETURNING id INTO run_id;

    INSERT INTO dadm.etab_directory_state AS s (etab_id, sync_cookie, last_started_at,
                                                last_full_at, last_run_at)
    VALUES (p_etab, p_cookie, p_started, CASE WHEN p_present_mode THEN p_started END, now())
    ON CONFLICT (etab_id) DO UPDATE
       SET sync_cookie = CASE WHEN p_mode = 'sync' THEN p_cookie ELSE s.sync_cookie END,
           last_started_at = p_started,
           last_full_at = CASE WHEN p_present_mode THEN p_started ELSE s.last_full_at END,
           last_run_at = now();
    DROP TABLE pg_temp.ldap_in;
    -- After a large first load the account statistics are stale until
    -- autovacuum comes by; the next run must not plan on them.
    IF created > 1000 THEN
        ANALYZE dadm.account (etab_id, dir_key, login, status);
    END IF;
END
$$;

-- Records a failed run (nothing else changed). The next scheduled attempt
-- waits for the establishment's interval like a successful one.
CREATE FUNCTION dadm.ldap_fail(p_etab bigint, p_mode dadm.dir_run_mode, p_started timestamptz,
                               p_error text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO dadm.directory_run (etab_id, mode, status, started_at, error)
    VALUES (p_etab, p_mode, 'failed', p_started, left(p_error, 2000))
    RETURNING id INTO v_id;
    INSERT INTO dadm.etab_directory_state AS s (etab_id, last_run_at) VALUES (p_etab, now())
    ON CONFLICT (etab_id) DO UPDATE SET last_run_at = now();
    RETURN v_id;
END
$$;

-- Forgets the cookie: the next incremental run is a full refresh.
CREATE FUNCTION dadm.ldap_forget_cookie(p_etab bigint) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    UPDATE dadm.etab_directory_state SET sync_cookie = NULL WHERE etab_id = p_etab
$$;

REVOKE ALL ON FUNCTION dadm.ldap_settings(bigint), dadm.ldap_due(), dadm.ldap_stage_open(),
    dadm.ldap_apply(bigint, dadm.dir_run_mode, boolean, timestamptz, bytea, integer, integer,
                    jsonb, boolean),
    dadm.ldap_fail(bigint, dadm.dir_run_mode, timestamptz, text),
    dadm.ldap_forget_cookie(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.ldap_settings(bigint), dadm.ldap_due(), dadm.ldap_stage_open(),
    dadm.ldap_apply(bigint, dadm.dir_run_mode, boolean, timestamptz, bytea, integer, integer,
                    jsonb, boolean),
    dadm.ldap_fail(bigint, dadm.dir_run_mode, timestamptz, text),
    dadm.ldap_forget_cookie(bigint) TO dadm_app;
