-- Assistance requests (DA): the request, its dated thread of events, its
-- attachments and the production-access consents asked on it.
--
-- Who sees a DA (and so its events, attachments and consents):
-- - the correspondents of the issuing establishment for the DA's product;
-- - the agency's consultants of that product;
-- - the consultants of the contractor the DA is externalised to, for that
--   product.
-- Internal notes (events with `internal`) are seen by the agency's
-- consultants of the product only. Everyone else sees nothing, the
-- establishment's administrator included (unless also a correspondent).
-- Who may move a DA from which status to which is decided in C
-- (src/da_lifecycle.c); the policies here keep every write inside the
-- writer's scope.

CREATE TYPE dadm.da_priority AS ENUM ('bloquant', 'non_bloquant');
-- The statuses of the guide's table.
CREATE TYPE dadm.da_status AS ENUM (
    'NEW', 'ECT', 'INT', 'EXT', 'EXP', 'AVA', 'ARS', 'AVS', 'ATD', 'ADV', 'INF', 'DMF',
    'DEV', 'PEC', 'CTR', 'TER', 'EXC', 'REJ', 'ABN', 'REM');
CREATE TYPE dadm.da_event_kind AS ENUM (
    'filed',           -- the DA was inserted (ECT)
    'assignment',      -- a consultant was put in charge
    'complement',      -- the site adds information, at any time
    'question',        -- a consultant asks the site (-> ARS)
    'answer',          -- the site answers a question (-> ECT)
    'solution',        -- a solution is proposed to the site (-> AVS), or by a contractor (-> AVA)
    'validation',      -- the site accepts the solution (-> TER, published)
    'refusal',         -- the site refuses the solution, with a motive
    'status',          -- any other move of status or sub-status
    'requalification', -- priority or domain changed by the agency
    'externalisation', -- handed to a contractor (-> EXT)
    'internal_note',   -- agency only
    'reminder',        -- timer: the site was reminded (ARS / AVS)
    'auto_closure',    -- timer: closed without an answer (-> ABN, not published)
    'attachment',      -- a file was added
    'consent');        -- production access asked, granted or refused

-- DA numbers: one global sequence, never reused.
CREATE SEQUENCE dadm.da_number_seq AS bigint START 1;

ALTER TABLE dadm.domain ADD UNIQUE (product_id, id);

CREATE TABLE dadm.da (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          bigint NOT NULL UNIQUE DEFAULT nextval('dadm.da_number_seq'),
    etab_id         bigint NOT NULL REFERENCES dadm.etab,
    product_id      bigint NOT NULL REFERENCES dadm.product,
    installation_id bigint NOT NULL,
    -- The validated installed version at filing time (a label, so it
    -- stays as filed when the installation moves on).
    version_label   text NOT NULL CHECK (length(version_label) BETWEEN 1 AND 31),
    internal_ref    text CHECK (length(internal_ref) BETWEEN 1 AND 50),
    priority        dadm.da_priority NOT NULL,
    domain_id       bigint NOT NULL,
    nature          dadm.nature NOT NULL,
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description     text NOT NULL CHECK (length(description) BETWEEN 1 AND 20000),
    message_code    text CHECK (message_code ~ '^[^\s<>]{1,60}$'),
    status          dadm.da_status NOT NULL DEFAULT 'ECT',
    sub_status      text,
    status_since    timestamptz NOT NULL DEFAULT now(),
    filer_id        bigint NOT NULL,
    consultant_id   bigint REFERENCES dadm.account,
    contractor_id   bigint REFERENCES dadm.contractor,
    -- Closed with a validated solution: shown in the knowledge base.
    published       boolean NOT NULL DEFAULT false,
    -- Motive of a rejection (EXC, REJ).
    motive          text CHECK (length(motive) BETWEEN 1 AND 4000),
    -- ARS / AVS timers: when the site was reminded in the current wait.
    reminded_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    closed_at       timestamptz,
    UNIQUE (etab_id, id),
    FOREIGN KEY (etab_id, installation_id) REFERENCES dadm.installation (etab_id, id),
    FOREIGN KEY (product_id, domain_id) REFERENCES dadm.domain (product_id, id),
    FOREIGN KEY (etab_id, filer_id) REFERENCES dadm.account (etab_id, id),
    CHECK (CASE status
        WHEN 'DEV' THEN sub_status IN ('INI', 'EC', 'SUS', 'CLO')
        WHEN 'PEC' THEN sub_status IS NULL OR sub_status IN ('INI', 'TND', 'CLO')
        WHEN 'CTR' THEN sub_status IS NULL OR sub_status IN ('EC', 'CLO')
        ELSE sub_status IS NULL
    END),
    CHECK (status NOT IN ('EXC', 'REJ') OR motive IS NOT NULL),
    CHECK (NOT published OR status = 'TER')
);
CREATE INDEX da_etab_product_idx ON dadm.da (etab_id, product_id, status);
CREATE INDEX da_product_status_idx ON dadm.da (product_id, status);
CREATE INDEX da_consultant_idx ON dadm.da (consultant_id) WHERE closed_at IS NULL;
CREATE INDEX da_contractor_idx ON dadm.da (contractor_id) WHERE contractor_id IS NOT NULL;

