-- The principal of a request and row-level security.
--
-- Each HTTP request runs in one transaction that starts with
-- dadm.begin_request(token_hash). It checks the session and records its hash
-- in the transaction-local setting `dadm.session`. Every policy derives the
-- caller's scope from that setting through the dadm.my_* functions, which
-- verify the session again: a forged or stale setting matches no live session
-- and so grants nothing. With no setting at all, no tenant-owned row is
-- visible (fail closed).
--
-- The my_* functions are SECURITY DEFINER so that they may read sessions and
-- grants the daemon's role cannot read directly; policies call them through a
-- scalar subquery, (SELECT dadm.my_...()), so they run once per statement,
-- not once per row.

CREATE FUNCTION dadm.session_setting() RETURNS bytea
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$
    SELECT CASE WHEN s ~ '^[0-9a-f]{64}$' THEN decode(s, 'hex') END
      FROM coalesce(current_setting('dadm.session', true), '') AS s
$$;

CREATE FUNCTION dadm.my_account() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT s.account_id
      FROM dadm.session s JOIN dadm.account a ON a.id = s.account_id
     WHERE s.token_hash = dadm.session_setting()
       AND s.ended_at IS NULL
       AND s.expires_at > now()
       AND s.last_seen_at + s.idle_timeout > now()
       AND a.status = 'active'
$$;

CREATE FUNCTION dadm.my_grants() RETURNS SETOF dadm."grant"
LANGUAGE sql STABLE SECURITY DEFINER ROWS 4
SET search_path = pg_catalog, dadm
AS $$
    SELECT g.* FROM dadm."grant" g WHERE g.account_id = dadm.my_account()
$$;

-- Agency staff: consultants, validators and administrators see across tenants.
CREATE FUNCTION dadm.my_agency() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT EXISTS (SELECT 1 FROM dadm.my_grants() g
                    WHERE g.role IN ('consultant', 'validator', 'admin'))
$$;

-- Establishments where the caller holds a role (correspondent or administrator).
CREATE FUNCTION dadm.my_etabs() RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT coalesce(array_agg(DISTINCT g.etab_id), '{}')
      FROM dadm.my_grants() g WHERE g.etab_id IS NOT NULL
$$;

CREATE FUNCTION dadm.my_admin_etabs() RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT coalesce(array_agg(DISTINCT g.etab_id), '{}')
      FROM dadm.my_grants() g WHERE g.role = 'etab_admin'
$$;

-- "etab:product" pairs the caller is a correspondent for.
CREATE FUNCTION dadm.my_corr_scopes() RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT coalesce(array_agg(DISTINCT g.etab_id || ':' || g.product_id), '{}')
      FROM dadm.my_grants() g WHERE g.role = 'correspondent'
$$;

-- The establishment the caller's account belongs to (may hold no role there).
CREATE FUNCTION dadm.my_member_etab() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT a.etab_id FROM dadm.account a WHERE a.id = dadm.my_account()
$$;

-- Opens a session. The caller has authenticated the account (or the product
-- reader) already; only the hash of the token reaches the database.
CREATE FUNCTION dadm.session_open(p_hash bytea, p_account bigint, p_product bigint,
                                  p_method text, p_idle_seconds integer,
                                  p_absolute_seconds integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_account IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM dadm.account WHERE id = p_account AND status = 'active') THEN
        RAISE EXCEPTION 'account % is not active', p_account USING ERRCODE = '42501';
    END IF;
    INSERT INTO dadm.session (token_hash, account_id, product_id, level, method,
                              idle_timeout, expires_at)
    VALUES (p_hash, p_account, p_product, CASE WHEN p_account IS NULL THEN 1 ELSE 2 END,
            p_method, make_interval(secs => p_idle_seconds),
            now() + make_interval(secs => p_absolute_seconds))
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;

