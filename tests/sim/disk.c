/* disk.c - a disk that loses power, for the simulator (disk.h). */
#include "disk.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECTOR 512

/* A write or truncation not yet synced; `doomed` ones came after the power was cut. */
typedef struct pending {
	int64_t offset, size; /* a truncation: size < 0, offset the new length */
	unsigned char *data;
	bool doomed;
} pending;

/* What the cache holds of one simulated file (by name), open or not. */
typedef struct cached {
	char *name;
	pending *ops;
	size_t count, capacity;
} cached;

typedef struct lie_file {
	sqlite3_file base;
	cached *cache; /* NULL: a file the disk does not lie about */
	sqlite3_file *real; /* the default VFS's file, right after this struct */
} lie_file;

static struct {
	sqlite3_vfs vfs, *real;
	char *prefix;
	cached **files; /* each allocated alone: open files point at theirs */
	size_t count, capacity;
	long countdown; /* writes left before the cut; < 0: not armed */
	bool cut;
	long fail_countdown; /* writes left before the one that fails; < 0: not armed */
	bool write_failed;
	long failed_syncs;
	long syncs; /* syncs of the simulated files before a cut */
} disk = {.countdown = -1, .fail_countdown = -1};

static void *must(void *p)
{
	if (!p)
		abort(); /* the simulator's own memory: nothing to recover */
	return p;
}

/* The disk's memory is the simulator's, never an injected fault's: in a program that wraps
 * the allocators to fail them (tests/faults.c: -Wl,--wrap=malloc,...), the linker makes these
 * weak references the unwrapped allocators; elsewhere they are NULL. */
extern void *__real_malloc(size_t size) __attribute__((weak));
extern void *__real_realloc(void *ptr, size_t size) __attribute__((weak));

static void *disk_malloc(size_t size)
{
	return must(__real_malloc ? __real_malloc(size) : malloc(size));
}

static void *disk_realloc(void *ptr, size_t size)
{
	return must(__real_realloc ? __real_realloc(ptr, size) : realloc(ptr, size));
}

static cached *cache_of(const char *name)
{
	for (size_t i = 0; i < disk.count; i++)
		if (strcmp(disk.files[i]->name, name) == 0)
			return disk.files[i];
	if (disk.count == disk.capacity) {
		disk.capacity = disk.capacity ? 2 * disk.capacity : 8;
		disk.files = disk_realloc(disk.files, disk.capacity * sizeof *disk.files);
	}
	cached *c = disk.files[disk.count++] = disk_malloc(sizeof *c);
	*c = (cached){.name = must(strdup(name))};
	return c;
}

static void drop_ops(cached *c)
{
	for (size_t i = 0; i < c->count; i++)
		free(c->ops[i].data);
	c->count = 0;
}

/* Counts a write, truncation or sync toward the cut. */
static void tick(void)
{
	if (disk.countdown == 0) {
		disk.cut = true;
		disk.countdown = -1;
	} else if (disk.countdown > 0) {
		disk.countdown--;
	}
}

/* Whether this write, truncation or sync is the one to fail. */
static bool fails_now(void)
{
	if (disk.fail_countdown < 0 || disk.fail_countdown-- > 0)
		return false;
	disk.write_failed = true;
	return true;
}

void disk_fail_io(long writes)
{
	disk.fail_countdown = writes;
	disk.write_failed = false;
}

bool disk_io_failed(void)
{
	return disk.write_failed;
}

bool disk_io_fault_armed(void)
{
	return disk.fail_countdown >= 0;
}

void disk_fail_clear(void)
{
	disk.fail_countdown = -1;
	disk.write_failed = false;
}

long disk_failed_syncs(void)
{
	return disk.failed_syncs;
}