CREATE TABLE dadm.da_event (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    etab_id     bigint NOT NULL,
    da_id       bigint NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    -- NULL: the system (timers).
    author_id   bigint REFERENCES dadm.account,
    kind        dadm.da_event_kind NOT NULL,
    from_status dadm.da_status,
    to_status   dadm.da_status,
    from_sub    text,
    to_sub      text,
    body        text CHECK (length(body) <= 20000),
    internal    boolean NOT NULL DEFAULT false,
    detail      jsonb NOT NULL DEFAULT '{}',
    FOREIGN KEY (etab_id, da_id) REFERENCES dadm.da (etab_id, id),
    CHECK (NOT internal OR kind = 'internal_note')
);
CREATE INDEX da_event_da_idx ON dadm.da_event (da_id, at, id);

CREATE TABLE dadm.da_attachment (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    etab_id      bigint NOT NULL,
    da_id        bigint NOT NULL,
    name         text NOT NULL CHECK (name ~ '^[^/\\\x01-\x1f]{1,200}$' AND name NOT IN ('.', '..')),
    content_type text NOT NULL CHECK (content_type ~ '^[a-z]+/[a-z0-9.+-]{1,100}$'),
    size         bigint NOT NULL CHECK (size > 0),
    sha256       bytea NOT NULL CHECK (length(sha256) = 32),
    content      bytea NOT NULL,
    uploader_id  bigint NOT NULL REFERENCES dadm.account,
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (etab_id, da_id) REFERENCES dadm.da (etab_id, id),
    CHECK (length(content) = size)
);
CREATE INDEX da_attachment_da_idx ON dadm.da_attachment (da_id);
-- The bytes are kept out of line and uncompressed (uploads are mostly
-- compressed images and archives).
ALTER TABLE dadm.da_attachment ALTER COLUMN content SET STORAGE EXTERNAL;

CREATE TYPE dadm.consent_status AS ENUM ('pending', 'granted', 'refused');

-- Production access on a télé-service installation: asked by a consultant
-- on a DA, granted (for a time window) or refused by the correspondent who
-- filed it.
CREATE TABLE dadm.consent (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    etab_id      bigint NOT NULL,
    da_id        bigint NOT NULL,
    requested_by bigint NOT NULL REFERENCES dadm.account,
    requested_at timestamptz NOT NULL DEFAULT now(),
    reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 4000),
    status       dadm.consent_status NOT NULL DEFAULT 'pending',
    decided_by   bigint REFERENCES dadm.account,
    decided_at   timestamptz,
    valid_from   timestamptz,
    valid_until  timestamptz,
    motive       text CHECK (length(motive) BETWEEN 1 AND 4000),
    FOREIGN KEY (etab_id, da_id) REFERENCES dadm.da (etab_id, id),
    CHECK ((status = 'pending') = (decided_by IS NULL)),
    CHECK ((status = 'granted') = (valid_from IS NOT NULL AND valid_until IS NOT NULL)),
    CHECK (valid_until > valid_from),
    CHECK (status <> 'refused' OR motive IS NOT NULL)
);
CREATE INDEX consent_da_idx ON dadm.consent (da_id);
-- At most one pending request per DA.
CREATE UNIQUE INDEX consent_one_pending ON dadm.consent (da_id) WHERE status = 'pending';

-- Products the caller is an agency consultant of (any nature).
CREATE FUNCTION dadm.my_consultant_products() RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT coalesce(array_agg(DISTINCT g.product_id), '{}')
      FROM dadm.my_grants() g WHERE g.role = 'consultant'
$$;

-- "contractor:product" pairs the caller consults for.
CREATE FUNCTION dadm.my_contractor_scopes() RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT coalesce(array_agg(DISTINCT g.contractor_id || ':' || g.product_id), '{}')
      FROM dadm.my_grants() g WHERE g.role = 'contractor_consultant'
$$;

ALTER TABLE dadm.da ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.da FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.da TO dadm_owner USING (true) WITH CHECK (true);
CREATE POLICY scope_read ON dadm.da FOR SELECT TO dadm_app
    USING ((etab_id || ':' || product_id) = ANY ((SELECT dadm.my_corr_scopes())::text[])
           OR product_id = ANY ((SELECT dadm.my_consultant_products())::bigint[])
           OR (contractor_id || ':' || product_id)
              = ANY ((SELECT dadm.my_contractor_scopes())::text[]));
-- Filing: a correspondent of the establishment and product, under its own
-- name, as a new DA.
CREATE POLICY file ON dadm.da FOR INSERT TO dadm_app
    WITH CHECK ((etab_id || ':' || product_id) = ANY ((SELECT dadm.my_corr_scopes())::text[])
                AND filer_id = (SELECT dadm.my_account())
                AND status = 'ECT' AND NOT published AND closed_at IS NULL);
