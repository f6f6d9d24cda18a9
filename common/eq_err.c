#include "common/eq_err.h"
#include <stddef.h>

static const char *const eq_err_names[EQ_ERR_MAX] = {
    [EQ_OK] = "ok",
    [EQ_ENOMEM] = "out of memory",
    [EQ_EINVAL] = "invalid argument",
    [EQ_ENOTFOUND] = "not found",
    [EQ_EEXIST] = "already exists",
    [EQ_ECONFLICT] = "conflicting state",
    [EQ_ETOOBIG] = "too big",
    [EQ_EIO] = "input/output error",
    [EQ_ESTORE] = "store error",
    [EQ_EFULL] = "store full",
    [EQ_ETIMEDOUT] = "timed out",
    [EQ_ECLOSED] = "closed",
    [EQ_EPROTO] = "protocol error",
    [EQ_ESTALE] = "stale token",
    [EQ_EUNSUPPORTED] = "unsupported",
    [EQ_ENET] = "network error",
    [EQ_EBUSY] = "busy",
};

const char *eq_strerror(eq_err err) {
    if ((unsigned)err >= EQ_ERR_MAX || eq_err_names[err] == NULL)
        return "unknown error";
    return eq_err_names[err];
}
