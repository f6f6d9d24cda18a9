/* econqd: one binary that runs any part of econq. */
#ifndef ECONQ_CMD_ECONQD_H
#define ECONQ_CMD_ECONQD_H
#include "common/config.h"

#define CMD_SERVE 1u
#define CMD_SERVER 2u
#define CMD_WORKER 4u
#define CMD_ALL (CMD_SERVE | CMD_SERVER | CMD_WORKER)

extern const cfg_setting econqd_settings[];
extern const size_t econqd_nsettings;

#endif