-- Moves: anyone who sees the DA, and it stays in their scope (the C table
-- decides which moves each role makes).
CREATE POLICY move ON dadm.da FOR UPDATE TO dadm_app
    USING ((etab_id || ':' || product_id) = ANY ((SELECT dadm.my_corr_scopes())::text[])
           OR product_id = ANY ((SELECT dadm.my_consultant_products())::bigint[])
           OR (contractor_id || ':' || product_id)
              = ANY ((SELECT dadm.my_contractor_scopes())::text[]))
    WITH CHECK ((etab_id || ':' || product_id) = ANY ((SELECT dadm.my_corr_scopes())::text[])
                OR product_id = ANY ((SELECT dadm.my_consultant_products())::bigint[])
                OR (contractor_id || ':' || product_id)
                   = ANY ((SELECT dadm.my_contractor_scopes())::text[]));

-- Events, attachments and consents follow their DA: the subquery on dadm.da
-- is itself filtered by the DA's policy.
ALTER TABLE dadm.da_event ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.da_event FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.da_event TO dadm_owner USING (true) WITH CHECK (true);
CREATE POLICY scope_read ON dadm.da_event FOR SELECT TO dadm_app
    USING (EXISTS (SELECT 1 FROM dadm.da d
                    WHERE d.id = da_id AND d.etab_id = da_event.etab_id
                      AND (NOT internal
                           OR d.product_id = ANY ((SELECT dadm.my_consultant_products())::bigint[]))));
CREATE POLICY write ON dadm.da_event FOR INSERT TO dadm_app
    WITH CHECK (author_id = (SELECT dadm.my_account())
                AND EXISTS (SELECT 1 FROM dadm.da d
                             WHERE d.id = da_id AND d.etab_id = da_event.etab_id
                               AND (NOT internal
                                    OR d.product_id
                                       = ANY ((SELECT dadm.my_consultant_products())::bigint[]))));

ALTER TABLE dadm.da_attachment ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.da_attachment FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.da_attachment TO dadm_owner USING (true) WITH CHECK (true);
CREATE POLICY scope_read ON dadm.da_attachment FOR SELECT TO dadm_app
    USING (EXISTS (SELECT 1 FROM dadm.da d
                    WHERE d.id = da_id AND d.etab_id = da_attachment.etab_id));
CREATE POLICY upload ON dadm.da_attachment FOR INSERT TO dadm_app
    WITH CHECK (uploader_id = (SELECT dadm.my_account())
                AND EXISTS (SELECT 1 FROM dadm.da d
                             WHERE d.id = da_id AND d.etab_id = da_attachment.etab_id));

ALTER TABLE dadm.consent ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.consent FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.consent TO dadm_owner USING (true) WITH CHECK (true);
CREATE POLICY scope_read ON dadm.consent FOR SELECT TO dadm_app
    USING (EXISTS (SELECT 1 FROM dadm.da d
                    WHERE d.id = da_id AND d.etab_id = consent.etab_id));
-- Asking: the agency's consultants of the product.
CREATE POLICY ask ON dadm.consent FOR INSERT TO dadm_app
    WITH CHECK (requested_by = (SELECT dadm.my_account()) AND status = 'pending'
                AND EXISTS (SELECT 1 FROM dadm.da d
                             WHERE d.id = da_id AND d.etab_id = consent.etab_id
                               AND d.product_id
                                   = ANY ((SELECT dadm.my_consultant_products())::bigint[])));
-- Deciding: the correspondent who filed the DA, once.
CREATE POLICY decide ON dadm.consent FOR UPDATE TO dadm_app
    USING (status = 'pending'
           AND EXISTS (SELECT 1 FROM dadm.da d
                        WHERE d.id = da_id AND d.etab_id = consent.etab_id
                          AND d.filer_id = (SELECT dadm.my_account())))
    WITH CHECK (decided_by = (SELECT dadm.my_account()) AND status <> 'pending');

GRANT USAGE ON SEQUENCE dadm.da_number_seq TO dadm_app;
GRANT SELECT ON dadm.da, dadm.da_event, dadm.consent TO dadm_app;
GRANT INSERT (etab_id, product_id, installation_id, version_label, internal_ref, priority,
              domain_id, nature, title, description, message_code, filer_id, consultant_id)
    ON dadm.da TO dadm_app;
GRANT UPDATE (priority, domain_id, nature, status, sub_status, status_since, consultant_id,
              contractor_id, published, motive, reminded_at, updated_at, closed_at)
    ON dadm.da TO dadm_app;
GRANT INSERT (etab_id, da_id, author_id, kind, from_status, to_status, from_sub, to_sub, body,
              internal, detail)
    ON dadm.da_event TO dadm_app;
GRANT SELECT, INSERT (etab_id, da_id, name, content_type, size, sha256, content, uploader_id)
    ON dadm.da_attachment TO dadm_app;
GRANT INSERT (etab_id, da_id, requested_by, reason) ON dadm.consent TO dadm_app;
GRANT UPDATE (status, decided_by, decided_at, valid_from, valid_until, motive)
    ON dadm.consent TO dadm_app;

REVOKE ALL ON FUNCTION dadm.my_consultant_products(), dadm.my_contractor_scopes() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.my_consultant_products(), dadm.my_contractor_scopes()
    TO dadm_app;