static void add_op(cached *c, int64_t offset, int64_t size, const void *data)
{
	if (c->count == c->capacity) {
		c->capacity = c->capacity ? 2 * c->capacity : 16;
		c->ops = disk_realloc(c->ops, c->capacity * sizeof *c->ops);
	}
	pending *op = &c->ops[c->count++];
	*op = (pending){.offset = offset, .size = size, .doomed = disk.cut};
	if (size > 0) {
		op->data = disk_malloc((size_t)size);
		memcpy(op->data, data, (size_t)size);
	}
}

/* ---- the file's methods ---- */

static sqlite3_file *real_of(sqlite3_file *f)
{
	return ((lie_file *)f)->real;
}

static int real_size(sqlite3_file *f, int64_t *size)
{
	sqlite3_int64 n = 0;
	int rc = real_of(f)->pMethods->xFileSize(real_of(f), &n);
	*size = n;
	return rc;
}

static int lie_close(sqlite3_file *f)
{
	return real_of(f)->pMethods->xClose(real_of(f));
}

static int lie_read(sqlite3_file *f, void *buffer, int amount, sqlite3_int64 offset)
{
	cached *c = ((lie_file *)f)->cache;
	int rc = real_of(f)->pMethods->xRead(real_of(f), buffer, amount, offset);
	if (!c || (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ))
		return rc;
	int64_t size = 0;
	if ((rc = real_size(f, &size)) != SQLITE_OK)
		return rc;
	unsigned char *out = buffer;
	int64_t end = offset + amount;
	for (size_t i = 0; i < c->count; i++) {
		const pending *op = &c->ops[i];
		if (op->size < 0) { /* a truncation: what lay past it reads as zeros */
			if (op->offset < end)
				memset(out + (op->offset > offset ? op->offset - offset : 0), 0,
				       (size_t)(end - (op->offset > offset ? op->offset : offset)));
			size = op->offset;
			continue;
		}
		int64_t from = op->offset > offset ? op->offset : offset;
		int64_t to = op->offset + op->size < end ? op->offset + op->size : end;
		if (from < to)
			memcpy(out + (from - offset), op->data + (from - op->offset), (size_t)(to - from));
		if (op->offset + op->size > size)
			size = op->offset + op->size;
	}
	if (end <= size)
		return SQLITE_OK;
	int64_t valid = size > offset ? size - offset : 0;
	memset(out + valid, 0, (size_t)(amount - valid));
	return SQLITE_IOERR_SHORT_READ;
}

static int lie_write(sqlite3_file *f, const void *data, int amount, sqlite3_int64 offset)
{
	cached *c = ((lie_file *)f)->cache;
	if (!c)
		return real_of(f)->pMethods->xWrite(real_of(f), data, amount, offset);
	if (fails_now())
		return SQLITE_IOERR_WRITE;
	tick();
	add_op(c, offset, amount, data);
	return SQLITE_OK;
}

static int lie_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	cached *c = ((lie_file *)f)->cache;
	if (!c)
		return real_of(f)->pMethods->xTruncate(real_of(f), size);
	if (fails_now())
		return SQLITE_IOERR_TRUNCATE;
	tick();
	add_op(c, size, -1, NULL);
	return SQLITE_OK;
}

/* Makes what the cache holds of a file durable, through the default VFS's open file. */
static int flush(cached *c, sqlite3_file *real)
{
	int rc = SQLITE_OK;
	for (size_t i = 0; rc == SQLITE_OK && i < c->count; i++) {
		const pending *op = &c->ops[i];
		rc = op->size < 0 ? real->pMethods->xTruncate(real, op->offset)
				  : real->pMethods->xWrite(real, op->data, (int)op->size, op->offset);
	}
	drop_ops(c);
	return rc;
}

static bool coin(uint64_t *state)
{
	*state = *state * 6364136223846793005u + 1442695040888963407u;
	return (*state >> 33) & 1;
}

/* The power loss for one file (no handle open on it: its locks are not at stake): of what was
 * written before the cut, each sector and each truncation reaches the file or not (every one
 * when `whole`: the process died, the system lives on); what came after is dropped. Returns
 * the bytes written before the cut that were lost. */
