/* Reading the configuration keys shared by dadmd and dadmctl. */
#ifndef DADM_SETTINGS_H
#define DADM_SETTINGS_H

#include "conf.h"

/* The configuration file to read: `explicit` when given, else $DADM_CONFIG,
 * else the installed default if it exists, else NULL (environment only). */
const char *settings_config_path(const char *explicit_path);
/* Folder of the SQL migrations: [db] migrations_dir or the installed one. */
const char *settings_sql_dir(conf *c);

#endif
