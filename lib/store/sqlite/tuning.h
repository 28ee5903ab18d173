/* tuning.h - how the SQLite backend sizes a connection's memory and its WAL. The
 * benchmark's plain-SQLite floor uses the same settings, so that the two compare the work done
 * and not the configuration. */
#ifndef LOYAL_STORE_TUNING_H
#define LOYAL_STORE_TUNING_H

/* A 16 MiB page cache, whatever the size of the file (memory stays flat as members grow).
 * By default the WAL is copied back into the file once it holds 16,384 pages (64 MiB at 4 KiB
 * pages; loyal_open_options.wal_limit_bytes sets it), not SQLite's default 1,000, so that pages
 * a stream of events writes again and again (a member's balance, today's counters) are copied
 * back once rather than after every batch; a checkpoint then cuts the WAL file back to that
 * size. Measured with the benchmark's ingestion at 100,000 members and 300,000 events: 41.8 s
 * with 1,000 pages, 33.3 s with 16,000. */
#define STORE_TUNING_CACHE "PRAGMA cache_size = -16384;"
#define STORE_TUNING                                                                          \
	STORE_TUNING_CACHE                                                                    \
	"PRAGMA wal_autocheckpoint = 16384;"                                                  \
	"PRAGMA journal_size_limit = 67108864;"

#endif
