/*
 * interrupt.h — stopping a wait on the server from a signal handler.
 *
 * tdb_interrupt is async-signal-safe: a host's SIGINT handler calls it.
 * The wait under way (or the next one) takes the request as if its
 * deadline had come: a statement is cancelled on the server, exactly as
 * when statement_timeout runs out (TDB_TIMEOUT, SQLSTATE 57014; the
 * connection stays usable), and a connect in progress fails as timed out.
 * One request stops one wait, in whichever connection of the process waits
 * first.  tdb_interrupt_clear drops a request no wait has taken (a host
 * calls it before running the next command).
 */
#ifndef TDB_INTERRUPT_H
#define TDB_INTERRUPT_H

void tdb_interrupt(void);
void tdb_interrupt_clear(void);

#endif
