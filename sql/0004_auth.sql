-- Authentication: failed-login counters, lost-password links, and the
-- SECURITY DEFINER functions through which the daemon checks credentials and
-- changes passwords without reading or writing the tables directly.
--
-- The daemon verifies argon2id hashes itself (PostgreSQL has no argon2), so
-- the functions that return a hash return exactly one, for one login; none
-- lists them.

-- One row per failed login, keyed by login ('p:<login>' for a person,
-- 'r:<login>' for a product reader) or by client address. Rows older than
-- the window are ignored and pruned as new failures arrive.
CREATE TABLE dadm.auth_attempt (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('account', 'address')),
    key  text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_attempt_key_idx ON dadm.auth_attempt (kind, key, at);

-- Lost-password links: only the SHA-256 of the token is kept; single use.
CREATE TABLE dadm.password_reset (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    account_id bigint NOT NULL REFERENCES dadm.account,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX password_reset_account_idx ON dadm.password_reset (account_id) WHERE used_at IS NULL;

ALTER TABLE dadm.auth_attempt ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.auth_attempt FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.auth_attempt TO dadm_owner USING (true) WITH CHECK (true);

ALTER TABLE dadm.password_reset ENABLE ROW LEVEL SECURITY;
ALTER TABLE dadm.password_reset FORCE ROW LEVEL SECURITY;
CREATE POLICY operator ON dadm.password_reset TO dadm_owner USING (true) WITH CHECK (true);

-- Seconds the caller must still wait before trying `key` again; 0 when it
-- may try now. The first p_free failures inside the window cost nothing;
-- after that each failure doubles the wait, from p_base up to p_max,
-- counted from the last failure.
CREATE FUNCTION dadm.auth_wait(p_kind text, p_key text, p_free integer, p_base integer,
                               p_max integer, p_window integer)
RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT CASE WHEN x.n < p_free THEN 0
           ELSE greatest(0, ceil(extract(epoch FROM
                    x.last + make_interval(secs => least(p_max::double precision,
                        p_base * power(2, least(x.n - p_free, 30)))) - now())))::integer
           END
      FROM (SELECT count(*)::integer AS n, max(at) AS last
              FROM dadm.auth_attempt
             WHERE kind = p_kind AND key = p_key
               AND at > now() - make_interval(secs => p_window)) x
$$;

-- Records one failure for a login key and for a client address, and prunes
-- what has left the window for both.
CREATE FUNCTION dadm.auth_fail(p_login_key text, p_addr text, p_window integer)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    DELETE FROM dadm.auth_attempt
     WHERE ((kind = 'account' AND key = p_login_key) OR (kind = 'address' AND key = p_addr))
       AND at <= now() - make_interval(secs => p_window);
    INSERT INTO dadm.auth_attempt (kind, key) VALUES ('account', p_login_key), ('address', p_addr);
$$;

-- A successful login clears the failures of that login (not of the address).
CREATE FUNCTION dadm.auth_succeed(p_login_key text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    DELETE FROM dadm.auth_attempt WHERE kind = 'account' AND key = p_login_key;
$$;

-- The password hash of a personal account, for the daemon to verify. No row
-- when the login is unknown or not a person.
CREATE FUNCTION dadm.auth_account_secret(p_login text)
RETURNS TABLE (account_id bigint, password_hash text, active boolean, etab_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT a.id, a.password_hash, a.status = 'active', a.etab_id
      FROM dadm.account a
     WHERE a.login = lower(p_login) AND a.kind = 'person'
$$;

-- The reader hash of a product login (aporead, …), for the daemon to verify.
CREATE FUNCTION dadm.auth_reader_secret(p_login text)
RETURNS TABLE (product_id bigint, reader_hash text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT p.id, p.reader_hash FROM dadm.product p WHERE p.reader_login = lower(p_login)
$$;

-- Replaces a hash made with old parameters by one made with the current
-- ones, only if it has not changed meanwhile. Sessions stay open: the
-- password is the same.
CREATE FUNCTION dadm.auth_rehash(p_account bigint, p_old text, p_new text)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    WITH u AS (UPDATE dadm.account SET password_hash = p_new
                WHERE id = p_account AND password_hash = p_old RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM u)
$$;

-- The caller changes its own password (it has proved the current one to the
-- daemon): every session of the account ends, pending reset links die. The
-- daemon then opens a new session for the caller. Returns the account id.
CREATE FUNCTION dadm.auth_password_change(p_new text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    v_account bigint := dadm.my_account();
BEGIN
    IF v_account IS NULL THEN
        RAISE EXCEPTION 'no personal session' USING ERRCODE = '42501';
    END IF;
    UPDATE dadm.account SET password_hash = p_new, updated_at = now() WHERE id = v_account;
    UPDATE dadm.password_reset SET used_at = now()
     WHERE account_id = v_account AND used_at IS NULL;
    PERFORM dadm.account_end_sessions(v_account);
    RETURN v_account;
END
$$;

-- Lost password: a new link for an active person's login. Earlier unused
-- links of the account die. No row when the login is unknown or disabled.
CREATE FUNCTION dadm.auth_reset_create(p_login text, p_hash bytea, p_seconds integer)
RETURNS TABLE (account_id bigint, email text, etab_id bigint, given_name text,
               family_name text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    a dadm.account;
BEGIN
    SELECT * INTO a FROM dadm.account x
     WHERE x.login = lower(p_login) AND x.kind = 'person' AND x.status = 'active';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE dadm.password_reset SET used_at = now() WHERE password_reset.account_id = a.id
       AND used_at IS NULL;
    INSERT INTO dadm.password_reset (token_hash, account_id, expires_at)
    VALUES (p_hash, a.id, now() + make_interval(secs => p_seconds));
    RETURN QUERY SELECT a.id, a.email, a.etab_id, a.given_name, a.family_name;
END
$$;

-- Uses a lost-password link once: sets the new hash and ends every session
-- of the account. NULL when the link is unknown, used or expired.
CREATE FUNCTION dadm.auth_reset_consume(p_hash bytea, p_new text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
DECLARE
    v_account bigint;
BEGIN
    UPDATE dadm.password_reset r SET used_at = now()
      FROM dadm.account a
     WHERE r.token_hash = p_hash AND r.used_at IS NULL AND r.expires_at > now()
       AND a.id = r.account_id AND a.status = 'active'
    RETURNING r.account_id INTO v_account;
    IF v_account IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE dadm.account SET password_hash = p_new, updated_at = now() WHERE id = v_account;
    UPDATE dadm.password_reset SET used_at = now()
     WHERE account_id = v_account AND used_at IS NULL;
    PERFORM dadm.account_end_sessions(v_account);
    RETURN v_account;
END
$$;

-- Lost login: the logins of the active persons with this address.
CREATE FUNCTION dadm.auth_login_reminder(p_email text)
RETURNS TABLE (login text, etab_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT a.login, a.etab_id FROM dadm.account a
     WHERE lower(a.email) = lower(p_email) AND a.kind = 'person' AND a.status = 'active'
     ORDER BY a.login
$$;

-- The establishments offered on the login page (SSO chooser): public names
-- and UAI only.
CREATE FUNCTION dadm.auth_login_etabs()
RETURNS TABLE (uai text, name text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT e.uai, e.name FROM dadm.etab e ORDER BY e.name, e.uai
$$;

-- Disabling an account ends its sessions, whoever disables it (operator,
-- directory synchronisation, administrator).
CREATE FUNCTION dadm.account_disabled_end_sessions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
BEGIN
    PERFORM dadm.account_end_sessions(NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER account_disabled AFTER UPDATE OF status ON dadm.account
    FOR EACH ROW WHEN (NEW.status = 'disabled' AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION dadm.account_disabled_end_sessions();

REVOKE ALL ON FUNCTION dadm.auth_wait(text, text, integer, integer, integer, integer),
    dadm.auth_fail(text, text, integer), dadm.auth_succeed(text),
    dadm.auth_account_secret(text), dadm.auth_reader_secret(text),
    dadm.auth_rehash(bigint, text, text), dadm.auth_password_change(text),
    dadm.auth_reset_create(text, bytea, integer), dadm.auth_reset_consume(bytea, text),
    dadm.auth_login_reminder(text), dadm.auth_login_etabs(),
    dadm.account_disabled_end_sessions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.auth_wait(text, text, integer, integer, integer, integer),
    dadm.auth_fail(text, text, integer), dadm.auth_succeed(text),
    dadm.auth_account_secret(text), dadm.auth_reader_secret(text),
    dadm.auth_rehash(bigint, text, text), dadm.auth_password_change(text),
    dadm.auth_reset_create(text, bytea, integer), dadm.auth_reset_consume(bytea, text),
    dadm.auth_login_reminder(text), dadm.auth_login_etabs()
    TO dadm_app;
