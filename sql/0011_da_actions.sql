-- Assistance requests (DA), the SQL side of filing and of the moves decided
-- in C (src/da.c, src/da_lifecycle.c): the support rule of versions, the
-- choice of the consultant put in charge, and what the daemon needs to know
-- about people it may not read through row-level security (the names of
-- the people on a DA it sees, the addresses to mail).

-- Versions of a product supported on day p_on: the latest delivered by then,
-- and, unless the product supports only its current delivery, the one
-- before it for support_days after the newer one's delivery
-- (major_support_days when the newer one was a major technical migration).
-- Also used by the statistics.
CREATE FUNCTION dadm.supported_versions(p_product bigint, p_on date)
RETURNS TABLE (label text, delivered_on date, supported_until date)
LANGUAGE sql STABLE
SET search_path = pg_catalog, dadm
AS $$
    WITH v AS (
        SELECT v.label, v.delivered_on,
               row_number() OVER (ORDER BY v.delivered_on DESC, v.id DESC) AS rank,
               lag(v.delivered_on) OVER (ORDER BY v.delivered_on DESC, v.id DESC) AS newer_on,
               lag(v.major_migration) OVER (ORDER BY v.delivered_on DESC, v.id DESC) AS newer_major
          FROM dadm.version v
         WHERE v.product_id = p_product AND v.delivered_on <= p_on)
    SELECT v.label, v.delivered_on,
           CASE WHEN v.rank = 1 THEN NULL
                ELSE v.newer_on + CASE WHEN v.newer_major THEN p.major_support_days
                                       ELSE p.support_days END END
      FROM v JOIN dadm.product p ON p.id = p_product
     WHERE v.rank = 1
        OR (v.rank = 2 AND NOT p.current_only
            AND p_on <= v.newer_on + CASE WHEN v.newer_major THEN p.major_support_days
                                          ELSE p.support_days END)
     ORDER BY v.delivered_on DESC
$$;

-- Does the caller see DA p_da? The same rule as the policy scope_read on
-- dadm.da, for the SECURITY DEFINER functions below.
CREATE FUNCTION dadm.da_sees(p_da bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT EXISTS (
        SELECT 1 FROM dadm.da d
         WHERE d.id = p_da
           AND ((d.etab_id || ':' || d.product_id) = ANY (dadm.my_corr_scopes())
                OR d.product_id = ANY (dadm.my_consultant_products())
                OR (d.contractor_id || ':' || d.product_id) = ANY (dadm.my_contractor_scopes())))
$$;

-- The consultant to put in charge of a new DA of establishment p_etab on
-- product p_product and nature p_nature: among the active agency
-- consultants of that product and nature, the one with the fewest open DAs
-- (ties: the lowest account id); when the product has none of that nature,
-- any consultant of the product; no row when it has none. Consultants are
-- agency accounts a correspondent cannot read, hence SECURITY DEFINER; it
-- answers only a correspondent of that establishment and product.
CREATE FUNCTION dadm.da_pick_consultant(p_etab bigint, p_product bigint, p_nature dadm.nature)
RETURNS TABLE (account_id bigint, name text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT a.id, trim(a.given_name || ' ' || a.family_name)
      FROM dadm.account a
      JOIN dadm."grant" g ON g.account_id = a.id AND g.role = 'consultant'
                          AND g.product_id = p_product
     WHERE a.status = 'active' AND a.etab_id IS NULL AND a.contractor_id IS NULL
       AND (p_etab || ':' || p_product) = ANY (dadm.my_corr_scopes())
     GROUP BY a.id
     ORDER BY bool_or(g.nature = p_nature) DESC,
              (SELECT count(*) FROM dadm.da d
                WHERE d.consultant_id = a.id AND d.closed_at IS NULL),
              a.id
     LIMIT 1
$$;

-- Display name of account p_account when it is a person of DA p_da (its
-- filer, its consultant, or the author of one of its events) and the caller
-- sees that DA; NULL otherwise.
CREATE FUNCTION dadm.da_person_name(p_da bigint, p_account bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT nullif(trim(a.given_name || ' ' || a.family_name), '')
      FROM dadm.account a
     WHERE a.id = p_account AND dadm.da_sees(p_da)
       AND (EXISTS (SELECT 1 FROM dadm.da d
                     WHERE d.id = p_da AND p_account IN (d.filer_id, d.consultant_id))
            OR EXISTS (SELECT 1 FROM dadm.da_event e
                        WHERE e.da_id = p_da AND e.author_id = p_account))
$$;

-- Name of the contractor a DA the caller sees is externalised to.
CREATE FUNCTION dadm.da_contractor_name(p_da bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT k.name FROM dadm.da d JOIN dadm.contractor k ON k.id = d.contractor_id
     WHERE d.id = p_da AND dadm.da_sees(p_da)
$$;

-- Addresses to mail about DA p_da, for a caller who sees it:
-- 'site': its filer first, then the establishment's other active
-- correspondents of the product; 'consultant': the consultant in charge.
CREATE FUNCTION dadm.da_mail_to(p_da bigint, p_who text)
RETURNS TABLE (email text, name text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, dadm
AS $$
    SELECT x.email, x.name FROM (
        SELECT DISTINCT ON (a.email) a.email, trim(a.given_name || ' ' || a.family_name) AS name,
               (a.id = d.filer_id) AS first
          FROM dadm.da d
          JOIN dadm.account a ON a.status = 'active'
               AND (a.id = d.filer_id
                    OR a.id IN (SELECT g.account_id FROM dadm."grant" g
                                 WHERE g.role = 'correspondent' AND g.etab_id = d.etab_id
                                   AND g.product_id = d.product_id))
         WHERE p_who = 'site' AND d.id = p_da AND dadm.da_sees(p_da)
        UNION ALL
        SELECT a.email, trim(a.given_name || ' ' || a.family_name), true
          FROM dadm.da d JOIN dadm.account a ON a.id = d.consultant_id AND a.status = 'active'
         WHERE p_who = 'consultant' AND d.id = p_da AND dadm.da_sees(p_da)) x
     ORDER BY x.first DESC, x.email
$$;

REVOKE ALL ON FUNCTION dadm.supported_versions(bigint, date), dadm.da_sees(bigint),
    dadm.da_pick_consultant(bigint, bigint, dadm.nature), dadm.da_person_name(bigint, bigint),
    dadm.da_contractor_name(bigint), dadm.da_mail_to(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dadm.supported_versions(bigint, date), dadm.da_sees(bigint),
    dadm.da_pick_consultant(bigint, bigint, dadm.nature), dadm.da_person_name(bigint, bigint),
    dadm.da_contractor_name(bigint), dadm.da_mail_to(bigint, text) TO dadm_app;
