/* Plain HTML pages: login, logout, lost password and login, password
 * change. French; every dynamic value goes through pages_escape(); each
 * page carries a strict Content-Security-Policy (no script at all). */
#ifndef DADM_PAGES_H
#define DADM_PAGES_H

#include "arena.h"

/* `s` with & < > " ' replaced by character references, in the arena;
 * NULL when memory runs out. NULL `s` gives "". */
char *pages_escape(arena *a, const char *s);

#endif
