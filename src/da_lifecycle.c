#include "da_lifecycle.h"

#include <string.h>

static const struct {
    const char *name, *label;
    bool closed;
} statuses[DA_STATUS_COUNT] = {
    [DA_NEW] = {"NEW", "Nouvelle fiche créée", false},
    [DA_ECT] = {"ECT", "En cours de traitement", false},
    [DA_INT] = {"INT", "Traitée par le consultant Amue", false},
    [DA_EXT] = {"EXT", "Traitée par le prestataire (externalisée)", false},
    [DA_EXP] = {"EXP", "Demande d'expertise en interne Amue", false},
    [DA_AVA] = {"AVA", "Réponse du prestataire en attente de validation par l'Amue", false},
    [DA_ARS] = {"ARS", "En attente de renseignements par le site", false},
    [DA_AVS] = {"AVS", "Réponse envoyée au site, en attente de validation par le site", false},
    [DA_ATD] = {"ATD", "En attente de décision", false},
    [DA_ADV] = {"ADV", "En attente de développement", false},
    [DA_INF] = {"INF", "Demande d'informations", false},
    [DA_DMF] = {"DMF", "Demande de modification", false},
    [DA_DEV] = {"DEV", "En développement", false},
    [DA_PEC] = {"PEC", "Pris en compte", false},
    [DA_CTR] = {"CTR", "Prise en compte par le projet pour la recette", false},
    [DA_TER] = {"TER", "Terminé", true},
    [DA_EXC] = {"EXC", "Exclu", true},
    [DA_REJ] = {"REJ", "Rejeté", true},
    [DA_ABN] = {"ABN", "Abandonnée (clôture automatique)", true},
    [DA_REM] = {"REM", "Remplacement de logiciel en cours", true},
};

static const char *const subs[DA_SUB_COUNT] = {
    [DA_SUB_NONE] = NULL, [DA_SUB_INI] = "INI", [DA_SUB_EC] = "EC",
    [DA_SUB_SUS] = "SUS", [DA_SUB_CLO] = "CLO", [DA_SUB_TND] = "TND",
};

static const char *const actors[DA_ACTOR_COUNT] = {
    [DA_ACTOR_SITE] = "site",
    [DA_ACTOR_AGENCY] = "agency",
    [DA_ACTOR_CONTRACTOR] = "contractor",
    [DA_ACTOR_SYSTEM] = "system",
};

static const char *const actions[DA_ACTION_COUNT] = {
    [DA_ACTION_FILED] = "filed",
    [DA_ACTION_QUESTION] = "question",
    [DA_ACTION_ANSWER] = "answer",
    [DA_ACTION_SOLUTION] = "solution",
    [DA_ACTION_VALIDATION] = "validation",
    [DA_ACTION_REFUSAL] = "refusal",
    [DA_ACTION_EXTERNALISATION] = "externalisation",
    [DA_ACTION_STATUS] = "status",
    [DA_ACTION_AUTO_CLOSURE] = "auto_closure",
};

/* Short names for the table. */
#define SITE DA_ACTOR_SITE
#define AGCY DA_ACTOR_AGENCY
#define CTOR DA_ACTOR_CONTRACTOR
#define SYST DA_ACTOR_SYSTEM
#define NONE DA_SUB_NONE
#define M(actor, action, from, fsub, to, tsub)                                                     \
    {                                                                                              \
        actor, DA_ACTION_##action, DA_##from, fsub, DA_##to, tsub                                  \
    }

/* Who may move a DA from where to where. The guide's paths:
 * - filing puts it in ECT; the agency works it (INT), asks an internal
 *   expertise (EXP), a decision (ATD), informs (INF) or records a change
 *   request (DMF);
 * - a question puts it in ARS until the site answers (-> ECT);
 * - a solution puts it in AVS until the site validates (-> TER, published)
 *   or refuses with a motive (-> INT);
 * - externalised (EXT), the contractor's solution waits for the agency
 *   (AVA), which forwards it to the site (-> AVS) or sends it back (-> EXT);
 * - a decided development waits (ADV), is developed (DEV INI, EC, SUS,
 *   CLO), taken into account (PEC, INI, TND, CLO), tested by the project
 *   (CTR, EC, CLO), and ends with a solution to the site or TER;
 * - the agency excludes (EXC) or rejects (REJ) with a motive, or records a
 *   software replacement (REM); the timers close ARS and AVS without an
 *   answer (ABN).
 * Closed statuses (TER, EXC, REJ, ABN, REM) have no way out: a new problem
 * is a new DA. */
