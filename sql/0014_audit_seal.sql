-- The audit chain is sealed after the fact, not inside each transaction.
--
-- Until now dadm.audit_append chained every row to the previous one under a
-- global advisory lock held until commit: every audited request (each
-- login, each change) waited for the one before it to commit, and on the
-- assertion consumer that wait was half the time spent in SQL. Now a row is
-- appended unsealed (no lock, no hash), and a single sealer (the
-- `audit_seal` job, or dadm.audit_seal() on demand) gives the committed
-- unsealed rows, in id order, the next positions `seq` of the chain and
-- their hashes. The chain is read in `seq` order: a row that commits late
-- is chained after rows with larger ids that were sealed before it.
-- dadm.audit_verify() checks the sealed rows; an unsealed row waits at most
-- one period of dadmd's job thread ([jobs] poll_seconds, 30 s by default).

ALTER TABLE dadm.audit
    ADD COLUMN seq bigint UNIQUE,
    ALTER COLUMN prev_hash DROP NOT NULL,
    ALTER COLUMN hash DROP NOT NULL;

-- The rows chained so far were chained in id order.
ALTER TABLE dadm.audit DISABLE TRIGGER audit_append_only;
UPDATE dadm.audit SET seq = id;
ALTER TABLE dadm.audit ENABLE TRIGGER audit_append_only;
ALTER TABLE dadm.audit
    ADD CHECK ((seq IS NULL) = (hash IS NULL) AND (hash IS NULL) = (prev_hash IS NULL));

CREATE INDEX audit_unsealed_idx ON dadm.audit (id) WHERE seq IS NULL;

CREATE OR REPLACE FUNCTION dadm.audit_append(p_action text, p_target text, p_etab bigint,
                                             p_detail jsonb)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    INSERT INTO dadm.audit (at, account_id, etab_id, action, target, detail)
    VALUES (clock_timestamp(), dadm.my_account(), p_etab, p_action, p_target,
            coalesce(p_detail, '{}'))
    RETURNING id
$$;

-- Seals the committed unsealed rows; returns how many. One sealer at a time.
CREATE FUNCTION dadm.audit_seal() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    v_prev bytea;
    v_seq bigint;
    v_n bigint := 0;
    r dadm.audit;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('dadm.audit'));
    SELECT a.hash, a.seq INTO v_prev, v_seq
      FROM dadm.audit a WHERE a.seq IS NOT NULL ORDER BY a.seq DESC LIMIT 1;
    v_prev := coalesce(v_prev, '\x'::bytea);
    v_seq := coalesce(v_seq, 0);
    FOR r IN SELECT * FROM dadm.audit a WHERE a.seq IS NULL ORDER BY a.id LOOP
        v_seq := v_seq + 1;
        UPDATE dadm.audit a
           SET seq = v_seq, prev_hash = v_prev,
               hash = dadm.audit_row_hash(v_prev, r.id, r.at, r.account_id, r.etab_id,
                                          r.action, r.target, r.detail)
         WHERE a.id = r.id
        RETURNING a.hash INTO v_prev;
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END
$$;

-- The sealed chain, in seq order; the id of the first broken row, or NULL.
CREATE OR REPLACE FUNCTION dadm.audit_verify() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT min(id) FROM (
        SELECT id, hash, prev_hash,
               lag(hash, 1, '\x'::bytea) OVER (ORDER BY seq) AS expected_prev,
               dadm.audit_row_hash(prev_hash, id, at, account_id, etab_id, action, target,
                                   detail) AS expected_hash
          FROM dadm.audit WHERE seq IS NOT NULL) x
     WHERE prev_hash <> expected_prev OR hash <> expected_hash
$$;

-- The one update allowed: the sealer giving an unsealed row its place in
-- the chain, nothing else of the row changing.
CREATE OR REPLACE FUNCTION dadm.audit_guard() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.id = OLD.id
           AND NEW.detail = OLD.detail AND NEW.action = OLD.action AND NEW.at = OLD.at
           AND NEW.account_id IS NOT DISTINCT FROM OLD.account_id
           AND NEW.etab_id IS NOT DISTINCT FROM OLD.etab_id
           AND NEW.target IS NOT DISTINCT FROM OLD.target THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = '42501';
END
$$;

REVOKE ALL ON FUNCTION dadm.audit_seal() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.audit_seal() TO dadm_app;
