/* Error values shared by every module. 0 is success; eq_strerror() names every code.
 * Foreign codes (MDB_*, CURLcode, nng_err, libuv's negative errno) are translated once,
 * at the boundary that calls the library. */
#ifndef ECONQ_COMMON_EQ_ERR_H
#define ECONQ_COMMON_EQ_ERR_H

typedef enum eq_err {
    EQ_OK = 0,
    EQ_ENOMEM,       /* allocation failed */
    EQ_EINVAL,       /* invalid argument or malformed input */
    EQ_ENOTFOUND,    /* no such object */
    EQ_EEXIST,       /* object already exists */
    EQ_ECONFLICT,    /* state does not allow the operation (e.g. retry of a running job) */
    EQ_ETOOBIG,      /* an input exceeds a named limit */
    EQ_EIO,          /* I/O or operating-system failure */
    EQ_ESTORE,       /* the LMDB store failed */
    EQ_EFULL,        /* the store map is full */
    EQ_ETIMEDOUT,    /* a deadline passed */
    EQ_ECLOSED,      /* the peer or object was closed */
    EQ_EPROTO,       /* a malformed protocol message */
    EQ_ESTALE,       /* a fenced operation carried an old token (attempt) */
    EQ_EUNSUPPORTED, /* a valid request that this build or method does not handle */
    EQ_ENET,         /* a network failure talking to an outside service */
    EQ_EBUSY,        /* try again later */
    EQ_ERR_MAX
} eq_err;

/* Returns a static, human-readable name for `err`; never NULL. */
const char *eq_strerror(eq_err err);

#endif
