/* disk.h - a disk that loses power, for the simulator: a SQLite VFS over the default one that
 * keeps what is written to the simulated files (those whose names begin with a registered
 * path: the database, its WAL) in a cache until a sync makes it durable, as an operating
 * system does. A power cut, at a chosen write or sync, makes nothing durable from then on: the
 * process goes on seeing its own writes (a dying process notices nothing), but on power loss
 * every write not yet synced is lost or torn (each 512-byte sector of it reaches the file or
 * not) and what was written after the cut is gone; on a kill at the cut every write before it
 * is kept. Other files pass through unchanged. Not
 * thread-safe: the simulator and the power-loss test (tests/sqlite/test_power_loss.c) are one
 * thread. */
#ifndef LOYAL_SIM_DISK_H
#define LOYAL_SIM_DISK_H

#include <stdbool.h>
#include <stdint.h>

/* Installs the VFS as SQLite's default, lying for files whose names begin with `path`. */
void disk_install(const char *path);

/* Cuts the power after `writes` more writes, truncations or syncs of the simulated files (0:
 * at the next one); disk_cut_now cuts it at once. */
void disk_arm(long writes);
void disk_cut_now(void);
/* Whether the power has been cut (and not yet restored). */
bool disk_is_cut(void);
/* How many syncs of the simulated files have made their writes durable (none after a cut). */
long disk_syncs(void);

/* Fails the write, truncation or sync of the simulated files that comes after `writes` more
 * (0: the next), once: it returns an I/O error and changes nothing (a sync that fails leaves
 * what it was to make durable in the cache, where a later sync may). disk_io_failed says
 * whether it did since; disk_fail_clear disarms it and forgets that it did; disk_failed_syncs
 * counts the syncs failed so far. */
void disk_fail_io(long writes);
bool disk_io_failed(void);
bool disk_io_fault_armed(void);
void disk_fail_clear(void);
long disk_failed_syncs(void);

/* The power loss itself, once every handle on the files is closed: writes not synced before
 * the cut are torn (decided by `seed`), those after it dropped, and the disk works again.
 * Returns how many bytes written before the cut, not synced, were lost. */
int64_t disk_power_loss(uint64_t seed);

/* A kill at the cut instead, once every handle on the files is closed: the process died but
 * the system did not, so every write made before the cut reaches the file whole, synced or
 * not, and those after it are dropped; the disk works again. */
void disk_kill(void);

/* Frees what the VFS keeps (at exit). */
void disk_free(void);

#endif /* LOYAL_SIM_DISK_H */
