-- A complete listing that would change nothing is not repeated.
--
-- The outcome of a complete listing depends on three things only: what the
-- directory holds, the settings it is read with, and, on the dadm side, each
-- provisioned account's key, digest of directory values and status (an
-- entry whose digest matches an active account is left alone; an active
-- account whose key is absent is disabled). A full run therefore records,
-- with its outcome:
-- - the directory's contextCSN, read before listing (OpenLDAP's syncprov
--   advances it on every write to the database, anywhere in it);
-- - a fingerprint of the settings (and of the code's mapping version);
-- - a digest of the establishment's provisioned accounts as the run left
--   them.
-- The next full run reads the contextCSN again (one base search) and, when
-- all three are the same, records an `unchanged` run instead of listing
-- 230,000 entries to find nothing to do. Anything else, including a
-- directory without contextCSN, lists in full. A listing that skipped an
-- entry because its login belongs to another account records no digest:
-- that outcome depends on other establishments' accounts, so the next full
-- run lists again.

ALTER TABLE dadm.etab_directory_state
    ADD COLUMN listing_csn text,
    ADD COLUMN listing_fingerprint text,
    ADD COLUMN listing_digest text;

ALTER TABLE dadm.directory_run
    ADD COLUMN unchanged boolean NOT NULL DEFAULT false;

-- The part of an establishment's provisioned accounts a listing compares
-- against: (key, digest of the directory values, status) of each. Order
-- independent (count, XOR and sum of hashes), so no sort.
CREATE FUNCTION dadm.ldap_accounts_digest(p_etab bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT count(*) || ':' || coalesce(bit_xor(hashtextextended(x, 0)), 0) || ':'
           || coalesce(sum(hashtext(x)::bigint), 0)
      FROM (SELECT a.dir_key || '|' || coalesce(a.dir_hash, '') || '|' || a.status::text AS x
              FROM dadm.account a
             WHERE a.etab_id = p_etab AND a.dir_key IS NOT NULL) t
$$;

-- After a complete listing (run p_run, in the same transaction): what the
-- next full run compares with.
CREATE FUNCTION dadm.ldap_listed(p_etab bigint, p_run bigint, p_csn text, p_fingerprint text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    UPDATE dadm.etab_directory_state s
       SET listing_csn = p_csn,
           listing_fingerprint = p_fingerprint,
           listing_digest = CASE WHEN EXISTS (
                   SELECT 1 FROM dadm.directory_run r
                    WHERE r.id = p_run AND r.etab_id = p_etab
                      AND r.skipped <= jsonb_array_length(r.skipped_entries)
                      AND NOT r.skipped_entries @> '[{"reason": "login_taken"}]')
               THEN dadm.ldap_accounts_digest(p_etab) END
     WHERE s.etab_id = p_etab
$$;

-- Before a complete listing: when the directory (p_csn), the settings
-- (p_fingerprint) and the accounts are as the last listing left them,
-- records an unchanged full run and returns its id (0 for a dry run).
-- NULL: list.
CREATE FUNCTION dadm.ldap_unchanged(p_etab bigint, p_csn text, p_fingerprint text,
                                    p_dry boolean)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    st dadm.etab_directory_state;
    v_id bigint;
BEGIN
    SELECT * INTO st FROM dadm.etab_directory_state WHERE etab_id = p_etab;
    IF NOT FOUND OR p_csn IS NULL OR st.listing_csn IS DISTINCT FROM p_csn
       OR st.listing_fingerprint IS DISTINCT FROM p_fingerprint OR st.listing_digest IS NULL
       OR st.listing_digest <> dadm.ldap_accounts_digest(p_etab) THEN
        RETURN NULL;
    END IF;
    IF p_dry THEN
        RETURN 0;
    END IF;
    INSERT INTO dadm.directory_run (etab_id, mode, status, started_at, unchanged)
    VALUES (p_etab, 'full', 'succeeded', now(), true)
    RETURNING id INTO v_id;
    UPDATE dadm.etab_directory_state
       SET last_started_at = now(), last_full_at = now(), last_run_at = now()
     WHERE etab_id = p_etab;
    RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION dadm.ldap_accounts_digest(bigint),
    dadm.ldap_listed(bigint, bigint, text, text),
    dadm.ldap_unchanged(bigint, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.ldap_accounts_digest(bigint),
    dadm.ldap_listed(bigint, bigint, text, text),
    dadm.ldap_unchanged(bigint, text, text, boolean) TO dadm_app;
