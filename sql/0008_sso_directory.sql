-- Single sign-on for the accounts provisioned from the directory, and the
-- assertion consumer's database work in one statement.
--
-- An account made by the directory run (0006) has no (sso_idp, sso_eppn):
-- it carries the eduPersonPrincipalName the directory released, in
-- dir_eppn, and its login is that eppn in lower case. The establishment's
-- IdP releases the same eppn, so the person can log in by SSO without an
-- operator linking the account first.

-- The account of (IdP, eduPersonPrincipalName) inside one establishment:
--   1. the account linked to that IdP and eppn (dadmctl account set-sso),
--      whatever its status (a disabled one is refused by the caller);
--   2. else the active account of that establishment whose directory eppn
--      is exactly the released one, once trimmed of the ASCII white space
--      the directory run trims (g_strstrip: tab, line feed, form feed,
--      carriage return, space). Its login is the eppn in lower case, so the
--      unique login index finds it; the exact dir_eppn comparison is the
--      rule. Never another establishment's account: the caller passes the
--      establishment that owns the IdP.
CREATE OR REPLACE FUNCTION dadm.saml_account_find(p_etab bigint, p_idp text, p_eppn text)
RETURNS TABLE (account_id bigint, login text, status text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    v_eppn text := btrim(p_eppn, chr(9) || chr(10) || chr(12) || chr(13) || ' ');
BEGIN
    RETURN QUERY
        SELECT a.id, a.login, a.status::text FROM dadm.account a
         WHERE a.etab_id = p_etab AND a.sso_idp = p_idp AND a.sso_eppn = p_eppn;
    IF FOUND OR v_eppn = '' THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT a.id, a.login, a.status::text FROM dadm.account a
         WHERE a.login = lower(v_eppn) AND a.etab_id = p_etab AND a.dir_eppn = v_eppn
           AND a.status = 'active';
END
$$;

-- Everything the assertion consumer does in the database once lasso and
-- the C checks have read the response, in the order of README.md "Single
-- sign-on", as one statement:
--   the pending request named by InResponseTo is used up (whatever follows);
--   it must be live and its IdP the issuer, still registered for its
--   establishment; then the verdict of the checks made in C on the response
--   (p_pre: Destination, the assertion's confirmation, times, audience); the
--   assertion ID goes into the replay cache; then the attribute checks made
--   in C (p_post); every supannEtablissement UAI (p_supann, '' for a
--   malformed value) must be the establishment's; the account is found
--   (saml_account_find) and must be active; lasso must have accepted the
--   assertion (p_accepted). On success the previous session of the browser
--   (p_previous) ends, the session p_hash opens with what single logout
--   needs, and auth.sso.login is audited; on a refusal auth.sso.refused is
--   audited with its reason. Either way the caller commits: what was used
--   up stays used up.
-- verdict is the slug of auth_saml_verdict; detail says which check failed
-- (p_pre_detail / p_post_detail for those), for the log.
CREATE FUNCTION dadm.saml_acs_finish(
    p_request_id text, p_idp text, p_rid text,
    p_pre text, p_pre_detail text, p_assertion_id text, p_not_after timestamptz,
    p_post text, p_post_detail text, p_eppn text, p_supann text[], p_accepted boolean,
    p_hash bytea, p_previous bytea, p_idle_seconds integer, p_absolute_seconds integer,
    p_name_id text, p_name_id_format text, p_sp_name_qualifier text, p_session_index text,
    p_dump text)
RETURNS TABLE (verdict text, etab_id bigint, uai text, return_path text, account_id bigint,
               login text, detail text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    r dadm.saml_request;
    v_uai text;
    v_verdict text;
    v_detail text;
    v_account bigint;
    v_login text;
    v_status text;
    v_session bigint;
    v_u text;
BEGIN
    SELECT * INTO r FROM dadm.saml_request x WHERE x.request_id = p_request_id FOR UPDATE;
    IF NOT FOUND THEN
        v_verdict := 'unsolicited';
        v_detail := 'unknown InResponseTo';
    ELSE
        UPDATE dadm.saml_request x SET used_at = now()
         WHERE x.request_id = p_request_id AND x.used_at IS NULL;
        SELECT e.uai INTO v_uai FROM dadm.etab e WHERE e.id = r.etab_id;
        IF r.used_at IS NOT NULL THEN
            v_verdict := 'request_spent';
            v_detail := 'used';
        ELSIF r.expires_at <= now() THEN
            v_verdict := 'request_spent';
            v_detail := 'expired';
        ELSIF p_idp IS DISTINCT FROM r.idp_entity_id OR NOT EXISTS
                (SELECT 1 FROM dadm.saml_idp i WHERE i.etab_id = r.etab_id
                    AND i.entity_id = r.idp_entity_id AND i.enabled) THEN
            v_verdict := 'idp_not_allowed';
            v_detail := 'issuer is not the IdP the request went to';
        ELSIF p_pre IS NOT NULL THEN
            v_verdict := p_pre;
            v_detail := p_pre_detail;
        ELSE
            INSERT INTO dadm.saml_assertion_seen (idp_entity_id, assertion_id, etab_id,
                                                  expires_at)
            VALUES (p_idp, p_assertion_id, r.etab_id,
                    greatest(p_not_after, now() + interval '5 minutes'))
            ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                v_verdict := 'replay';
                v_detail := 'assertion ID seen before';
            ELSIF p_post IS NOT NULL THEN
                v_verdict := p_post;
                v_detail := p_post_detail;
            END IF;
        END IF;
    END IF;

    IF v_verdict IS NULL THEN
        FOREACH v_u IN ARRAY coalesce(p_supann, '{}'::text[]) LOOP
            IF v_u = '' OR v_u IS DISTINCT FROM v_uai THEN
                v_verdict := 'other_etab';
                v_detail := CASE WHEN v_u = '' THEN 'malformed supannEtablissement' ELSE v_u END;
                EXIT;
            END IF;
        END LOOP;
    END IF;
    IF v_verdict IS NULL THEN
        SELECT f.account_id, f.login, f.status INTO v_account, v_login, v_status
          FROM dadm.saml_account_find(r.etab_id, p_idp, p_eppn) f;
        IF NOT FOUND THEN
            v_verdict := 'unknown_person';
            v_detail := 'no account for this (IdP, eppn) in the establishment';
        ELSIF v_status <> 'active' THEN
            v_verdict := 'account_disabled';
            v_detail := 'account disabled';
        ELSIF NOT p_accepted THEN
            v_verdict := 'bad_response';
            v_detail := 'accept_sso';
        END IF;
    END IF;

    IF v_verdict IS NOT NULL THEN
        PERFORM dadm.audit_append('auth.sso.refused',
                                  CASE WHEN v_verdict = 'account_disabled' THEN v_login END,
                                  r.etab_id,
                                  jsonb_strip_nulls(jsonb_build_object(
                                      'method', 'sso', 'reason', v_verdict, 'idp', p_idp,
                                      'request_id', p_rid)));
        RETURN QUERY SELECT v_verdict, r.etab_id, v_uai, r.return_path, NULL::bigint,
                            NULL::text, v_detail;
        RETURN;
    END IF;

    -- A login ends the browser's previous session and issues a new token.
    IF p_previous IS NOT NULL THEN
        UPDATE dadm.session SET ended_at = now()
         WHERE token_hash = p_previous AND ended_at IS NULL;
    END IF;
    INSERT INTO dadm.session (token_hash, account_id, level, method, idle_timeout, expires_at)
    VALUES (p_hash, v_account, 2, 'sso', make_interval(secs => p_idle_seconds),
            now() + make_interval(secs => p_absolute_seconds))
    RETURNING id INTO v_session;
    INSERT INTO dadm.saml_session (session_id, etab_id, account_id, idp_entity_id, name_id,
                                   name_id_format, sp_name_qualifier, session_index, lasso_dump)
    VALUES (v_session, r.etab_id, v_account, p_idp, p_name_id, p_name_id_format,
            p_sp_name_qualifier, p_session_index, p_dump);
    PERFORM dadm.audit_append('auth.sso.login', v_login, r.etab_id,
                              jsonb_build_object('method', 'sso', 'reason', 'ok', 'idp', p_idp,
                                                 'request_id', p_rid,
                                                 'account_id', v_account::text));
    RETURN QUERY SELECT 'ok'::text, r.etab_id, v_uai, r.return_path, v_account, v_login,
                        NULL::text;
END
$$;

REVOKE ALL ON FUNCTION dadm.saml_acs_finish(text, text, text, text, text, text, timestamptz,
    text, text, text, text[], boolean, bytea, bytea, integer, integer, text, text, text, text,
    text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.saml_acs_finish(text, text, text, text, text, text, timestamptz,
    text, text, text, text[], boolean, bytea, bytea, integer, integer, text, text, text, text,
    text) TO dadm_app;
