/*
 * taskdb-sql — prints the core's statement catalogue, one statement per
 * record: "label<TAB>nparams<TAB>text" (the benchmark's pgbench baseline
 * reads it, so both sides run the very same SQL).
 */
#include <stdio.h>

#include "sql.h"

int main(void)
{
    for (int i = 0; i < TDB_SQL_STMT_COUNT; i++) {
        const tdb_sql *s = tdb_sql_get((tdb_sql_id)i);
        printf("%s\t%d\t%s\n", s->label, s->nparams, s->text);
    }
    return 0;
}
