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
 * under way to take the request at once.
 *
 * A cancel can come too late: the statement finishes anyway and no error
 * says it was interrupted.  So a host also stops its own code, unless
 * tdb_interrupt_delivered says (once) that an error has reported the
 * request: that error is then on its way to the caller.
 * tdb_interrupt_taken is for the code that words an error: did a wait end
 * on a request?  (Once; the request then counts as delivered.)
 * tdb_interrupt_clear forgets every request (a host calls it before
 * running the next command).
 */
#ifndef TDB_INTERRUPT_H
#define TDB_INTERRUPT_H

int tdb_interrupt(void);
void tdb_interrupt_clear(void);
int tdb_interrupt_taken(void);
int tdb_interrupt_delivered(void);

#endif
