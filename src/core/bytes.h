/*
 * bytes.h — big-endian integers as PostgreSQL's binary format carries
 * them: read from results, written into COPY data.  Header-only.
 */
#ifndef TDB_BYTES_H
#define TDB_BYTES_H

#include <stdint.h>

static inline uint64_t tdb_get_be64(const char *p)
{
    const unsigned char *v = (const unsigned char *)p;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | v[i];
    return u;
}

static inline char *tdb_put_be16(char *p, unsigned v)
{
    p[0] = (char)(v >> 8);
    p[1] = (char)v;
    return p + 2;
}

static inline char *tdb_put_be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
    return p + 4;
}

static inline char *tdb_put_be64(char *p, uint64_t v)
{
    return tdb_put_be32(tdb_put_be32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

#endif
