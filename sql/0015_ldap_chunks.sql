-- The accounts of a listing are written while the directory is still
-- being read.
--
-- A first listing of a large directory spent as long creating accounts
-- after the read as on the read itself. The run now sends its entries in
-- chunks of a few thousand (dadm.ldap_stage_add, a statement the caller
-- does not wait for: it goes on reading while PostgreSQL works) and each
-- chunk creates at once the accounts of its entries that are certainly
-- new: a key the establishment does not have, a login no account holds,
-- once in the chunk. Everything else waits for ldap_apply at the end of
-- the run, which decides as before over the whole listing. The only case
-- where an early creation differs from that decision, one login claimed by
-- entries of two chunks, is undone at its start; the outcome is the one
-- the whole listing gives at once (tests/integration/test_ldap.py covers
-- both sides of a chunk boundary).
--
-- The staging table is filled by that function only: the caller no longer
-- writes it with COPY, and no longer has any right on it.

CREATE OR REPLACE FUNCTION dadm.ldap_stage_open() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
BEGIN
    DROP TABLE IF EXISTS pg_temp.ldap_stage;
    -- kind: 'e' an entry to create or update, 'p' a key still present,
    -- 'd' a key the directory deleted. hash: a digest of the mapped values.
    -- created: ldap_stage_add created the account of this entry.
    CREATE TEMP TABLE ldap_stage (
        kind text NOT NULL CHECK (kind IN ('e', 'p', 'd')),
        dir_key text NOT NULL,
        dn text,
        hash text,
        login text,
        eppn text,
        given_name text,
        family_name text,
        email text,
        phone text,
        dir_info text,
        created boolean NOT NULL DEFAULT false
    ) ON COMMIT DROP;
END
$$;

-- Stages one chunk of a run (parallel arrays, one element per row) and,
-- with p_create, creates the accounts of its certainly new entries (see
-- above). Returns how many it created.
CREATE FUNCTION dadm.ldap_stage_add(p_etab bigint, p_create boolean, p_kind text[],
                                    p_key text[], p_dn text[], p_hash text[], p_login text[],
                                    p_eppn text[], p_given text[], p_family text[],
                                    p_email text[], p_phone text[], p_info text[])
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    v_created integer := 0;
BEGIN
    IF NOT p_create THEN
        INSERT INTO pg_temp.ldap_stage (kind, dir_key, dn, hash, login, eppn, given_name,
                                        family_name, email, phone, dir_info)
        SELECT * FROM unnest(p_kind, p_key, p_dn, p_hash, p_login, p_eppn, p_given, p_family,
                             p_email, p_phone, p_info);
        RETURN 0;
    END IF;
    WITH u AS (
        SELECT * FROM unnest(p_kind, p_key, p_dn, p_hash, p_login, p_eppn, p_given, p_family,
                             p_email, p_phone, p_info)
                   AS u(kind, dir_key, dn, hash, login, eppn, given_name, family_name, email,
                        phone, dir_info)),
    c AS (
        SELECT u.*, count(*) OVER (PARTITION BY u.login) AS n FROM u WHERE u.kind = 'e'),
    ins AS (
        INSERT INTO dadm.account (etab_id, kind, login, given_name, family_name, email, phone,
                                  dir_eppn, dir_key, dir_info, dir_hash)
        SELECT p_etab, 'person', c.login, c.given_name, c.family_name, c.email, c.phone,
               c.eppn, c.dir_key, c.dir_info::jsonb, c.hash
          FROM c
         WHERE c.n = 1
           AND NOT EXISTS (SELECT 1 FROM dadm.account a
                            WHERE a.etab_id = p_etab AND a.dir_key = c.dir_key)
           AND NOT EXISTS (SELECT 1 FROM dadm.account a WHERE a.login = c.login)
        RETURNING dir_key),
    st AS (
        INSERT INTO pg_temp.ldap_stage (kind, dir_key, dn, hash, login, eppn, given_name,
                                        family_name, email, phone, dir_info, created)
        SELECT u.*, u.kind = 'e' AND u.dir_key IN (SELECT ins.dir_key FROM ins) FROM u)
    SELECT count(*) INTO v_created FROM ins;
    RETURN v_created;
END
$$;

-- As in 0006_ldap.sql, with the accounts created early counted as created,
-- and those of a login several entries claim undone first.
CREATE OR REPLACE FUNCTION dadm.ldap_apply(p_etab bigint, p_mode dadm.dir_run_mode,
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
    v_early integer;
    v_undone integer;
BEGIN
    -- Logins claimed by several entries of the listing, whichever chunks
    -- they came in.
    CREATE TEMP TABLE ldap_dup ON COMMIT DROP AS
        SELECT x.login FROM pg_temp.ldap_stage x WHERE x.kind = 'e'
         GROUP BY x.login HAVING count(*) > 1;

    -- The accounts ldap_stage_add created early for such a login are
    -- removed: the whole listing decides them below. This transaction
    -- created them and nothing refers to them yet.
    DELETE FROM dadm.account a
     USING pg_temp.ldap_stage s
     WHERE s.created AND a.etab_id = p_etab AND a.dir_key = s.dir_key
       AND s.login IN (SELECT d.login FROM pg_temp.ldap_dup d);
    GET DIAGNOSTICS v_undone = ROW_COUNT;
    SELECT count(*) - v_undone INTO v_early FROM pg_temp.ldap_stage s WHERE s.created;
    -- Planned on fresh statistics after a large first load.
    IF v_early > 1000 THEN
        ANALYZE dadm.account (etab_id, dir_key, login, status);
    END IF;

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
         WHERE i.login IN (SELECT d.login FROM pg_temp.ldap_dup d)
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

    SELECT count(*) FILTER (WHERE i.account_id IS NULL) + v_early,
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
        DROP TABLE pg_temp.ldap_in, pg_temp.ldap_dup;
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
    DROP TABLE pg_temp.ldap_in, pg_temp.ldap_dup;
    -- After a large load the account statistics are stale until autovacuum
    -- comes by; the next run must not plan on them.
    IF created - v_early > 1000 THEN
        ANALYZE dadm.account (etab_id, dir_key, login, status);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION dadm.ldap_stage_add(bigint, boolean, text[], text[], text[], text[],
                                           text[], text[], text[], text[], text[], text[],
                                           text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.ldap_stage_add(bigint, boolean, text[], text[], text[], text[],
                                              text[], text[], text[], text[], text[], text[],
                                              text[]) TO dadm_app;
