-- Change requests: every change of a correspondent's contact data, of an
-- establishment, of server data, of an installed version and every addition,
-- removal or modification of a correspondent waits for an agency validator.
--
-- A request stores the values it proposes and the values they replace (a
-- snapshot of the whole chapter taken at submission); approval compares the
-- snapshot with the data of the moment and applies every value in the same
-- transaction, or refuses with a conflict. At most one request is pending per
-- establishment, chapter and target: a new submission amends it.
--
-- The daemon's role writes here through row-level security: the submitter's
-- scope for submissions, amendments and withdrawals; validators (agency
-- principals, dadm.my_validator()) for decisions and for applying the values
-- to establishments, installations, accounts and correspondent grants.

CREATE TYPE dadm.change_chapter AS ENUM ('profile', 'etab', 'server', 'version',
                                         'correspondent_add', 'correspondent_remove',
                                         'correspondent_update');
CREATE TYPE dadm.change_status AS ENUM ('pending', 'approved', 'refused', 'withdrawn');

CREATE TABLE dadm.change_request (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    etab_id         bigint NOT NULL REFERENCES dadm.etab,
    chapter         dadm.change_chapter NOT NULL,
    -- One pending request per (etab_id, chapter, target_key).
    target_key      text NOT NULL CHECK (length(target_key) BETWEEN 1 AND 200),
    product_id      bigint REFERENCES dadm.product,
    installation_id bigint,
    account_id      bigint,
    target_login    text CHECK (target_login ~ '^[a-z0-9][a-z0-9._@-]{1,127}$'),
    nature          dadm.nature,
    proposed        jsonb NOT NULL CHECK (jsonb_typeof(proposed) = 'object'),
    replaced        jsonb NOT NULL CHECK (jsonb_typeof(replaced) = 'object'),
    submitter_id    bigint NOT NULL REFERENCES dadm.account,
    -- The first submitter when someone else amended the request since.
    first_submitter_id bigint NOT NULL REFERENCES dadm.account,
    status          dadm.change_status NOT NULL DEFAULT 'pending',
    decider_id      bigint REFERENCES dadm.account,
    motive          text CHECK (length(motive) BETWEEN 1 AND 2000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    FOREIGN KEY (etab_id, installation_id) REFERENCES dadm.installation (etab_id, id),
    FOREIGN KEY (etab_id, account_id) REFERENCES dadm.account (etab_id, id),
    UNIQUE (etab_id, id),
    CHECK (CASE chapter
        WHEN 'profile' THEN account_id IS NOT NULL
        WHEN 'etab' THEN true
        WHEN 'server' THEN installation_id IS NOT NULL AND product_id IS NOT NULL
        WHEN 'version' THEN installation_id IS NOT NULL AND product_id IS NOT NULL
        WHEN 'correspondent_add' THEN product_id IS NOT NULL AND target_login IS NOT NULL
                                      AND nature IS NOT NULL
        WHEN 'correspondent_remove' THEN product_id IS NOT NULL AND account_id IS NOT NULL
                                         AND nature IS NOT NULL
        WHEN 'correspondent_update' THEN account_id IS NOT NULL
    END),
    -- Decided requests name their decider; a refusal carries its motive; no
    -- one decides a request they submitted or amended.
    CHECK ((status IN ('approved', 'refused')) = (decider_id IS NOT NULL)),
    CHECK (status <> 'refused' OR motive IS NOT NULL),
    CHECK (decider_id IS NULL OR (decider_id <> submitter_id
                                  AND decider_id <> first_submitter_id)),
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX change_request_pending_idx ON dadm.change_request (etab_id, chapter, target_key)
    WHERE status = 'pending';
CREATE INDEX change_request_list_idx ON dadm.change_request (etab_id, status, created_at);
CREATE INDEX change_request_installation_idx ON dadm.change_request (installation_id)
    WHERE status = 'pending';

-- `.ver` witness files of a `version` request, kept in the database.
CREATE TABLE dadm.change_request_file (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    etab_id           bigint NOT NULL,
    change_request_id bigint NOT NULL,
    name              text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\.ver$'),
    size              integer NOT NULL CHECK (size BETWEEN 1 AND 262144),
    sha256            bytea NOT NULL CHECK (length(sha256) = 32),
    content           bytea NOT NULL CHECK (length(content) = size),
    created_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (etab_id, change_request_id) REFERENCES dadm.change_request (etab_id, id)
        ON DELETE CASCADE,
    UNIQUE (change_request_id, name)
);

-- The caller holds the validator role (an agency principal).
CREATE FUNCTION dadm.my_validator() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT EXISTS (SELECT 1 FROM dadm.my_grants() g WHERE g.role = 'validator')
$$;

-- Validators and the agency's administrators read every request.
CREATE FUNCTION dadm.my_change_reader() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT EXISTS (SELECT 1 FROM dadm.my_grants() g WHERE g.role IN ('validator', 'admin'))
$$;

-- The current values of one chapter's target, as stored in `replaced` and
-- compared again on approval. It reads as the owner so that the submitter
-- (whose scope may not show every account of the establishment) and the
-- validator see the same snapshot; it answers only callers who have a role
-- in the establishment, or validators.
CREATE FUNCTION dadm.change_snapshot(p_chapter dadm.change_chapter, p_etab bigint,
                                     p_installation bigint, p_account bigint,
                                     p_product bigint, p_login text)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    v jsonb;
BEGIN
    IF NOT (dadm.my_validator() OR p_etab = ANY (dadm.my_etabs())) THEN
        RAISE EXCEPTION 'no role in establishment %', p_etab USING ERRCODE = '42501';
    END IF;
    CASE p_chapter
    WHEN 'profile', 'correspondent_update' THEN
        SELECT jsonb_build_object('email', a.email, 'phone', a.phone) INTO v
          FROM dadm.account a WHERE a.id = p_account AND a.etab_id = p_etab;
    WHEN 'etab' THEN
        SELECT jsonb_build_object('website', e.website, 'generic_email', e.generic_email,
                                  'size_class', e.size_class::text) INTO v
          FROM dadm.etab e WHERE e.id = p_etab;
    WHEN 'server' THEN
        SELECT jsonb_build_object('server_series', i.server_series, 'server_os', i.server_os,
                                  'server_db', i.server_db, 'server_notes', i.server_notes)
          INTO v
          FROM dadm.installation i WHERE i.id = p_installation AND i.etab_id = p_etab;
    WHEN 'version' THEN
        SELECT jsonb_build_object('version', x.label) INTO v
          FROM dadm.installation i LEFT JOIN dadm.version x ON x.id = i.version_id
         WHERE i.id = p_installation AND i.etab_id = p_etab;
    WHEN 'correspondent_add' THEN
        -- Whether the person already has an account in the establishment,
        -- and the natures it already holds for the product.
        SELECT jsonb_build_object(
                   'account', (SELECT jsonb_build_object('id', a.id, 'login', a.login,
                                                         'given_name', a.given_name,
                                                         'family_name', a.family_name,
                                                         'status', a.status::text)
                                 FROM dadm.account a
                                WHERE a.login = p_login AND a.etab_id = p_etab),
                   'natures', coalesce((SELECT jsonb_agg(g.nature::text ORDER BY g.nature)
                                          FROM dadm."grant" g JOIN dadm.account a
                                            ON a.id = g.account_id
                                         WHERE a.login = p_login AND g.etab_id = p_etab
                                           AND g.product_id = p_product
                                           AND g.role = 'correspondent'), '[]'))
          INTO v;
    WHEN 'correspondent_remove' THEN
        SELECT jsonb_build_object(
                   'login', a.login,
                   'natures', coalesce((SELECT jsonb_agg(g.nature::text ORDER BY g.nature)
                                          FROM dadm."grant" g
                                         WHERE g.account_id = a.id AND g.etab_id = p_etab
                                           AND g.product_id = p_product
                                           AND g.role = 'correspondent'), '[]'))
          INTO v
          FROM dadm.account a WHERE a.id = p_account AND a.etab_id = p_etab;
    END CASE;
    RETURN v;
END
$$;

-- Count of correspondents of one nature for a product in an establishment,
-- and of pending additions and removals of that nature (for the quota).
CREATE FUNCTION dadm.correspondent_counts(p_etab bigint, p_product bigint,
                                          p_nature dadm.nature, p_except bigint,
                                          OUT granted integer, OUT adding integer,
                                          OUT removing integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
BEGIN
    IF NOT (dadm.my_validator() OR p_etab = ANY (dadm.my_etabs())) THEN
        RAISE EXCEPTION 'no role in establishment %', p_etab USING ERRCODE = '42501';
    END IF;
    SELECT count(*) INTO granted FROM dadm."grant" g
     WHERE g.role = 'correspondent' AND g.etab_id = p_etab AND g.product_id = p_product
       AND g.nature = p_nature;
    SELECT count(*) FILTER (WHERE c.chapter = 'correspondent_add'),
           count(*) FILTER (WHERE c.chapter = 'correspondent_remove')
      INTO adding, removing
      FROM dadm.change_request c
     WHERE c.status = 'pending' AND c.etab_id = p_etab AND c.product_id = p_product
       AND c.nature = p_nature AND c.id IS DISTINCT FROM p_except;
END
$$;

-- The addresses that receive "a request awaits validation" mails.
CREATE FUNCTION dadm.validator_emails() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT DISTINCT a.email FROM dadm.account a JOIN dadm."grant" g ON g.account_id = a.id
     WHERE g.role = 'validator' AND a.status = 'active' AND dadm.my_account() IS NOT NULL
     ORDER BY a.email
$$;

-- The version label a pending `version` request proposes for an
-- installation, or NULL. Filing an assistance request calls this and refuses
-- while it is not NULL. Answers only for installations the caller sees.
CREATE FUNCTION dadm.installation_pending_version(p_installation bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT c.proposed ->> 'version'
      FROM dadm.change_request c JOIN dadm.installation i ON i.id = c.installation_id
     WHERE c.installation_id = p_installation AND c.chapter = 'version'
       AND c.status = 'pending'
       AND ((SELECT dadm.my_agency())
            OR i.etab_id = ANY ((SELECT dadm.my_admin_etabs())::bigint[])
            OR (i.etab_id || ':' || i.product_id) = ANY ((SELECT dadm.my_corr_scopes())::text[]))
$$;

-- Row-level security of the new tables.

ALTER TABLE dadm.change_request ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.change_request FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.change_request TO dadm_owner USING (true) WITH CHECK (true);
-- Validators and the agency's administrators see every request; anyone with
-- a role in an establishment sees that establishment's.
CREATE POLICY scope_read ON dadm.change_request FOR SELECT TO dadm_app
    USING ((SELECT dadm.my_change_reader())
           OR etab_id = ANY ((SELECT dadm.my_etabs())::bigint[]));
-- Submission: in one's establishment, under one's own name, and within the
-- chapter's scope (the same rules as the handler's).
CREATE POLICY submit ON dadm.change_request FOR INSERT TO dadm_app
    WITH CHECK (status = 'pending' AND decider_id IS NULL
                AND submitter_id = (SELECT dadm.my_account())
                AND first_submitter_id = submitter_id
                AND etab_id = ANY ((SELECT dadm.my_etabs())::bigint[])
                AND CASE chapter
                    WHEN 'profile' THEN account_id = (SELECT dadm.my_account())
                    WHEN 'etab' THEN true
                    WHEN 'server' THEN (etab_id || ':' || product_id)
                                       = ANY ((SELECT dadm.my_corr_scopes())::text[])
                    WHEN 'version' THEN (etab_id || ':' || product_id)
                                        = ANY ((SELECT dadm.my_corr_scopes())::text[])
                    ELSE (etab_id || ':' || product_id)
                             = ANY ((SELECT dadm.my_corr_scopes())::text[])
                         OR etab_id = ANY ((SELECT dadm.my_admin_etabs())::bigint[])
                    END);
-- Amendment and withdrawal: pending requests of one's establishment, and
-- they stay pending or become withdrawn, under one's own name.
CREATE POLICY amend ON dadm.change_request FOR UPDATE TO dadm_app
    USING (status = 'pending' AND etab_id = ANY ((SELECT dadm.my_etabs())::bigint[]))
    WITH CHECK (status IN ('pending', 'withdrawn') AND decider_id IS NULL
                AND submitter_id = (SELECT dadm.my_account())
                AND etab_id = ANY ((SELECT dadm.my_etabs())::bigint[]));
-- Decision: validators only, under their own name.
CREATE POLICY decide ON dadm.change_request FOR UPDATE TO dadm_app
    USING ((SELECT dadm.my_validator()))
    WITH CHECK ((SELECT dadm.my_validator())
                AND (decider_id IS NULL OR decider_id = (SELECT dadm.my_account())));

ALTER TABLE dadm.change_request_file ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.change_request_file FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.change_request_file TO dadm_owner USING (true) WITH CHECK (true);
CREATE POLICY scope_read ON dadm.change_request_file FOR SELECT TO dadm_app
    USING ((SELECT dadm.my_change_reader())
           OR etab_id = ANY ((SELECT dadm.my_etabs())::bigint[]));
CREATE POLICY submit ON dadm.change_request_file FOR INSERT TO dadm_app
    WITH CHECK (etab_id = ANY ((SELECT dadm.my_etabs())::bigint[])
                AND EXISTS (SELECT 1 FROM dadm.change_request c
                             WHERE c.id = change_request_id AND c.status = 'pending'
                               AND c.submitter_id = (SELECT dadm.my_account())));
CREATE POLICY amend ON dadm.change_request_file FOR DELETE TO dadm_app
    USING (etab_id = ANY ((SELECT dadm.my_etabs())::bigint[])
           AND EXISTS (SELECT 1 FROM dadm.change_request c
                        WHERE c.id = change_request_id AND c.status = 'pending'));

-- Applying an approved request: validators only, and only the columns a
-- chapter changes.
CREATE POLICY validator_apply ON dadm.etab FOR UPDATE TO dadm_app
    USING ((SELECT dadm.my_validator())) WITH CHECK ((SELECT dadm.my_validator()));
CREATE POLICY validator_apply ON dadm.installation FOR UPDATE TO dadm_app
    USING ((SELECT dadm.my_validator())) WITH CHECK ((SELECT dadm.my_validator()));
CREATE POLICY validator_apply ON dadm.account FOR UPDATE TO dadm_app
    USING ((SELECT dadm.my_validator()) AND etab_id IS NOT NULL)
    WITH CHECK ((SELECT dadm.my_validator()) AND etab_id IS NOT NULL);
-- A new correspondent without an account yet gets one in its establishment.
CREATE POLICY validator_add ON dadm.account FOR INSERT TO dadm_app
    WITH CHECK ((SELECT dadm.my_validator()) AND etab_id IS NOT NULL
                AND contractor_id IS NULL AND password_hash IS NULL AND sso_idp IS NULL);
CREATE POLICY validator_add ON dadm."grant" FOR INSERT TO dadm_app
    WITH CHECK ((SELECT dadm.my_validator()) AND role = 'correspondent');
CREATE POLICY validator_remove ON dadm."grant" FOR DELETE TO dadm_app
    USING ((SELECT dadm.my_validator()) AND role = 'correspondent');

-- The installed version and the server data change only through an approved
-- request: any other attempt by the daemon's role fails loudly instead of
-- matching no row.
CREATE FUNCTION dadm.installation_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, dadm
AS $$
BEGIN
    IF current_user = 'dadm_app' AND NOT dadm.my_validator() THEN
        RAISE EXCEPTION 'installation data change only through an approved change request'
            USING ERRCODE = '42501';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER installation_validated_only
    BEFORE UPDATE OF version_id, server_series, server_os, server_db, server_notes
    ON dadm.installation FOR EACH STATEMENT EXECUTE FUNCTION dadm.installation_guard();

GRANT SELECT, INSERT ON dadm.change_request TO dadm_app;
GRANT UPDATE (proposed, replaced, submitter_id, nature, status, decider_id, motive, updated_at,
              decided_at) ON dadm.change_request TO dadm_app;
GRANT SELECT, INSERT, DELETE ON dadm.change_request_file TO dadm_app;
GRANT UPDATE (website, generic_email, size_class, updated_at) ON dadm.etab TO dadm_app;
GRANT UPDATE (version_id, server_series, server_os, server_db, server_notes, updated_at)
    ON dadm.installation TO dadm_app;
GRANT UPDATE (email, phone, updated_at) ON dadm.account TO dadm_app;
GRANT INSERT (etab_id, login, given_name, family_name, email, phone, kind)
    ON dadm.account TO dadm_app;
GRANT INSERT (account_id, role, nature, product_id, etab_id), DELETE ON dadm."grant" TO dadm_app;

REVOKE ALL ON FUNCTION dadm.my_validator(), dadm.my_change_reader(),
    dadm.change_snapshot(dadm.change_chapter, bigint, bigint, bigint, bigint, text),
    dadm.correspondent_counts(bigint, bigint, dadm.nature, bigint),
    dadm.validator_emails(), dadm.installation_pending_version(bigint),
    dadm.installation_guard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.my_validator(), dadm.my_change_reader(),
    dadm.change_snapshot(dadm.change_chapter, bigint, bigint, bigint, bigint, text),
    dadm.correspondent_counts(bigint, bigint, dadm.nature, bigint),
    dadm.validator_emails(), dadm.installation_pending_version(bigint) TO dadm_app;
