/* version.h — the one place the release number lives (Makefile reads it). */
#ifndef TDB_VERSION_H
#define TDB_VERSION_H
#define TDB_VERSION "0.1.0"
#endif