-- Starts a request: checks the session, refreshes its idle clock, records
-- it for the policies and returns the principal. No row: anonymous.
CREATE FUNCTION dadm.begin_request(p_hash bytea)
RETURNS TABLE (session_id bigint, level smallint, account_id bigint, product_id bigint,
               login text, given_name text, family_name text, email text,
               etab_id bigint, contractor_id bigint, grants jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    s dadm.session;
BEGIN
    PERFORM set_config('dadm.session', '', true);
    SELECT * INTO s FROM dadm.session x
     WHERE x.token_hash = p_hash AND x.ended_at IS NULL
       AND x.expires_at > now() AND x.last_seen_at + x.idle_timeout > now();
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF s.account_id IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM dadm.account a WHERE a.id = s.account_id AND a.status = 'active') THEN
        RETURN;
    END IF;
    -- Refreshing at most every 30 s keeps a burst of requests from
    -- rewriting the same row each time.
    IF s.last_seen_at < now() - interval '30 seconds' THEN
        UPDATE dadm.session SET last_seen_at = now() WHERE id = s.id;
    END IF;
    PERFORM set_config('dadm.session', encode(p_hash, 'hex'), true);
    RETURN QUERY
        SELECT s.id, s.level, a.id, s.product_id, a.login, a.given_name, a.family_name,
               a.email, a.etab_id, a.contractor_id,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'role', g.role, 'nature', g.nature, 'product_id', g.product_id,
                            'etab_id', g.etab_id, 'contractor_id', g.contractor_id)
                            ORDER BY g.id)
                           FROM dadm."grant" g WHERE g.account_id = a.id), '[]'::jsonb)
          FROM (SELECT 1) one LEFT JOIN dadm.account a ON a.id = s.account_id;
END
$$;

-- Ends one session (logout).
CREATE FUNCTION dadm.session_end(p_hash bytea) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    WITH e AS (UPDATE dadm.session SET ended_at = now()
                WHERE token_hash = p_hash AND ended_at IS NULL RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM e)
$$;

-- Ends every session of an account (disabled account, changed password).
CREATE FUNCTION dadm.account_end_sessions(p_account bigint) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    WITH e AS (UPDATE dadm.session SET ended_at = now()
                WHERE account_id = p_account AND ended_at IS NULL RETURNING 1)
    SELECT count(*)::integer FROM e
$$;

-- Audit: append-only and hash-chained; each row's hash covers the previous
-- hash and the row's content, so any edit or deletion breaks the chain.
CREATE FUNCTION dadm.audit_row_hash(p_prev bytea, p_id bigint, p_at timestamptz,
                                    p_account bigint, p_etab bigint, p_action text,
                                    p_target text, p_detail jsonb)
RETURNS bytea
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog
AS $$
    SELECT sha256(p_prev || convert_to(concat_ws('|', p_id,
                      to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                      p_account, p_etab, p_action, p_target, p_detail::text), 'UTF8'))
$$;

