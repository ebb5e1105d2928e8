-- What a large first load of a directory does once the reading is over,
-- made smaller (bench/ldap-sync, 230,000 persons): three changes to the
-- functions of 0006_ldap.sql.
--
-- 1. A directory run inserts its new accounts without a foreign-key check per
-- row.
--
-- The INSERT of ldap_apply creates the accounts of one establishment,
-- p_etab, for no contractor. The checks of account's two foreign keys
-- (etab_id -> etab, contractor_id -> contractor) run once per row: for a
-- first load of 230,000 accounts they were a quarter of the INSERT's
-- instructions (29.6 G -> 21.6 G without them) and 20% of the run's time.
-- ldap_apply now does what they would do, once: it takes the same FOR KEY
-- SHARE lock on the establishment's row (so that it cannot be deleted nor
-- its id changed before the run commits) and fails as they would when it is
-- missing; contractor_id is NULL, which a foreign key never checks. Then it
-- sets session_replication_role to replica for that one statement, which
-- skips the triggers of the table's ordinary ('O') kind: the foreign-key
-- checks, and nothing else (account has no other trigger on INSERT; a test
-- keeps it so). Constraints, unique indexes and row-level security are not
-- triggers and apply as before.
--
-- Setting session_replication_role needs a superuser's grant to the owner
-- role (GRANT SET ON PARAMETER session_replication_role TO dadm_owner; see
-- the README). It gives the owner nothing it lacked: as the owner of the
-- table it may drop the constraint. Without the grant the INSERT keeps its
-- per-row checks, and the result is the same.
--
-- 2. The caller of ldap_apply names the logins that several staged entries
-- share (p_dup_logins): it counts them while it reads the directory, with
-- nothing else to do, where ldap_apply grouped the 230,000 staged rows of a
-- large first load again once the reading was over (0.3-0.4 s of it).
-- The rule is unchanged: none of the entries sharing a login is
-- provisioned, and each is listed as skipped (duplicate_eppn).
--
-- 3. The staging table of a directory run takes dir_info as jsonb: the COPY
-- parses it while dadmctl is still reading the directory, where
-- ldap_apply parsed it once the reading was over, in the INSERT of the new
-- accounts (a first load of 230,000 accounts: 2.6 G of that INSERT's
-- 21.6 G instructions). A listing that changes nothing now parses every
-- entry's dir_info where it parsed none, but during the read, which the
-- directory server paces, not after it.

DROP FUNCTION dadm.ldap_apply(bigint, dadm.dir_run_mode, boolean, timestamptz, bytea, integer,
                              integer, jsonb, boolean);

CREATE FUNCTION dadm.ldap_apply(p_etab bigint, p_mode dadm.dir_run_mode,
                                p_present_mode boolean, p_started timestamptz,
                                p_cookie bytea, p_seen integer, p_skipped integer,
                                p_skipped_entries jsonb, p_dry boolean, p_dup_logins jsonb,
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
    v_role text;
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
    -- The caller names those logins (p_dup_logins, a JSON array).
    WITH t AS (
        DELETE FROM pg_temp.ldap_in i
         WHERE i.login IN (SELECT jsonb_array_elements_text(p_dup_logins))
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
           dir_info = i.dir_info, dir_hash = i.hash, status = 'active',
           updated_at = now()
      FROM pg_temp.ldap_in i
     WHERE i.account_id IS NOT NULL AND a.id = i.account_id;

    -- Every new account belongs to p_etab and to no contractor: the
    -- establishment is checked and locked once, as the foreign key's check
    -- would for each row, and when this role may, the INSERT runs with the
    -- per-row checks off (1. above).
    PERFORM 1 FROM dadm.etab WHERE id = p_etab FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = format('no establishment %s', p_etab);
    END IF;
    IF has_parameter_privilege('session_replication_role', 'SET') THEN
        v_role := current_setting('session_replication_role');
        PERFORM set_config('session_replication_role', 'replica', true);
    END IF;
    INSERT INTO dadm.account (etab_id, contractor_id, kind, login, given_name, family_name,
                              email, phone, dir_eppn, dir_key, dir_info, dir_hash)
    SELECT p_etab, NULL, 'person', i.login, i.given_name, i.family_name, i.email, i.phone,
           i.eppn, i.dir_key, i.dir_info, i.hash
      FROM pg_temp.ldap_in i
     WHERE i.account_id IS NULL;
    IF v_role IS NOT NULL THEN
        PERFORM set_config('session_replication_role', v_role, true);
    END IF;

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

REVOKE ALL ON FUNCTION dadm.ldap_apply(bigint, dadm.dir_run_mode, boolean, timestamptz, bytea,
                                       integer, integer, jsonb, boolean, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.ldap_apply(bigint, dadm.dir_run_mode, boolean, timestamptz, bytea,
                                          integer, integer, jsonb, boolean, jsonb) TO dadm_app;

CREATE OR REPLACE FUNCTION dadm.ldap_stage_open() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
BEGIN
    DROP TABLE IF EXISTS pg_temp.ldap_stage;
    -- kind: 'e' an entry to create or update, 'p' a key still present,
    -- 'd' a key the directory deleted. hash: a digest of the mapped values,
    -- so that an unchanged entry costs one comparison. dir_info is parsed by
    -- the COPY, while the directory is still being read.
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
        dir_info jsonb
    ) ON COMMIT DROP;
    EXECUTE format('GRANT INSERT ON pg_temp.ldap_stage TO %I', session_user);
END
$$;
