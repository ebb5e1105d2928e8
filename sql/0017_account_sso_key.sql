-- The single sign-on identity (sso_idp, sso_eppn) is unique among the
-- accounts that have one, in a partial index.
--
-- Only accounts created at a first SAML login carry it; the accounts a
-- directory run makes (0006) and the local ones leave both columns NULL
-- (account_check1 keeps them NULL together), and a unique constraint never
-- compares NULLs. The full index held one entry per account all the same:
-- a first load of 230,000 accounts from a directory spent 6% of its
-- instructions inserting entries that can never conflict. The lookups
-- (sso_idp = … AND sso_eppn = …) imply sso_idp IS NOT NULL and use the
-- partial index as they used the full one.
ALTER TABLE dadm.account DROP CONSTRAINT account_sso_idp_sso_eppn_key;
CREATE UNIQUE INDEX account_sso_key ON dadm.account (sso_idp, sso_eppn)
    WHERE sso_idp IS NOT NULL;