static int64_t tear(cached *c, uint64_t *state, bool whole)
{
	int64_t lost = 0;
	int fd = open(c->name, O_RDWR);
	for (size_t i = 0; i < c->count; i++) {
		const pending *op = &c->ops[i];
		if (op->doomed) /* the dead process's: never written */
			continue;
		if (fd < 0) {
			lost += op->size > 0 ? op->size : 0;
			continue;
		}
		if (op->size < 0) {
			if ((whole || coin(state)) && ftruncate(fd, op->offset) != 0)
				abort();
			continue;
		}
		for (int64_t at = 0; at < op->size; at += SECTOR) {
			int64_t n = op->size - at < SECTOR ? op->size - at : SECTOR;
			if (!whole && !coin(state))
				lost += n;
			else if (pwrite(fd, op->data + at, (size_t)n, op->offset + at) != n)
				abort();
		}
	}
	if (fd >= 0)
		close(fd);
	drop_ops(c);
	return lost;
}

static int lie_sync(sqlite3_file *f, int flags)
{
	cached *c = ((lie_file *)f)->cache;
	if (!c)
		return real_of(f)->pMethods->xSync(real_of(f), flags);
	if (fails_now()) {
		disk.failed_syncs++;
		return SQLITE_IOERR_FSYNC;
	}
	tick();
	if (disk.cut)
		return SQLITE_OK;
	disk.syncs++;
	/* Durable once written through: a real fsync would add nothing the simulation checks. */
	return flush(c, real_of(f));
}

static int lie_file_size(sqlite3_file *f, sqlite3_int64 *out)
{
	cached *c = ((lie_file *)f)->cache;
	int64_t size = 0;
	int rc = real_size(f, &size);
	for (size_t i = 0; c && rc == SQLITE_OK && i < c->count; i++) {
		const pending *op = &c->ops[i];
		if (op->size < 0)
			size = op->offset;
		else if (op->offset + op->size > size)
			size = op->offset + op->size;
	}
	*out = size;
	return rc;
}

/* The rest pass through to the default VFS's file. */
static int lie_lock(sqlite3_file *f, int level)
{
	return real_of(f)->pMethods->xLock(real_of(f), level);
}
static int lie_unlock(sqlite3_file *f, int level)
{
	return real_of(f)->pMethods->xUnlock(real_of(f), level);
}
static int lie_reserved(sqlite3_file *f, int *out)
{
	return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
static int lie_control(sqlite3_file *f, int op, void *arg)
{
	return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
static int lie_sector_size(sqlite3_file *f)
{
	return real_of(f)->pMethods->xSectorSize(real_of(f));
}
static int lie_characteristics(sqlite3_file *f)
{
	return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}
static int lie_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
	return real_of(f)->pMethods->xShmMap(real_of(f), page, size, extend, out);
}
static int lie_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
static void lie_shm_barrier(sqlite3_file *f)
{
	real_of(f)->pMethods->xShmBarrier(real_of(f));
}
static int lie_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag);
}

/* Version 2: no memory-mapped reads, which would pass the cache by. */
static const sqlite3_io_methods lie_methods = {
	2,	       lie_close,	  lie_read,	    lie_write,	     lie_truncate,
	lie_sync,      lie_file_size,	  lie_lock,	    lie_unlock,	     lie_reserved,
	lie_control,   lie_sector_size,	  lie_characteristics, lie_shm_map, lie_shm_lock,
	lie_shm_barrier, lie_shm_unmap, NULL,		    NULL};

/* ---- the VFS ---- */

static bool simulated(const char *name)
{
	return name && disk.prefix && strncmp(name, disk.prefix, strlen(disk.prefix)) == 0;
}

