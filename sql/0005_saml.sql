-- SAML 2.0 single sign-on: the identity providers of each establishment,
-- pending AuthnRequests and LogoutRequests, the replay cache of assertion
-- IDs, and what single logout needs of each SSO session.
--
-- The assertion consumer runs before anyone is authenticated, so the daemon's
-- role reaches these tables only through the SECURITY DEFINER functions
-- below; every tenant-owned table carries etab_id and has ENABLE + FORCE row
-- level security with only the operator's policy.

-- An establishment's identity providers (one establishment may have several,
-- and one IdP may serve several establishments).
CREATE TABLE dadm.saml_idp (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    etab_id    bigint NOT NULL REFERENCES dadm.etab,
    entity_id  text NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 1024),
    metadata   text NOT NULL CHECK (length(metadata) BETWEEN 1 AND 1048576),
    source     text NOT NULL CHECK (source IN ('file', 'aggregate')),
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (etab_id, entity_id)
);
CREATE INDEX saml_idp_entity_idx ON dadm.saml_idp (entity_id);

-- Bumped on every change of saml_idp: each worker rebuilds its lasso server
-- when the number it built from is no longer current.
CREATE TABLE dadm.saml_generation (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    n   bigint NOT NULL
);
INSERT INTO dadm.saml_generation VALUES (true, 1);

CREATE FUNCTION dadm.saml_idp_bump() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, dadm
AS $$
BEGIN
    UPDATE dadm.saml_generation SET n = n + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER saml_idp_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dadm.saml_idp
    FOR EACH STATEMENT EXECUTE FUNCTION dadm.saml_idp_bump();