CREATE FUNCTION dadm.audit_append(p_action text, p_target text, p_etab bigint, p_detail jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    v_prev bytea;
    v_id bigint;
    v_at timestamptz := clock_timestamp();
    v_account bigint := dadm.my_account();
BEGIN
    -- Serialise appends so the chain has one order.
    PERFORM pg_advisory_xact_lock(hashtext('dadm.audit'));
    SELECT hash INTO v_prev FROM dadm.audit ORDER BY id DESC LIMIT 1;
    v_prev := coalesce(v_prev, '\x'::bytea);
    INSERT INTO dadm.audit (at, account_id, etab_id, action, target, detail, prev_hash, hash)
    VALUES (v_at, v_account, p_etab, p_action, p_target, coalesce(p_detail, '{}'),
            v_prev, '\x')
    RETURNING id INTO v_id;
    UPDATE dadm.audit SET hash = dadm.audit_row_hash(v_prev, v_id, v_at, v_account, p_etab,
                                                     p_action, p_target,
                                                     coalesce(p_detail, '{}'))
     WHERE id = v_id;
    RETURN v_id;
END
$$;

-- Verifies the whole chain; returns the id of the first broken row, or NULL.
CREATE FUNCTION dadm.audit_verify() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT min(id) FROM (
        SELECT id, hash, prev_hash,
               lag(hash, 1, '\x'::bytea) OVER (ORDER BY id) AS expected_prev,
               dadm.audit_row_hash(prev_hash, id, at, account_id, etab_id, action, target,
                                   detail) AS expected_hash
          FROM dadm.audit) x
     WHERE prev_hash <> expected_prev OR hash <> expected_hash
$$;

CREATE FUNCTION dadm.audit_guard() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- The one update allowed: audit_append filling in the hash of the row it
    -- has just inserted.
    IF TG_OP = 'UPDATE' THEN
        IF OLD.hash = '\x'::bytea AND NEW.id = OLD.id AND NEW.prev_hash = OLD.prev_hash
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
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON dadm.audit
    FOR EACH ROW EXECUTE FUNCTION dadm.audit_guard();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON dadm.audit
    FOR EACH STATEMENT EXECUTE FUNCTION dadm.audit_guard();

-- Row-level security on every tenant-owned table. The owner role (used by
-- migrations and the operator's dadmctl) keeps full access through an
-- explicit policy; the daemon's role only through the scope policies.

ALTER TABLE dadm.etab ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.etab FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.etab TO dadm_owner USING (true) WITH CHECK (true);
CREATE POLICY scope_read ON dadm.etab FOR SELECT TO dadm_app
    USING ((SELECT dadm.my_agency())
           OR id = ANY ((SELECT dadm.my_etabs())::bigint[])
           OR id = (SELECT dadm.my_member_etab()));

ALTER TABLE dadm.installation ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.installation FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.installation TO dadm_owner USING (true) WITH CHECK (true);
CREATE POLICY scope_read ON dadm.installation FOR SELECT TO dadm_app
    USING ((SELECT dadm.my_agency())
           OR etab_id = ANY ((SELECT dadm.my_admin_etabs())::bigint[])
           OR (etab_id || ':' || product_id) = ANY ((SELECT dadm.my_corr_scopes())::text[]));

ALTER TABLE dadm.account ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.account FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.account TO dadm_owner USING (true) WITH CHECK (true);
-- Oneself; the agency; an establishment's administrator for its accounts; a
-- correspondent for the correspondents of its establishment.
CREATE POLICY scope_read ON dadm.account FOR SELECT TO dadm_app
    USING (id = (SELECT dadm.my_account())
           OR (SELECT dadm.my_agency())
           OR etab_id = ANY ((SELECT dadm.my_admin_etabs())::bigint[])
           OR id IN (SELECT g.account_id FROM dadm."grant" g
                      WHERE g.role = 'correspondent'
                        AND g.etab_id = ANY ((SELECT dadm.my_etabs())::bigint[])));

ALTER TABLE dadm."grant" ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm."grant" FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm."grant" TO dadm_owner USING (true) WITH CHECK (true);
CREATE POLICY scope_read ON dadm."grant" FOR SELECT TO dadm_app
    USING (account_id = (SELECT dadm.my_account())
           OR (SELECT dadm.my_agency())
           OR etab_id = ANY ((SELECT dadm.my_etabs())::bigint[]));

ALTER TABLE dadm.session ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.session FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.session TO dadm_owner USING (true) WITH CHECK (true);

ALTER TABLE dadm.audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.audit FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.audit TO dadm_owner USING (true) WITH CHECK (true);
CREATE POLICY scope_read ON dadm.audit FOR SELECT TO dadm_app
    USING ((SELECT dadm.my_agency()));

ALTER TABLE dadm.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.outbox TO dadm_owner USING (true) WITH CHECK (true);

-- Privileges of the daemon's role. Public reference data is readable whole
-- (except the reader password hash); tenant data only through the policies.
GRANT SELECT ON dadm.domain, dadm.version, dadm.contractor, dadm.closure TO dadm_app;
GRANT SELECT (id, code, name, reader_login, support_days, major_support_days, current_only)
    ON dadm.product TO dadm_app;
GRANT SELECT ON dadm.etab, dadm.installation, dadm.account, dadm."grant", dadm.audit
    TO dadm_app;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA dadm FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.session_setting(), dadm.my_account(), dadm.my_grants(),
    dadm.my_agency(), dadm.my_etabs(), dadm.my_admin_etabs(), dadm.my_corr_scopes(),
    dadm.my_member_etab(), dadm.begin_request(bytea),
    dadm.session_open(bytea, bigint, bigint, text, integer, integer),
    dadm.session_end(bytea), dadm.account_end_sessions(bigint),
    dadm.audit_append(text, text, bigint, jsonb), dadm.audit_row_hash(bytea, bigint,
    timestamptz, bigint, bigint, text, text, jsonb)
    TO dadm_app;
