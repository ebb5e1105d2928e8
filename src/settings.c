#include "settings.h"

#include <stdlib.h>
#include <unistd.h>

#include "config.h"

const char *settings_config_path(const char *explicit_path)
{
    if (explicit_path)
        return explicit_path;
    const char *env = getenv("DADM_CONFIG");
    if (env && *env)
        return env;
    if (access(DADM_SYSCONFDIR "/dadm.conf", R_OK) == 0)
        return DADM_SYSCONFDIR "/dadm.conf";
    return NULL;
}

const char *settings_sql_dir(conf *c)
{
    return conf_str(c, "db", "migrations_dir", DADM_SQLDIR);
}
