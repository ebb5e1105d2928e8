-- Writing mail and audit rows from the daemon: both through SECURITY
-- DEFINER functions, so the daemon's role never reads or edits the tables.

CREATE FUNCTION dadm.outbox_push(p_etab bigint, p_to text, p_subject text, p_body text)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    INSERT INTO dadm.outbox (etab_id, to_addr, subject, body)
    VALUES (p_etab, p_to, p_subject, p_body)
    RETURNING id
$$;

REVOKE ALL ON FUNCTION dadm.outbox_push(bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.outbox_push(bigint, text, text, text) TO dadm_app;
