-- Demo data: three establishments, the agency's products with their domains
-- and versions, installations, correspondents, agency staff and a
-- contractor. The password hashes come from the settings
-- dadm.seed_person_hash and dadm.seed_reader_hash set by `dadmctl seed-demo`.

INSERT INTO dadm.etab (uai, name, type, size_class, website, generic_email) VALUES
    ('0673021V', 'Université de Strasbourg', 'universite', 'tres_grand',
     'https://www.unistra.fr', 'espace-dadm@unistra.fr'),
    ('0860856N', 'Université de Poitiers', 'universite', 'grand',
     'https://www.univ-poitiers.fr', 'espace-dadm@univ-poitiers.fr'),
    ('0440984F', 'Nantes Université', 'universite', 'grand',
     'https://www.univ-nantes.fr', 'espace-dadm@univ-nantes.fr');

INSERT INTO dadm.product (code, name, reader_login, reader_hash, current_only)
SELECT code, name, reader, current_setting('dadm.seed_reader_hash'), current_only
  FROM (VALUES ('apogee', 'Apogée', 'aporead', false),
               ('harpege', 'Harpège', 'harpread', false),
               ('sifac', 'Sifac', 'sifacread', false),
               ('rof', 'ROF', 'rofread', false),
               ('sinaps', 'Sinaps', 'sinapsread', false),
               ('siham', 'Siham', 'sihamread', false),
               ('siham-pms', 'Siham PMS', 'sihampmsread', false),
               ('evrp', 'EvRP', 'evrpread', true),
               ('sinchro', 'Sinchro', 'sinchroread', false)) AS p(code, name, reader, current_only);

INSERT INTO dadm.domain (product_id, code, name, nature)
SELECT p.id, d.code, d.name, d.nature::dadm.nature
  FROM (VALUES
    ('apogee', 'inscriptions', 'Inscriptions administratives', 'fonctionnel'),
    ('apogee', 'pedagogie', 'Inscriptions pédagogiques', 'fonctionnel'),
    ('apogee', 'resultats', 'Résultats et diplômes', 'fonctionnel'),
    ('apogee', 'technique', 'Technique', 'technique'),
    ('harpege', 'carriere', 'Carrière', 'fonctionnel'),
    ('harpege', 'nomenclature', 'Nomenclatures', 'fonctionnel'),
    ('harpege', 'technique', 'Technique', 'technique'),
    ('sifac', 'recettes', 'Recettes', 'fonctionnel'),
    ('sifac', 'depenses', 'Dépenses', 'fonctionnel'),
    ('sifac', 'budget', 'Budget', 'fonctionnel'),
    ('sifac', 'conventions', 'Conventions', 'fonctionnel'),
    ('sifac', 'autorisations', 'Autorisations', 'technique'),
    ('sifac', 'technique', 'Technique et exploitation', 'technique'),
    ('rof', 'offre', 'Offre de formation', 'fonctionnel'),
    ('rof', 'technique', 'Technique', 'technique'),
    ('sinaps', 'referentiels', 'Référentiels', 'fonctionnel'),
    ('sinaps', 'technique', 'Technique', 'technique'),
    ('siham', 'gestion-administrative', 'Gestion administrative', 'fonctionnel'),
    ('siham', 'paie', 'Paie', 'fonctionnel'),
    ('siham', 'technique', 'Technique', 'technique'),
    ('siham-pms', 'postes', 'Postes et masse salariale', 'fonctionnel'),
    ('siham-pms', 'technique', 'Technique', 'technique'),
    ('evrp', 'evaluation', 'Évaluation des risques', 'fonctionnel'),
    ('evrp', 'technique', 'Technique', 'technique'),
    ('sinchro', 'synchronisation', 'Synchronisation', 'fonctionnel'),
    ('sinchro', 'technique', 'Technique', 'technique')) AS d(product, code, name, nature)
  JOIN dadm.product p ON p.code = d.product;

INSERT INTO dadm.version (product_id, label, delivered_on, major_migration)
SELECT p.id, v.label, v.delivered::date, v.major
  FROM (VALUES
    ('apogee', '6.30.00', '2025-06-16', false),
    ('apogee', '6.40.00', '2026-06-15', false),
    ('apogee', '6.40.10', '2026-10-05', false),
    ('harpege', '9.9.3', '2025-11-03', false),
    ('harpege', '9.10.0', '2026-09-14', true),
    ('sifac', 'V4.2', '2025-12-01', false),
    ('sifac', 'V5.0', '2026-10-12', true),
    ('rof', '3.8.1', '2026-03-02', false),
    ('sinaps', '2.4.0', '2026-04-06', false),
    ('siham', '7.2.0', '2026-02-09', false),
    ('siham', '7.3.0', '2026-09-28', false),
    ('siham-pms', '3.1.0', '2026-05-11', false),
    ('evrp', '2.6', '2026-01-19', false),
    ('evrp', '2.7', '2026-07-06', false),
    ('sinchro', '1.9.2', '2026-06-01', false)) AS v(product, label, delivered, major)
  JOIN dadm.product p ON p.code = v.product;