static const da_move table[] = {
    M(SYST, FILED, NEW, NONE, ECT, NONE),

    /* the site */
    M(SITE, ANSWER, ARS, NONE, ECT, NONE),
    M(SITE, VALIDATION, AVS, NONE, TER, NONE),
    M(SITE, REFUSAL, AVS, NONE, INT, NONE),

    /* the agency: questions and solutions */
    M(AGCY, QUESTION, ECT, NONE, ARS, NONE),
    M(AGCY, QUESTION, INT, NONE, ARS, NONE),
    M(AGCY, QUESTION, EXP, NONE, ARS, NONE),
    M(AGCY, QUESTION, INF, NONE, ARS, NONE),
    M(AGCY, QUESTION, DMF, NONE, ARS, NONE),
    M(AGCY, SOLUTION, ECT, NONE, AVS, NONE),
    M(AGCY, SOLUTION, INT, NONE, AVS, NONE),
    M(AGCY, SOLUTION, EXP, NONE, AVS, NONE),
    M(AGCY, SOLUTION, AVA, NONE, AVS, NONE),
    M(AGCY, SOLUTION, INF, NONE, AVS, NONE),
    M(AGCY, SOLUTION, DMF, NONE, AVS, NONE),
    M(AGCY, SOLUTION, DEV, DA_SUB_CLO, AVS, NONE),
    M(AGCY, SOLUTION, PEC, DA_SUB_TND, AVS, NONE),
    M(AGCY, SOLUTION, PEC, DA_SUB_CLO, AVS, NONE),
    M(AGCY, SOLUTION, CTR, DA_SUB_CLO, AVS, NONE),
    M(AGCY, EXTERNALISATION, ECT, NONE, EXT, NONE),
    M(AGCY, EXTERNALISATION, INT, NONE, EXT, NONE),
    M(AGCY, EXTERNALISATION, EXP, NONE, EXT, NONE),

    /* the agency: other moves */
    M(AGCY, STATUS, ECT, NONE, INT, NONE),
    M(AGCY, STATUS, ECT, NONE, EXP, NONE),
    M(AGCY, STATUS, ECT, NONE, ATD, NONE),
    M(AGCY, STATUS, ECT, NONE, INF, NONE),
    M(AGCY, STATUS, ECT, NONE, DMF, NONE),
    M(AGCY, STATUS, ECT, NONE, EXC, NONE),
    M(AGCY, STATUS, ECT, NONE, REJ, NONE),
    M(AGCY, STATUS, ECT, NONE, REM, NONE),
    M(AGCY, STATUS, INT, NONE, EXP, NONE),
    M(AGCY, STATUS, INT, NONE, ATD, NONE),
    M(AGCY, STATUS, INT, NONE, INF, NONE),
    M(AGCY, STATUS, INT, NONE, DMF, NONE),
    M(AGCY, STATUS, INT, NONE, EXC, NONE),
    M(AGCY, STATUS, INT, NONE, REJ, NONE),
    M(AGCY, STATUS, INT, NONE, REM, NONE),
    M(AGCY, STATUS, EXP, NONE, INT, NONE),
    M(AGCY, STATUS, EXP, NONE, ATD, NONE),
    M(AGCY, STATUS, EXP, NONE, EXC, NONE),
    M(AGCY, STATUS, EXP, NONE, REJ, NONE),
    M(AGCY, STATUS, EXT, NONE, INT, NONE),
    M(AGCY, STATUS, AVA, NONE, EXT, NONE),
    M(AGCY, STATUS, ATD, NONE, ADV, NONE),
    M(AGCY, STATUS, ATD, NONE, INT, NONE),
    M(AGCY, STATUS, ATD, NONE, PEC, NONE),
    M(AGCY, STATUS, ATD, NONE, EXC, NONE),
    M(AGCY, STATUS, ATD, NONE, REJ, NONE),
    M(AGCY, STATUS, ADV, NONE, DEV, DA_SUB_INI),
    M(AGCY, STATUS, ADV, NONE, REM, NONE),
    M(AGCY, STATUS, DEV, DA_SUB_INI, DEV, DA_SUB_EC),
    M(AGCY, STATUS, DEV, DA_SUB_INI, DEV, DA_SUB_SUS),
    M(AGCY, STATUS, DEV, DA_SUB_EC, DEV, DA_SUB_SUS),
    M(AGCY, STATUS, DEV, DA_SUB_EC, DEV, DA_SUB_CLO),
    M(AGCY, STATUS, DEV, DA_SUB_SUS, DEV, DA_SUB_EC),
    M(AGCY, STATUS, DEV, DA_SUB_SUS, REM, NONE),
    M(AGCY, STATUS, DEV, DA_SUB_CLO, PEC, NONE),
    M(AGCY, STATUS, DEV, DA_SUB_CLO, CTR, NONE),
    M(AGCY, STATUS, DEV, DA_SUB_CLO, TER, NONE),
    M(AGCY, STATUS, PEC, NONE, PEC, DA_SUB_INI),
    M(AGCY, STATUS, PEC, DA_SUB_INI, PEC, DA_SUB_TND),
    M(AGCY, STATUS, PEC, DA_SUB_INI, PEC, DA_SUB_CLO),
    M(AGCY, STATUS, PEC, DA_SUB_TND, PEC, DA_SUB_CLO),
    M(AGCY, STATUS, PEC, DA_SUB_CLO, CTR, NONE),
    M(AGCY, STATUS, PEC, DA_SUB_CLO, TER, NONE),
    M(AGCY, STATUS, CTR, NONE, CTR, DA_SUB_EC),
    M(AGCY, STATUS, CTR, DA_SUB_EC, CTR, DA_SUB_CLO),
    M(AGCY, STATUS, CTR, DA_SUB_CLO, TER, NONE),
    M(AGCY, STATUS, INF, NONE, INT, NONE),
    M(AGCY, STATUS, INF, NONE, TER, NONE),
    M(AGCY, STATUS, INF, NONE, EXC, NONE),
    M(AGCY, STATUS, DMF, NONE, INT, NONE),
    M(AGCY, STATUS, DMF, NONE, ATD, NONE),
    M(AGCY, STATUS, DMF, NONE, REJ, NONE),

    /* the contractor the DA is externalised to */
    M(CTOR, SOLUTION, EXT, NONE, AVA, NONE),

    /* the timers */
    M(SYST, AUTO_CLOSURE, ARS, NONE, ABN, NONE),
    M(SYST, AUTO_CLOSURE, AVS, NONE, ABN, NONE),
};

