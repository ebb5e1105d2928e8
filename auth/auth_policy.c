#include "auth_policy.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const auth_policy_settings auth_policy_default = {
    .min_length = 12,
    .need_upper = true,
    .need_lower = true,
    .need_digit = true,
    .need_special = true,
    .forbid_non_ascii = true,
    .forbidden = "!?*@",
    .common_list = NULL,
};

struct auth_policy {
    auth_policy_settings set;
    char *forbidden_owned;
    GHashTable *common; /* lower-case strings, owned */
};

void auth_policy_free(auth_policy *p)
{
    if (!p)
        return;
    if (p->common)
        g_hash_table_destroy(p->common);
    free(p->forbidden_owned);
    free(p);
}

static bool load_common(auth_policy *p, const char *path, char **err)
{
    gchar *text = NULL;
    GError *ge = NULL;
    if (!g_file_get_contents(path, &text, NULL, &ge)) {
        *err = g_strdup_printf("cannot read the common passwords list %s: %s", path,
                               ge ? ge->message : "?");
        g_clear_error(&ge);
        return false;
    }
    gchar **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    for (gchar **l = lines; *l; l++) {
        gchar *s = g_strstrip(*l);
        if (!*s || *s == '#')
            continue;
        gchar *low = g_utf8_strdown(s, -1);
        if (low)
            g_hash_table_add(p->common, low);
    }
    g_strfreev(lines);
    return true;
}

auth_policy *auth_policy_new(const auth_policy_settings *s, char **err)
{
    *err = NULL;
    auth_policy *p = calloc(1, sizeof(*p));
    if (!p)
        goto nomem;
    p->set = *s;
    p->forbidden_owned = strdup(s->forbidden ? s->forbidden : "");
    p->common = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    if (!p->forbidden_owned || !p->common)
        goto nomem;
    p->set.forbidden = p->forbidden_owned;
    p->set.common_list = NULL; /* the path is not kept */
    if (s->common_list && !load_common(p, s->common_list, err)) {
        auth_policy_free(p);
        return NULL;
    }
    return p;
nomem:
    auth_policy_free(p);
    *err = strdup("out of memory");
    return NULL;
}

unsigned auth_policy_common_count(const auth_policy *p)
{
    return g_hash_table_size(p->common);
}

/* The password, lower-cased, and two of its cores (without the characters
 * that are not letters or digits; letters only): "Motdepasse#2026" is as
 * weak as "motdepasse". */
static bool is_common(const auth_policy *p, const char *pw)
{
    if (g_hash_table_size(p->common) == 0)
        return false;
    size_t n = strlen(pw);
    char *low = g_ascii_strdown(pw, (gssize)n);
    char *alnum = g_malloc(n + 1), *alpha = g_malloc(n + 1);
    size_t i1 = 0, i2 = 0;
    for (size_t i = 0; i < n; i++) {
        if (g_ascii_isalnum(low[i]))
            alnum[i1++] = low[i];
        if (g_ascii_isalpha(low[i]))
            alpha[i2++] = low[i];
    }
    alnum[i1] = alpha[i2] = '\0';
    bool hit = g_hash_table_contains(p->common, low) ||
               (i1 >= 4 && g_hash_table_contains(p->common, alnum)) ||
               (i2 >= 4 && g_hash_table_contains(p->common, alpha));
    g_free(low);
    g_free(alnum);
    g_free(alpha);
    return hit;
}

static const char *join_missing(GString *g, const char **items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            g_string_append(g, i + 1 == n ? " et " : ", ");
        g_string_append(g, items[i]);
    }
    return g->str;
}

const char *auth_policy_check(const auth_policy *p, arena *a, const char *pw)
{
    const auth_policy_settings *s = &p->set;
    bool upper = false, lower = false, digit = false, special = false, non_ascii = false,
         control = false;
    GString *bad = g_string_new(NULL); /* forbidden characters met, once each */
    size_t count = 0;
    for (const unsigned char *c = (const unsigned char *)pw; *c; c++) {
        if ((*c & 0xC0) != 0x80)
            count++; /* counts characters, not bytes */
        if (*c >= 0x80) {
            non_ascii = true;
        } else if (*c < 0x20 || *c == 0x7F) {
            control = true;
        } else if (*c != ' ' && strchr(s->forbidden, *c)) {
            if (!strchr(bad->str, *c))
                g_string_append_c(bad, (char)*c);
        } else if (g_ascii_isupper(*c)) {
            upper = true;
        } else if (g_ascii_islower(*c)) {
            lower = true;
        } else if (g_ascii_isdigit(*c)) {
            digit = true;
        } else {
            special = true; /* punctuation and space */
        }
    }

    GString *msg = g_string_new(NULL);
    if ((int)count < s->min_length)
        g_string_append_printf(msg, " ; il doit compter au moins %d caractères (il en compte %zu)",
                               s->min_length, count);
    if (count > AUTH_POLICY_MAX_LENGTH)
        g_string_append_printf(msg, " ; il ne doit pas dépasser %d caractères",
                               AUTH_POLICY_MAX_LENGTH);
    const char *missing[4];
    size_t nm = 0;
    if (s->need_upper && !upper)
        missing[nm++] = "une majuscule";
    if (s->need_lower && !lower)
        missing[nm++] = "une minuscule";
    if (s->need_digit && !digit)
        missing[nm++] = "un chiffre";
    if (s->need_special && !special)
        missing[nm++] = "un caractère spécial (par exemple # $ % & - _ + = . , ; :)";
    if (nm) {
        GString *m = g_string_new(" ; il manque ");
        g_string_append(msg, join_missing(m, missing, nm));
        g_string_free(m, TRUE);
    }
    if (non_ascii && s->forbid_non_ascii)
        g_string_append(msg, " ; les lettres accentuées, le ç et les autres caractères non "
                             "ASCII sont interdits");
    if (control)
        g_string_append(msg, " ; les caractères de contrôle sont interdits");
    for (const char *b = bad->str; *b; b++)
        g_string_append_printf(msg, " ; le caractère « %c » est interdit", *b);
    if (msg->len == 0 && is_common(p, pw))
        g_string_append(msg, " ; c'est un mot de passe courant (ou dérivé d'un mot de passe "
                             "courant), trop facile à deviner");
    const char *out = NULL;
    if (msg->len) {
        out = arena_printf(a, "Mot de passe refusé : %s.", msg->str + 3);
        if (!out)
            out = "Mot de passe refusé : il ne respecte pas la règle des mots de passe.";
    }
    g_string_free(bad, TRUE);
    g_string_free(msg, TRUE);
    return out;
}