INSERT INTO dadm.installation (etab_id, product_id, mode, version_id, server_series,
                               server_os, server_db)
SELECT e.id, p.id, i.mode::dadm.install_mode, v.id, i.series, i.os, i.db
  FROM (VALUES
    ('0673021V', 'apogee', 'classique', '6.40.10', 'PROD-APO', 'RHEL 9.4', 'Oracle 19c'),
    ('0673021V', 'sifac', 'classique', 'V5.0', 'PROD-SIFAC', 'SLES 15 SP5', 'HANA 2.0'),
    ('0673021V', 'siham', 'heberge', '7.3.0', NULL, NULL, NULL),
    ('0860856N', 'apogee', 'classique', '6.40.00', 'APO-P1', 'Debian 12', 'Oracle 19c'),
    ('0860856N', 'harpege', 'classique', '9.9.3', 'HARP', 'Debian 12', 'Oracle 19c'),
    ('0860856N', 'sifac', 'teleservice', 'V4.2', NULL, NULL, NULL),
    ('0440984F', 'sifac', 'heberge', 'V5.0', NULL, NULL, NULL),
    ('0440984F', 'apogee', 'classique', '6.40.10', 'APOGEE', 'RHEL 8.10', 'Oracle 19c'))
    AS i(uai, product, mode, version, series, os, db)
  JOIN dadm.etab e ON e.uai = i.uai
  JOIN dadm.product p ON p.code = i.product
  JOIN dadm.version v ON v.product_id = p.id AND v.label = i.version;

INSERT INTO dadm.contractor (name) VALUES ('Prestatech');

INSERT INTO dadm.account (etab_id, contractor_id, login, given_name, family_name, email, phone,
                          password_hash)
SELECT e.id, k.id, a.login, a.given, a.family, a.email, a.phone,
       current_setting('dadm.seed_person_hash')
  FROM (VALUES
    ('0673021V', NULL, 'alice.martin', 'Alice', 'Martin', 'alice.martin@unistra.fr', '03 68 85 00 01'),
    ('0673021V', NULL, 'bruno.keller', 'Bruno', 'Keller', 'bruno.keller@unistra.fr', '03 68 85 00 02'),
    ('0673021V', NULL, 'chloe.weber', 'Chloé', 'Weber', 'chloe.weber@unistra.fr', NULL),
    ('0860856N', NULL, 'denis.roux', 'Denis', 'Roux', 'denis.roux@univ-poitiers.fr', '05 49 45 30 00'),
    ('0860856N', NULL, 'emma.girard', 'Emma', 'Girard', 'emma.girard@univ-poitiers.fr', NULL),
    ('0440984F', NULL, 'fanny.leroy', 'Fanny', 'Leroy', 'fanny.leroy@univ-nantes.fr', NULL),
    (NULL, NULL, 'hugo.bernard', 'Hugo', 'Bernard', 'hugo.bernard@amue.fr', NULL),
    (NULL, NULL, 'ines.petit', 'Inès', 'Petit', 'ines.petit@amue.fr', NULL),
    (NULL, NULL, 'julie.moreau', 'Julie', 'Moreau', 'julie.moreau@amue.fr', NULL),
    (NULL, NULL, 'karim.fontaine', 'Karim', 'Fontaine', 'karim.fontaine@amue.fr', NULL),
    (NULL, 'Prestatech', 'louis.garnier', 'Louis', 'Garnier', 'louis.garnier@prestatech.fr', NULL))
    AS a(uai, contractor, login, given, family, email, phone)
  LEFT JOIN dadm.etab e ON e.uai = a.uai
  LEFT JOIN dadm.contractor k ON k.name = a.contractor;

INSERT INTO dadm."grant" (account_id, role, nature, product_id, etab_id, contractor_id)
SELECT a.id, g.role::dadm.role, g.nature::dadm.nature, p.id,
       CASE WHEN g.role IN ('correspondent', 'etab_admin') THEN a.etab_id END,
       CASE WHEN g.role = 'contractor_consultant' THEN a.contractor_id END
  FROM (VALUES
    ('alice.martin', 'correspondent', 'fonctionnel', 'apogee'),
    ('bruno.keller', 'correspondent', 'technique', 'apogee'),
    ('bruno.keller', 'correspondent', 'technique', 'sifac'),
    ('chloe.weber', 'etab_admin', NULL, NULL),
    ('denis.roux', 'correspondent', 'fonctionnel', 'apogee'),
    ('emma.girard', 'correspondent', 'technique', 'sifac'),
    ('fanny.leroy', 'correspondent', 'fonctionnel', 'sifac'),
    ('hugo.bernard', 'consultant', 'fonctionnel', 'apogee'),
    ('ines.petit', 'consultant', 'technique', 'sifac'),
    ('julie.moreau', 'validator', NULL, NULL),
    ('karim.fontaine', 'admin', NULL, NULL),
    ('louis.garnier', 'contractor_consultant', 'fonctionnel', 'apogee'))
    AS g(login, role, nature, product)
  JOIN dadm.account a ON a.login = g.login
  LEFT JOIN dadm.product p ON p.code = g.product;