static int lie_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	(void)vfs;
	lie_file *lf = (lie_file *)f;
	lf->real = (sqlite3_file *)(lf + 1);
	lf->cache = NULL;
	int rc = disk.real->xOpen(disk.real, name, lf->real, flags, out_flags);
	if (rc != SQLITE_OK) {
		f->pMethods = NULL; /* SQLite closes nothing then */
		return rc;
	}
	if (simulated(name) && !(flags & SQLITE_OPEN_DELETEONCLOSE))
		lf->cache = cache_of(name);
	f->pMethods = &lie_methods;
	return SQLITE_OK;
}

static int lie_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	if (simulated(name)) {
		if (disk.cut)
			return SQLITE_OK; /* the process is dead: it deletes nothing */
		drop_ops(cache_of(name));
	}
	return disk.real->xDelete(disk.real, name, sync_dir);
}

#define PASS(name, params, args) \
	static int lie_##name params { (void)vfs; return disk.real->x##name args; }
PASS(Access, (sqlite3_vfs * vfs, const char *n, int f, int *o), (disk.real, n, f, o))
PASS(FullPathname, (sqlite3_vfs * vfs, const char *n, int size, char *o), (disk.real, n, size, o))
PASS(Randomness, (sqlite3_vfs * vfs, int n, char *o), (disk.real, n, o))
PASS(Sleep, (sqlite3_vfs * vfs, int us), (disk.real, us))
PASS(CurrentTime, (sqlite3_vfs * vfs, double *o), (disk.real, o))
PASS(GetLastError, (sqlite3_vfs * vfs, int n, char *o), (disk.real, n, o))
PASS(CurrentTimeInt64, (sqlite3_vfs * vfs, sqlite3_int64 *o), (disk.real, o))

void disk_install(const char *path)
{
	sqlite3_vfs_unregister(&disk.vfs); /* if a run that failed left it installed */
	disk.real = sqlite3_vfs_find(NULL);
	if (!disk.real)
		abort();
	free(disk.prefix);
	disk.prefix = must(strdup(path));
	disk.vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(lie_file) + disk.real->szOsFile,
		.mxPathname = disk.real->mxPathname,
		.zName = "loyal-sim-disk",
		.xOpen = lie_open,
		.xDelete = lie_delete,
		.xAccess = lie_Access,
		.xFullPathname = lie_FullPathname,
		.xRandomness = lie_Randomness,
		.xSleep = lie_Sleep,
		.xCurrentTime = lie_CurrentTime,
		.xGetLastError = lie_GetLastError,
		.xCurrentTimeInt64 = lie_CurrentTimeInt64,
	};
	if (sqlite3_vfs_register(&disk.vfs, 1) != SQLITE_OK)
		abort();
}

void disk_arm(long writes)
{
	disk.countdown = writes;
}

void disk_cut_now(void)
{
	disk.cut = true;
	disk.countdown = -1;
}

bool disk_is_cut(void)
{
	return disk.cut;
}

long disk_syncs(void)
{
	return disk.syncs;
}

int64_t disk_power_loss(uint64_t seed)
{
	int64_t lost = 0;
	uint64_t keep = seed | 1;
	for (size_t i = 0; i < disk.count; i++)
		lost += tear(disk.files[i], &keep, false);
	disk.cut = false;
	disk.countdown = -1;
	return lost;
}

void disk_kill(void)
{
	for (size_t i = 0; i < disk.count; i++)
		tear(disk.files[i], NULL, true);
	disk.cut = false;
	disk.countdown = -1;
}

void disk_free(void)
{
	for (size_t i = 0; i < disk.count; i++) {
		drop_ops(disk.files[i]);
		free(disk.files[i]->ops);
		free(disk.files[i]->name);
		free(disk.files[i]);
	}
	free(disk.files);
	free(disk.prefix);
	sqlite3_vfs_unregister(&disk.vfs);
	disk.files = NULL;
	disk.count = disk.capacity = 0;
	disk.prefix = NULL;
}
