/* Configuration: one GLib key file (conf/dadm.conf), every key overridable by
 * the environment variable DADM_<SECTION>_<KEY> (upper case). A key named
 * `<key>_file` holds the path of a file whose content (without its trailing
 * newline) is the value of `<key>`: secrets never need to sit in the file. */
#ifndef DADM_COMMON_CONF_H
#define DADM_COMMON_CONF_H

#include <stdbool.h>

typedef struct conf conf;

/* Loads `path` (NULL: environment and defaults only). On failure returns
 * NULL and sets *err to an owned message (free with free()). */
conf *conf_load(const char *path, char **err);
void conf_free(conf *c);

/* The value of section.key: environment first, then the file, then
 * `<key>_file` in either, then `def`. The string belongs to `c`.
 * Not thread-safe: read configuration at start-up. */
const char *conf_str(conf *c, const char *section, const char *key, const char *def);
/* Integer value within [min, max]; *ok is set false (and def returned) when
 * the value is not an integer in range. */
long conf_int(conf *c, const char *section, const char *key, long def, long min, long max,
              bool *ok);
/* Boolean: true/false/yes/no/on/off/1/0; *ok false when unparsable. */
bool conf_bool(conf *c, const char *section, const char *key, bool def, bool *ok);

#endif
