/*
 * interrupt.h — stopping a wait on the server from a signal handler.
 *
 * tdb_interrupt is async-signal-safe: a host's SIGINT handler calls it.
 * The wait under way (or the next one) takes the request as if its
 * deadline had come: a statement is cancelled on the server, as when
 * statement_timeout runs out (TDB_TIMEOUT, SQLSTATE 57014, a message that
 * says it was interrupted; the connection stays usable), and a connect in
 * progress fails as timed out.  One request stops one wait, in whichever
 * connection of the process waits first.  It returns 1 when a wait is
 * under way and will take the request at once, so the host need not stop
 * its own code another way.  tdb_interrupt_clear drops a request no wait
 * has taken (a host calls it before running the next command).
 * tdb_interrupt_taken says (once) whether a wait ended on a request.
 */
#ifndef TDB_INTERRUPT_H
#define TDB_INTERRUPT_H

int tdb_interrupt(void);
void tdb_interrupt_clear(void);
int tdb_interrupt_taken(void);

#endif
