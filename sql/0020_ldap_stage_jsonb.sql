-- The staging table of a directory run takes dir_info as jsonb: the COPY
-- parses it while dadmctl is still reading the directory, where
-- ldap_apply parsed it once the reading was over, in the INSERT of the new
-- accounts (a first load of 230,000 accounts: 2.6 G of that INSERT's
-- 21.7 G instructions). A listing that changes nothing now parses every
-- entry's dir_info where it parsed none, but during the read, which the
-- directory server paces, not after it. ldap_apply's casts of dir_info to
-- jsonb are now no-ops.
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