#undef M

const char *da_status_name(da_status s)
{
    return (unsigned)s < DA_STATUS_COUNT ? statuses[s].name : "?";
}

int da_status_parse(const char *s)
{
    for (int i = 0; s && i < DA_STATUS_COUNT; i++)
        if (strcmp(s, statuses[i].name) == 0)
            return i;
    return -1;
}

const char *da_status_label(da_status s)
{
    return (unsigned)s < DA_STATUS_COUNT ? statuses[s].label : "?";
}

const char *da_sub_name(da_sub s)
{
    return (unsigned)s < DA_SUB_COUNT ? subs[s] : NULL;
}

int da_sub_parse(const char *s)
{
    if (!s || !*s)
        return DA_SUB_NONE;
    for (int i = 1; i < DA_SUB_COUNT; i++)
        if (strcmp(s, subs[i]) == 0)
            return i;
    return -1;
}

const char *da_actor_name(da_actor a)
{
    return (unsigned)a < DA_ACTOR_COUNT ? actors[a] : "?";
}

const char *da_action_name(da_action a)
{
    return (unsigned)a < DA_ACTION_COUNT ? actions[a] : "?";
}

bool da_status_closed(da_status s)
{
    return (unsigned)s < DA_STATUS_COUNT && statuses[s].closed;
}

bool da_sub_valid(da_status s, da_sub sub)
{
    switch (s) {
    case DA_DEV:
        return sub == DA_SUB_INI || sub == DA_SUB_EC || sub == DA_SUB_SUS || sub == DA_SUB_CLO;
    case DA_PEC:
        return sub == DA_SUB_NONE || sub == DA_SUB_INI || sub == DA_SUB_TND || sub == DA_SUB_CLO;
    case DA_CTR:
        return sub == DA_SUB_NONE || sub == DA_SUB_EC || sub == DA_SUB_CLO;
    default:
        return sub == DA_SUB_NONE;
    }
}

const da_move *da_lifecycle_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}

static bool from_matches(const da_move *m, da_status from, da_sub from_sub)
{
    return m->from == from && (m->from_sub == DA_SUB_ANY || m->from_sub == from_sub);
}

const da_move *da_lifecycle_find(da_actor actor, da_action action, da_status from, da_sub from_sub,
                                 da_status to, da_sub to_sub)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const da_move *m = &table[i];
        if (m->actor == actor && m->action == action && from_matches(m, from, from_sub) &&
            m->to == to && m->to_sub == to_sub)
            return m;
    }
    return NULL;
}

const da_move *da_lifecycle_target(da_actor actor, da_action action, da_status from,
                                   da_sub from_sub)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const da_move *m = &table[i];
        if (m->actor == actor && m->action == action && from_matches(m, from, from_sub))
            return m;
    }
    return NULL;
}

bool da_lifecycle_actor_may(da_actor actor, da_action action)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].actor == actor && table[i].action == action)
            return true;
    return false;
}
