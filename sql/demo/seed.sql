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

INSERT INTO dadm.contractor (name) VALUES ('Prestatech'), ('Infogestion');

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
    (NULL, 'Prestatech', 'louis.garnier', 'Louis', 'Garnier', 'louis.garnier@prestatech.fr', NULL),
    (NULL, NULL, 'marc.dubois', 'Marc', 'Dubois', 'marc.dubois@amue.fr', NULL),
    (NULL, NULL, 'nadia.lambert', 'Nadia', 'Lambert', 'nadia.lambert@amue.fr', NULL),
    (NULL, 'Infogestion', 'olivier.masson', 'Olivier', 'Masson', 'olivier.masson@infogestion.fr', NULL))
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
    ('louis.garnier', 'contractor_consultant', 'fonctionnel', 'apogee'),
    ('marc.dubois', 'consultant', 'technique', 'apogee'),
    ('nadia.lambert', 'consultant', 'fonctionnel', 'sifac'),
    ('olivier.masson', 'contractor_consultant', 'fonctionnel', 'apogee'))
    AS g(login, role, nature, product)
  JOIN dadm.account a ON a.login = g.login
  LEFT JOIN dadm.product p ON p.code = g.product;

-- Demo assistance requests in a few statuses, with their threads. Numbers
-- come from dadm.da_number_seq like filed ones.
CREATE TEMPORARY TABLE demo_da ON COMMIT DROP AS
SELECT x.* FROM (VALUES
    (1, '0673021V', 'apogee', 'inscriptions', 'bloquant', 'alice.martin', 'hugo.bernard', 'ECT',
     NULL, 'Échec de la réinscription en ligne des doublants',
     'Message ORA-01403 à la validation de l''étape 4 pour les étudiants doublants de L1.',
     'ORA-01403', NULL),
    (2, '0673021V', 'apogee', 'resultats', 'non_bloquant', 'alice.martin', 'hugo.bernard', 'ARS',
     NULL, 'Calcul des mentions au jury de licence',
     'La mention n''apparaît pas sur le PV de jury pour les parcours aménagés.', NULL, NULL),
    (3, '0673021V', 'sifac', 'technique', 'non_bloquant', 'bruno.keller', 'ines.petit', 'TER',
     NULL, 'Lenteur des éditions budgétaires après la montée en V5.0',
     'Les éditions FMAVCR01 prennent plus de 10 minutes depuis la montée de version.', NULL,
     NULL),
    (4, '0440984F', 'sifac', 'budget', 'bloquant', 'fanny.leroy', 'nadia.lambert', 'AVS', NULL,
     'Dépassement de budget bloquant sur convention',
     'Message FMAVC005 à la saisie d''une commande sur une convention pourtant dotée.',
     'FMAVC005', NULL),
    (5, '0673021V', 'apogee', 'technique', 'non_bloquant', 'bruno.keller', 'marc.dubois', 'DEV',
     'EC', 'Batch de purge des dossiers : verrou sur la table IND_BAC',
     'Le batch de purge bloque les inscriptions administratives pendant son exécution.', NULL,
     NULL),
    (6, '0860856N', 'sifac', 'technique', 'non_bloquant', 'emma.girard', 'ines.petit', 'ECT',
     NULL, 'Connexion au serveur de télé-service refusée',
     'Le portail du télé-service renvoie une erreur 502 depuis ce matin.', NULL, NULL))
    AS x(k, uai, product, domain, priority, filer, consultant, status, sub, title, description,
         message_code, contractor);

INSERT INTO dadm.da (etab_id, product_id, installation_id, version_label, priority, domain_id,
                     nature, title, description, message_code, status, sub_status, filer_id,
                     consultant_id, published, created_at, updated_at, status_since, closed_at)
SELECT e.id, p.id, i.id, v.label, x.priority::dadm.da_priority, d.id, d.nature, x.title,
       x.description, x.message_code, x.status::dadm.da_status, x.sub, f.id, c.id,
       x.status = 'TER', now() - (7 - x.k) * interval '1 day', now() - interval '1 hour',
       now() - interval '1 hour', CASE WHEN x.status = 'TER' THEN now() - interval '1 hour' END
  FROM demo_da x
  JOIN dadm.etab e ON e.uai = x.uai
  JOIN dadm.product p ON p.code = x.product
  JOIN dadm.installation i ON i.etab_id = e.id AND i.product_id = p.id
  JOIN dadm.version v ON v.id = i.version_id
  JOIN dadm.domain d ON d.product_id = p.id AND d.code = x.domain
  JOIN dadm.account f ON f.login = x.filer
  JOIN dadm.account c ON c.login = x.consultant
 ORDER BY x.k;

INSERT INTO dadm.da_event (etab_id, da_id, at, author_id, kind, from_status, to_status, body,
                           detail)
SELECT da.etab_id, da.id, da.created_at, da.filer_id, 'filed'::dadm.da_event_kind,
       'NEW'::dadm.da_status, 'ECT'::dadm.da_status, NULL, '{}'::jsonb
  FROM dadm.da da
UNION ALL
SELECT da.etab_id, da.id, da.created_at, da.filer_id, 'assignment', NULL, NULL, NULL,
       jsonb_build_object('consultant_id', da.consultant_id)
  FROM dadm.da da
UNION ALL
SELECT da.etab_id, da.id, da.updated_at, da.consultant_id,
       CASE da.status WHEN 'ARS' THEN 'question' WHEN 'AVS' THEN 'solution'
                      ELSE 'status' END::dadm.da_event_kind,
       'ECT'::dadm.da_status, da.status, CASE da.status
           WHEN 'ARS' THEN 'Pouvez-vous joindre la décomposition du diplôme concerné ?'
           WHEN 'AVS' THEN 'Vérifiez la ligne budgétaire de la convention (transaction FMBB) : '
                           'le disponible est porté par le centre financier parent.' END,
       '{}'
  FROM dadm.da da WHERE da.status IN ('ARS', 'AVS')
UNION ALL
SELECT da.etab_id, da.id, da.updated_at - interval '1 day', da.consultant_id, 'solution', 'ECT',
       'AVS', 'Recalculer les statistiques de la base HANA puis relancer les éditions.', '{}'
  FROM dadm.da da WHERE da.status = 'TER'
UNION ALL
SELECT da.etab_id, da.id, da.updated_at, da.filer_id, 'validation', 'AVS', 'TER', NULL, '{}'
  FROM dadm.da da WHERE da.status = 'TER';
UPDATE dadm.da_event ev SET to_sub = da.sub_status
  FROM dadm.da da WHERE ev.da_id = da.id AND ev.kind = 'status' AND da.sub_status IS NOT NULL;
