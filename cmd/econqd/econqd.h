/* econqd: one binary that runs any part of econq. */
#ifndef ECONQ_CMD_ECONQD_H
#define ECONQ_CMD_ECONQD_H
#include "common/config.h"

#define CMD_SERVE 1u
#define CMD_SERVER 2u
#define CMD_WORKER 4u
#define CMD_ALL (CMD_SERVE | CMD_SERVER | CMD_WORKER)
#define CMD_BACKUP 8u
#define CMD_RESTORE 16u

/* econqd backup and econqd restore (cmd/econqd/backup.c); return the exit status. */
int econqd_backup(const eq_config *cfg);
int econqd_restore(const eq_config *cfg);

extern const cfg_setting econqd_settings[];
extern const size_t econqd_nsettings;

#endif
