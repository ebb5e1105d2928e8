-- Base schema: establishments, products, installations, accounts, grants,
-- contractors, agency closures, sessions, audit, outbox.
-- Runs as the owner role (dadm_owner). The daemon's role (dadm_app) owns
-- nothing and gets only the privileges granted in these files.

CREATE SCHEMA dadm;
REVOKE ALL ON SCHEMA dadm FROM PUBLIC;
GRANT USAGE ON SCHEMA dadm TO dadm_app;

CREATE TYPE dadm.etab_type AS ENUM ('universite', 'ecole', 'epst', 'autre');
CREATE TYPE dadm.size_class AS ENUM ('tres_petit', 'petit', 'moyen', 'grand', 'tres_grand');
CREATE TYPE dadm.nature AS ENUM ('fonctionnel', 'technique');
CREATE TYPE dadm.install_mode AS ENUM ('classique', 'heberge', 'teleservice');
CREATE TYPE dadm.role AS ENUM ('correspondent', 'etab_admin', 'consultant',
                               'contractor_consultant', 'validator', 'admin');
CREATE TYPE dadm.account_status AS ENUM ('active', 'disabled');
CREATE TYPE dadm.account_kind AS ENUM ('person', 'generic');

-- Tenant: one row per member establishment.
CREATE TABLE dadm.etab (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uai           text NOT NULL UNIQUE CHECK (uai ~ '^[0-9]{7}[A-Z]$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    type          dadm.etab_type NOT NULL,
    size_class    dadm.size_class NOT NULL,
    website       text CHECK (website ~ '^https?://[^\s]{1,250}$'),
    generic_email text CHECK (generic_email ~ '^[^@\s]{1,64}@[^@\s]{1,190}$'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dadm.product (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code               text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9-]{1,30}$'),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- Level-1 shared login (the SFTP one) and its argon2id hash.
    reader_login       text NOT NULL UNIQUE CHECK (reader_login ~ '^[a-z][a-z0-9]{1,30}$'),
    reader_hash        text,
    -- Support policy: the previous delivery stays supported this many days
    -- after a new one (longer after a major technical migration); some
    -- products support only the current delivery.
    support_days       integer NOT NULL DEFAULT 30 CHECK (support_days >= 0),
    major_support_days integer NOT NULL DEFAULT 183 CHECK (major_support_days >= 0),
    current_only       boolean NOT NULL DEFAULT false
);

CREATE TABLE dadm.domain (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id bigint NOT NULL REFERENCES dadm.product,
    code       text NOT NULL CHECK (code ~ '^[a-z][a-z0-9-]{1,40}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    nature     dadm.nature NOT NULL,
    UNIQUE (product_id, code)
);

CREATE TABLE dadm.version (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id      bigint NOT NULL REFERENCES dadm.product,
    label           text NOT NULL CHECK (label ~ '^[0-9A-Za-z][0-9A-Za-z._-]{0,30}$'),
    delivered_on    date NOT NULL,
    major_migration boolean NOT NULL DEFAULT false,
    UNIQUE (product_id, label),
    UNIQUE (product_id, id)
);

CREATE TABLE dadm.contractor (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100)
);

-- Establishment x product. Server data are the site's declared platform.
CREATE TABLE dadm.installation (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    etab_id       bigint NOT NULL REFERENCES dadm.etab,
    product_id    bigint NOT NULL REFERENCES dadm.product,
    mode          dadm.install_mode NOT NULL DEFAULT 'classique',
    version_id    bigint,
    server_series text CHECK (length(server_series) <= 100),
    server_os     text CHECK (length(server_os) <= 100),
    server_db     text CHECK (length(server_db) <= 100),
    server_notes  text CHECK (length(server_notes) <= 2000),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (etab_id, product_id),
    UNIQUE (etab_id, id),
    FOREIGN KEY (product_id, version_id) REFERENCES dadm.version (product_id, id)
);

-- A person or a generic address, of one establishment, of the agency (both
-- NULL) or of a contractor.
CREATE TABLE dadm.account (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    etab_id       bigint REFERENCES dadm.etab,
    contractor_id bigint REFERENCES dadm.contractor,
    kind          dadm.account_kind NOT NULL DEFAULT 'person',
    login         text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9][a-z0-9._@-]{1,127}$'),
    given_name    text NOT NULL DEFAULT '' CHECK (length(given_name) <= 100),
    family_name   text NOT NULL DEFAULT '' CHECK (length(family_name) <= 100),
    email         text NOT NULL CHECK (email ~ '^[^@\s]{1,64}@[^@\s]{1,190}$'),
    phone         text CHECK (phone ~ '^\+?[0-9 .()-]{4,30}$'),
    password_hash text,
    sso_idp       text,
    sso_eppn      text,
    dir_key       text,
    status        dadm.account_status NOT NULL DEFAULT 'active',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (num_nonnulls(etab_id, contractor_id) <= 1),
    CHECK ((sso_idp IS NULL) = (sso_eppn IS NULL)),
    UNIQUE (sso_idp, sso_eppn),
    UNIQUE (etab_id, dir_key),
    UNIQUE (etab_id, id),
    UNIQUE (contractor_id, id)
);
CREATE INDEX account_etab_idx ON dadm.account (etab_id);

-- Role x scope. The shape of the scope depends on the role (CHECK below).
CREATE TABLE dadm."grant" (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES dadm.account,
    role          dadm.role NOT NULL,
    nature        dadm.nature,
    product_id    bigint REFERENCES dadm.product,
    etab_id       bigint REFERENCES dadm.etab,
    contractor_id bigint REFERENCES dadm.contractor,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- A grant scoped to an establishment belongs to an account of that
    -- establishment; a contractor's grant to an account of that contractor.
    FOREIGN KEY (etab_id, account_id) REFERENCES dadm.account (etab_id, id),
    FOREIGN KEY (contractor_id, account_id) REFERENCES dadm.account (contractor_id, id),
    CHECK (CASE role
        WHEN 'correspondent' THEN etab_id IS NOT NULL AND product_id IS NOT NULL
                                  AND nature IS NOT NULL AND contractor_id IS NULL
        WHEN 'etab_admin' THEN etab_id IS NOT NULL AND product_id IS NULL
                               AND nature IS NULL AND contractor_id IS NULL
        WHEN 'consultant' THEN etab_id IS NULL AND product_id IS NOT NULL
                               AND nature IS NOT NULL AND contractor_id IS NULL
        WHEN 'contractor_consultant' THEN etab_id IS NULL AND product_id IS NOT NULL
                                          AND contractor_id IS NOT NULL
        ELSE etab_id IS NULL AND product_id IS NULL AND contractor_id IS NULL AND nature IS NULL
    END),
    UNIQUE NULLS NOT DISTINCT (account_id, role, nature, product_id, etab_id, contractor_id)
);
CREATE INDEX grant_account_idx ON dadm."grant" (account_id);
CREATE INDEX grant_etab_idx ON dadm."grant" (etab_id, product_id);

-- Agency closure periods (timers pause during them).
CREATE TABLE dadm.closure (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    starts_on date NOT NULL,
    ends_on   date NOT NULL,
    reason    text NOT NULL DEFAULT '' CHECK (length(reason) <= 200),
    CHECK (ends_on >= starts_on)
);

-- Sessions: only the SHA-256 of the token is stored. Either a personal
-- account (level 2) or a product reader (level 1).
CREATE TABLE dadm.session (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    account_id   bigint REFERENCES dadm.account,
    product_id   bigint REFERENCES dadm.product,
    level        smallint NOT NULL CHECK (level IN (1, 2)),
    method       text NOT NULL CHECK (method IN ('password', 'sso', 'reader', 'operator')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    idle_timeout interval NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    CHECK ((level = 2) = (account_id IS NOT NULL)),
    CHECK ((level = 1) = (product_id IS NOT NULL))
);
CREATE INDEX session_account_idx ON dadm.session (account_id) WHERE ended_at IS NULL;

-- Append-only, hash-chained audit trail.
CREATE TABLE dadm.audit (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    account_id bigint,
    etab_id    bigint,
    action     text NOT NULL CHECK (action ~ '^[a-z_.]{1,64}$'),
    target     text,
    detail     jsonb NOT NULL DEFAULT '{}',
    prev_hash  bytea NOT NULL,
    hash       bytea NOT NULL
);

-- Mail outbox, written in the same transaction as the event it reports.
CREATE TABLE dadm.outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    etab_id         bigint REFERENCES dadm.etab,
    created_at      timestamptz NOT NULL DEFAULT now(),
    to_addr         text NOT NULL CHECK (to_addr ~ '^[^@\s]{1,64}@[^@\s]{1,190}$'),
    subject         text NOT NULL CHECK (length(subject) BETWEEN 1 AND 250),
    body            text NOT NULL CHECK (length(body) <= 100000),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX outbox_pending_idx ON dadm.outbox (next_attempt_at) WHERE sent_at IS NULL;
