/* store.c - what every backend shares: opening picks the backend, and the rows' helpers. */
#include "store/store.h"
#include "store/postgres/postgres.h"
#include "store/sqlite/sqlite.h"

#include <stdio.h>
#include <string.h>

bool ly_store_is_postgres(const char *location)
{
	return strncmp(location, "postgresql://", 13) == 0 || strncmp(location, "postgres://", 11) == 0;
}

int ly_store_open(ly_error *error, const char *location, const store_settings *settings,
		  store **out)
{
	if (settings->postgres)
		return ly_pg_open(error, location, settings, out);
	return ly_sqlite_open(error, location, settings, out);
}

void ly_lot_vec_free(lot_vec *lots)
{
	ly_mem_free(lots->items);
	*lots = (lot_vec){0};
}

void ly_move_vec_free(move_vec *moves)
{
	ly_mem_free(moves->items);
	*moves = (move_vec){0};
}

void ly_txn_row_clear(txn_row *txn)
{
	ly_mem_free(txn->reason);
	ly_mem_free(txn->cause);
	*txn = (txn_row){0};
}

void ly_entry_vec_free(entry_vec *entries)
{
	ly_mem_free(entries->items);
	*entries = (entry_vec){0};
}

void ly_event_posting_vec_free(event_posting_vec *postings)
{
	ly_mem_free(postings->items);
	*postings = (event_posting_vec){0};
}

void ly_idem_row_clear(idem_row *idem)
{
	ly_mem_free((char *)idem->key);
	ly_mem_free((char *)idem->request);
	ly_mem_free((char *)idem->message);
	*idem = (idem_row){0};
}

int ly_store_posting_link(ly_error *error, const store_posting *p)
{
	for (size_t i = 0; i < p->entry_count; i++) {
		p->entries[i].txn = p->txn->id;
		p->entries[i].seq = (int64_t)i;
	}
	for (size_t i = 0; i < p->move_count; i++) {
		move_row *move = &p->moves[i];
		move->txn = p->txn->id;
		move->seq = (int64_t)i;
		if (move->lot < 0) {
			size_t index = (size_t)(-move->lot - 1);
			if (index >= p->new_lot_count)
				return ly_fail(error, LOYAL_EINTERNAL,
					       "a lot move names a new lot the posting lacks");
			move->lot = p->new_lots[index].id;
		}
	}
	return LOYAL_OK;
}

int ly_store_violation(ly_error *error, const char *where, const char *message,
		       const int64_t found[4])
{
	char detail[512];
	/* Each check's message is a literal taking exactly four long longs. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(detail, sizeof detail, message, (long long)found[0], (long long)found[1],
		 (long long)found[2], (long long)found[3]);
#pragma GCC diagnostic pop
	return ly_fail(error, LOYAL_ECORRUPT, "%s: %s", where, detail);
}