-- AuthnRequests sent and not answered yet. Single use: used_at is set by the
-- first response that names it, valid or not.
CREATE TABLE dadm.saml_request (
    request_id    text PRIMARY KEY CHECK (length(request_id) BETWEEN 1 AND 256),
    etab_id       bigint NOT NULL REFERENCES dadm.etab,
    idp_entity_id text NOT NULL,
    return_path   text NOT NULL CHECK (return_path ~ '^/([^/\\]|$)'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX saml_request_expires_idx ON dadm.saml_request (expires_at);

-- Assertion IDs accepted once, kept until they expire.
CREATE TABLE dadm.saml_assertion_seen (
    idp_entity_id text NOT NULL,
    assertion_id  text NOT NULL CHECK (length(assertion_id) BETWEEN 1 AND 256),
    etab_id       bigint NOT NULL REFERENCES dadm.etab,
    seen_at       timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (idp_entity_id, assertion_id)
);
CREATE INDEX saml_assertion_seen_expires_idx ON dadm.saml_assertion_seen (expires_at);

-- What single logout needs of an SSO session: the NameID and SessionIndex
-- the IdP knows it by, and lasso's session dump (it holds the assertion,
-- that is personal data: it dies with the session row).
CREATE TABLE dadm.saml_session (
    session_id        bigint PRIMARY KEY REFERENCES dadm.session ON DELETE CASCADE,
    etab_id           bigint NOT NULL REFERENCES dadm.etab,
    account_id        bigint NOT NULL REFERENCES dadm.account,
    idp_entity_id     text NOT NULL,
    name_id           text NOT NULL,
    name_id_format    text,
    sp_name_qualifier text,
    session_index     text,
    lasso_dump        text NOT NULL CHECK (length(lasso_dump) <= 1048576),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saml_session_subject_idx ON dadm.saml_session (idp_entity_id, name_id);

-- LogoutRequests we sent, waiting for the IdP's LogoutResponse.
CREATE TABLE dadm.saml_logout (
    request_id    text PRIMARY KEY CHECK (length(request_id) BETWEEN 1 AND 256),
    etab_id       bigint NOT NULL REFERENCES dadm.etab,
    idp_entity_id text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);

ALTER TABLE dadm.saml_idp ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.saml_idp FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.saml_idp TO dadm_owner USING (true) WITH CHECK (true);
ALTER TABLE dadm.saml_generation ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.saml_generation FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.saml_generation TO dadm_owner USING (true) WITH CHECK (true);
ALTER TABLE dadm.saml_request ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.saml_request FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.saml_request TO dadm_owner USING (true) WITH CHECK (true);
ALTER TABLE dadm.saml_assertion_seen ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.saml_assertion_seen FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.saml_assertion_seen TO dadm_owner USING (true) WITH CHECK (true);
ALTER TABLE dadm.saml_session ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.saml_session FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.saml_session TO dadm_owner USING (true) WITH CHECK (true);
ALTER TABLE dadm.saml_logout ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.saml_logout FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.saml_logout TO dadm_owner USING (true) WITH CHECK (true);

-- The functions the daemon calls. Each does one narrow thing.

CREATE FUNCTION dadm.saml_idp_generation() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT n FROM dadm.saml_generation
$$;

-- Metadata of every enabled IdP, once per entityID (the newest registration).
CREATE FUNCTION dadm.saml_idps() RETURNS TABLE (entity_id text, metadata text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT DISTINCT ON (i.entity_id) i.entity_id, i.metadata
      FROM dadm.saml_idp i WHERE i.enabled
     ORDER BY i.entity_id, i.updated_at DESC, i.id DESC
$$;

-- The enabled IdPs of the establishment with that UAI.
CREATE FUNCTION dadm.saml_etab_idps(p_uai text)
RETURNS TABLE (etab_id bigint, entity_id text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT e.id, i.entity_id
      FROM dadm.etab e JOIN dadm.saml_idp i ON i.etab_id = e.id AND i.enabled
     WHERE e.uai = p_uai
     ORDER BY i.id
$$;

-- Records an AuthnRequest; purges what has expired on the way.
CREATE FUNCTION dadm.saml_request_new(p_id text, p_etab bigint, p_idp text, p_return text,
                                      p_ttl_seconds integer)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM dadm.saml_idp
                    WHERE etab_id = p_etab AND entity_id = p_idp AND enabled) THEN
        RAISE EXCEPTION 'IdP not registered for this establishment' USING ERRCODE = '42501';
    END IF;
    DELETE FROM dadm.saml_request WHERE expires_at < now() - interval '1 hour';
    DELETE FROM dadm.saml_assertion_seen WHERE expires_at < now() - interval '1 hour';
    DELETE FROM dadm.saml_logout WHERE expires_at < now() - interval '1 hour';
    INSERT INTO dadm.saml_request (request_id, etab_id, idp_entity_id, return_path, expires_at)
    VALUES (p_id, p_etab, p_idp, p_return, now() + make_interval(secs => p_ttl_seconds));
END
$$;

-- Consumes a pending AuthnRequest. state: 'ok', 'unknown', 'used' or
-- 'expired'; a known request is marked used whatever the outcome, so it
-- can never be answered twice.
CREATE FUNCTION dadm.saml_request_take(p_id text)
RETURNS TABLE (state text, etab_id bigint, uai text, idp_entity_id text, return_path text,
               idp_allowed boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    r dadm.saml_request;
BEGIN
    SELECT * INTO r FROM dadm.saml_request x WHERE x.request_id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown'::text, NULL::bigint, NULL::text, NULL::text, NULL::text,
                            false;
        RETURN;
    END IF;
    UPDATE dadm.saml_request x SET used_at = now()
     WHERE x.request_id = p_id AND x.used_at IS NULL;
    RETURN QUERY
        SELECT CASE WHEN r.used_at IS NOT NULL THEN 'used'
                    WHEN r.expires_at <= now() THEN 'expired'
                    ELSE 'ok' END,
               r.etab_id, e.uai, r.idp_entity_id, r.return_path,
               EXISTS (SELECT 1 FROM dadm.saml_idp i WHERE i.etab_id = r.etab_id
                          AND i.entity_id = r.idp_entity_id AND i.enabled)
          FROM dadm.etab e WHERE e.id = r.etab_id;
END
$$;

-- Records an assertion ID; false when it was seen before (replay).
CREATE FUNCTION dadm.saml_assertion_use(p_idp text, p_id text, p_etab bigint,
                                        p_expires timestamptz)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
BEGIN
    INSERT INTO dadm.saml_assertion_seen (idp_entity_id, assertion_id, etab_id, expires_at)
    VALUES (p_idp, p_id, p_etab, greatest(p_expires, now() + interval '5 minutes'))
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;

-- The account of (IdP, eduPersonPrincipalName) inside one establishment.
CREATE FUNCTION dadm.saml_account_find(p_etab bigint, p_idp text, p_eppn text)
RETURNS TABLE (account_id bigint, login text, status text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT a.id, a.login, a.status::text FROM dadm.account a
     WHERE a.etab_id = p_etab AND a.sso_idp = p_idp AND a.sso_eppn = p_eppn
$$;

-- Links an SSO session (found by its token hash) to what logout needs.
CREATE FUNCTION dadm.saml_session_attach(p_hash bytea, p_etab bigint, p_idp text,
                                         p_name_id text, p_format text, p_spnq text,
                                         p_session_index text, p_dump text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    s dadm.session;
BEGIN
    SELECT * INTO s FROM dadm.session x WHERE x.token_hash = p_hash AND x.ended_at IS NULL;
    IF NOT FOUND OR s.account_id IS NULL THEN
        RAISE EXCEPTION 'no such session' USING ERRCODE = '42501';
    END IF;
    INSERT INTO dadm.saml_session (session_id, etab_id, account_id, idp_entity_id, name_id,
                                   name_id_format, sp_name_qualifier, session_index, lasso_dump)
    VALUES (s.id, p_etab, s.account_id, p_idp, p_name_id, p_format, p_spnq, p_session_index,
            p_dump);
END
$$;

-- The SSO data of the live session with that token hash, if any.
CREATE FUNCTION dadm.saml_session_of(p_hash bytea)
RETURNS TABLE (session_id bigint, etab_id bigint, account_id bigint, idp_entity_id text,
               lasso_dump text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT x.id, ss.etab_id, ss.account_id, ss.idp_entity_id, ss.lasso_dump
      FROM dadm.session x JOIN dadm.saml_session ss ON ss.session_id = x.id
     WHERE x.token_hash = p_hash AND x.ended_at IS NULL
$$;

-- Live SSO sessions of an IdP subject, optionally narrowed to SessionIndexes.
CREATE FUNCTION dadm.saml_sessions_of_subject(p_idp text, p_name_id text, p_indexes text[])
RETURNS TABLE (session_id bigint, etab_id bigint, account_id bigint, lasso_dump text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT x.id, ss.etab_id, ss.account_id, ss.lasso_dump
      FROM dadm.saml_session ss JOIN dadm.session x ON x.id = ss.session_id
     WHERE ss.idp_entity_id = p_idp AND ss.name_id = p_name_id AND x.ended_at IS NULL
       AND (cardinality(p_indexes) = 0 OR ss.session_index = ANY (p_indexes))
     ORDER BY x.id
$$;

-- Ends sessions (single logout) and forgets their SSO data.
CREATE FUNCTION dadm.saml_sessions_end(p_ids bigint[])
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    n integer;
BEGIN
    UPDATE dadm.session SET ended_at = now() WHERE id = ANY (p_ids) AND ended_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM dadm.saml_session WHERE session_id = ANY (p_ids);
    RETURN n;
END
$$;

CREATE FUNCTION dadm.saml_logout_new(p_id text, p_etab bigint, p_idp text,
                                     p_ttl_seconds integer)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    INSERT INTO dadm.saml_logout (request_id, etab_id, idp_entity_id, expires_at)
    VALUES (p_id, p_etab, p_idp, now() + make_interval(secs => p_ttl_seconds))
$$;

-- Consumes a pending LogoutRequest of that IdP; true when it was pending.
CREATE FUNCTION dadm.saml_logout_take(p_id text, p_idp text)
RETURNS TABLE (etab_id bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    UPDATE dadm.saml_logout SET used_at = now()
     WHERE request_id = p_id AND idp_entity_id = p_idp AND used_at IS NULL
       AND expires_at > now()
    RETURNING etab_id
$$;

REVOKE ALL ON FUNCTION dadm.saml_idp_generation(), dadm.saml_idps(),
    dadm.saml_etab_idps(text),
    dadm.saml_request_new(text, bigint, text, text, integer),
    dadm.saml_request_take(text),
    dadm.saml_assertion_use(text, text, bigint, timestamptz),
    dadm.saml_account_find(bigint, text, text),
    dadm.saml_session_attach(bytea, bigint, text, text, text, text, text, text),
    dadm.saml_session_of(bytea),
    dadm.saml_sessions_of_subject(text, text, text[]),
    dadm.saml_sessions_end(bigint[]),
    dadm.saml_logout_new(text, bigint, text, integer),
    dadm.saml_logout_take(text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.saml_idp_generation(), dadm.saml_idps(),
    dadm.saml_etab_idps(text),
    dadm.saml_request_new(text, bigint, text, text, integer),
    dadm.saml_request_take(text),
    dadm.saml_assertion_use(text, text, bigint, timestamptz),
    dadm.saml_account_find(bigint, text, text),
    dadm.saml_session_attach(bytea, bigint, text, text, text, text, text, text),
    dadm.saml_session_of(bytea),
    dadm.saml_sessions_of_subject(text, text, text[]),
    dadm.saml_sessions_end(bigint[]),
    dadm.saml_logout_new(text, bigint, text, integer),
    dadm.saml_logout_take(text, text)
    TO dadm_app;
