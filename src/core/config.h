/*
 * config.h — where the database URL comes from.
 *
 * DATABASE_URL from the environment; else from a dotenv file (`.env` in the
 * current directory); else a TDB_CONFIG error that says what to do.  The
 * environment always wins over the file.  Returned strings are malloc'd and
 * owned by the caller (free()).
 */
#ifndef TDB_CONFIG_H
#define TDB_CONFIG_H

#include "error.h"

#define TDB_DOTENV_DEFAULT ".env"

/* NULL with err->kind == TDB_CONFIG (or TDB_NOMEM) when there is none. */
char *tdb_config_database_url(const char *dotenv_path, tdb_error *err);

/*
 * The value of `key` in a dotenv file.  Returns 1 and sets *out when found,
 * 0 when the file or key is absent, -1 (TDB_CONFIG, or TDB_NOMEM) on a
 * malformed line, or a file that exists but cannot be read: unreadable, a
 * directory, or not a regular file (a FIFO is refused, never waited on).
 * Rules: `KEY=value`, optional `export `, `#` comments, blank lines, lines
 * of any length; values in '…' are literal, values in "…" honour \n \" \\
 * escapes, unquoted values end at ` #` and are trimmed.
 */
int tdb_dotenv_get(const char *path, const char *key, char **out, tdb_error *err);

#endif
