-- Attachments and production-access consents of assistance requests: what
-- the handlers of src/api_da_files.c need beyond the tables and policies of
-- 0009_da.sql.
--
-- The people of a DA (its filer, its consultant, who uploaded a file, who
-- asked or decided a consent) are not all visible to each other through
-- the account policies: a correspondent does not see the agency's
-- accounts, a contractor sees none. dadm.da_party gives their name (for
-- the lists) and mail address (for the outbox) to whoever sees the DA, and
-- for those people only (dadm.da_sees of 0011 says who sees a DA).

-- Name and mail address of account p_account when it takes part in DA p_da
-- and the caller sees that DA; no row otherwise.
CREATE FUNCTION dadm.da_party(p_da bigint, p_account bigint)
RETURNS TABLE (name text, email text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT trim(a.given_name || ' ' || a.family_name), a.email
      FROM dadm.account a
     WHERE a.id = p_account
       AND dadm.da_sees(p_da)
       AND (EXISTS (SELECT 1 FROM dadm.da d
                     WHERE d.id = p_da AND p_account IN (d.filer_id, d.consultant_id))
            OR EXISTS (SELECT 1 FROM dadm.da_attachment f
                        WHERE f.da_id = p_da AND f.uploader_id = p_account)
            OR EXISTS (SELECT 1 FROM dadm.consent c
                        WHERE c.da_id = p_da AND p_account IN (c.requested_by, c.decided_by)))
$$;

REVOKE ALL ON FUNCTION dadm.da_party(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.da_party(bigint, bigint)
    TO dadm_app;
