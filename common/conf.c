#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

struct conf {
    GKeyFile *kf;
    GHashTable *cache; /* "section.key" -> owned value, so returned strings stay valid */
};

conf *conf_load(const char *path, char **err)
{
    conf *c = calloc(1, sizeof(*c));
    if (!c) {
        *err = strdup("mémoire insuffisante");
        return NULL;
    }
    c->kf = g_key_file_new();
    c->cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (path) {
        GError *gerr = NULL;
        if (!g_key_file_load_from_file(c->kf, path, G_KEY_FILE_NONE, &gerr)) {
            char *msg = g_strdup_printf("%s: %s", path, gerr->message);
            *err = strdup(msg);
            g_free(msg);
            g_error_free(gerr);
            conf_free(c);
            return NULL;
        }
    }
    return c;
}

void conf_free(conf *c)
{
    if (!c)
        return;
    g_key_file_free(c->kf);
    g_hash_table_destroy(c->cache);
    free(c);
}

static char *env_name(const char *section, const char *key)
{
    char *name = g_strdup_printf("DADM_%s_%s", section, key);
    for (char *p = name; *p; p++)
        *p = (*p == '-' || *p == '.') ? '_' : (char)toupper((unsigned char)*p);
    return name;
}

/* Raw lookup: environment, then key file. Owned result or NULL. */
static char *lookup(conf *c, const char *section, const char *key)
{
    char *name = env_name(section, key);
    const char *env = getenv(name);
    g_free(name);
    if (env)
        return g_strdup(env);
    char *v = g_key_file_get_value(c->kf, section, key, NULL);
    if (v)
        g_strstrip(v);
    return v;
}

static char *read_secret(const char *path)
{
    char *content = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &content, &len, NULL))
        return NULL;
    while (len > 0 && (content[len - 1] == '\n' || content[len - 1] == '\r'))
        content[--len] = '\0';
    return content;
}

const char *conf_str(conf *c, const char *section, const char *key, const char *def)
{
    char *ck = g_strdup_printf("%s.%s", section, key);
    const char *hit = g_hash_table_lookup(c->cache, ck);
    if (hit) {
        g_free(ck);
        return hit;
    }
    char *v = lookup(c, section, key);
    if (!v) {
        char *fkey = g_strdup_printf("%s_file", key);
        char *path = lookup(c, section, fkey);
        if (path && *path)
            v = read_secret(path);
        g_free(path);
        g_free(fkey);
    }
    if (!v) {
        g_free(ck);
        return def;
    }
    g_hash_table_insert(c->cache, ck, v);
    return v;
}

long conf_int(conf *c, const char *section, const char *key, long def, long min, long max, bool *ok)
{
    const char *s = conf_str(c, section, key, NULL);
    if (!s)
        return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        *ok = false;
        return def;
    }
    return v;
}

bool conf_bool(conf *c, const char *section, const char *key, bool def, bool *ok)
{
    const char *s = conf_str(c, section, key, NULL);
    if (!s)
        return def;
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (g_ascii_strcasecmp(s, yes[i]) == 0)
            return true;
        if (g_ascii_strcasecmp(s, no[i]) == 0)
            return false;
    }
    *ok = false;
    return def;
}
