/* test_ledger_random.c - random operations against a small model of the ledger written here;
 * balances must agree after every operation and loyal_verify must pass after every batch; the
 * balances read at instants along the way must be what loyal_member_as_of rebuilds at the end.
 * LOYAL_SEED=n replays a run; LOYAL_RANDOM_OPS=n changes its length. */
#include "support.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MEMBERS 12
#define CURRENCIES 2

static const char *const currency_names[CURRENCIES] = {"points", "coins"};
static const int64_t expiry_days[CURRENCIES] = {30, 10};
static const bool negative_policy[CURRENCIES] = {true, false};

typedef struct mlot {
	int64_t engine_txn; /* the credit that made it */
	int64_t expires_at, pending_until, remaining, seq;
} mlot;

typedef struct piece {
	int lot;
	int64_t amount;
} piece;

/* A credit, debit or hold, as the model remembers it for reversals and settlements. */
typedef struct record {
	int kind; /* 'c' credit, 'd' debit, 'h' hold */
	int64_t txn, amount, reversed, deadline;
	int lot;                      /* credit: its lot */
	int piece_first, piece_count; /* debit, hold: the lots it consumed, in maccount.pieces */
	bool settled;                 /* hold: captured or released */
} record;

/* The model of one account. Its history only grows (the run can be as long as asked), so what
 * each step visits is kept small: the lots from the first with points left (lots are made in
 * expiry order; a refund into an older one moves that bound back), and the open holds. */
typedef struct maccount {
	mlot *lots;
	int lot_count, lot_capacity, first_live;
	record *records;
	int record_count, record_capacity;
	piece *pieces;
	int piece_count, piece_capacity;
	int *open_holds; /* indexes into records */
	int open_hold_count, open_hold_capacity;
	int64_t available, pending, held, expired;
} maccount;

/* Makes room for one more item in a growable array. */
static void *grow(void *items, int *capacity, int count, size_t size)
{
	if (count < *capacity)
		return items;
	*capacity = *capacity ? *capacity * 2 : 16;
	items = realloc(items, (size_t)*capacity * size);
	assert_non_null(items);
	return items;
}

/* The first lot that may hold points; those before it are empty. */
static int live_lots(maccount *a)
{
	while (a->first_live < a->lot_count && a->lots[a->first_live].remaining == 0)
		a->first_live++;
	return a->first_live;
}

static maccount *model; /* [MEMBERS][CURRENCIES] */
static bool member_exists[MEMBERS];
static bool trace; /* LOYAL_TRACE=1 prints each operation */
static uint64_t rng_state;
static int64_t sequence;

static uint64_t next_random(void)
{
	/* xorshift64*: enough for choosing operations, and replayable from the seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static int64_t random_below(int64_t bound)
{
	return bound > 0 ? (int64_t)(next_random() % (uint64_t)bound) : 0;
}

static maccount *account_of(int member, int currency)
{
	return &model[member * CURRENCIES + currency];
}

static bool lot_before(const mlot *a, const mlot *b)
{
	return a->expires_at < b->expires_at || (a->expires_at == b->expires_at && a->seq < b->seq);
}

/* The indexes of a's lots with points in consumption order, in a buffer that lasts until the
 * next call. */
static int ordered_lots(maccount *a, int **out)
{
	static int *order;
	static int capacity;
	if (capacity < a->lot_count) {
		capacity = a->lot_count * 2;
		order = realloc(order, (size_t)capacity * sizeof *order);
		assert_non_null(order);
	}
	*out = order;
	int count = 0;
	for (int i = live_lots(a); i < a->lot_count; i++) {
		if (a->lots[i].remaining == 0)
			continue;
		int at = count++;
		while (at > 0 && lot_before(&a->lots[i], &a->lots[order[at - 1]])) {
			order[at] = order[at - 1];
			at--;
		}
		order[at] = i;
	}
	return count;
}

/* Takes up to amount from active lots in order, skipping `skip`; records pieces if asked. */
static int64_t consume(maccount *a, int64_t amount, int skip, record *into)
{
	int *order = NULL;
	int count = ordered_lots(a, &order);
	int64_t taken = 0;
	for (int k = 0; k < count && taken < amount; k++) {
		mlot *lot = &a->lots[order[k]];
		if (lot->pending_until || lot->remaining <= 0 || order[k] == skip)
			continue;
		int64_t part = amount - taken < lot->remaining ? amount - taken : lot->remaining;
		lot->remaining -= part;
		taken += part;
		if (into) {
			/* A record's pieces are appended in one run: consume is its only writer. */
			a->pieces = grow(a->pieces, &a->piece_capacity, a->piece_count, sizeof *a->pieces);
			if (into->piece_count == 0)
				into->piece_first = a->piece_count;
			a->pieces[a->piece_count++] = (piece){order[k], part};
			into->piece_count++;
		}
	}
	return taken;
}

static int64_t active_total(maccount *a)
{
	int64_t total = 0;
	for (int i = live_lots(a); i < a->lot_count; i++)
		if (!a->lots[i].pending_until)
			total += a->lots[i].remaining;
	return total;
}

static void repay_debt(maccount *a)
{
	int64_t should_hold = a->available > 0 ? a->available : 0;
	int64_t excess = active_total(a) - should_hold;
	if (excess > 0)
		consume(a, excess, -1, NULL);
}

/* Gives back `amount` of what r consumed, from its last piece backwards after skipping. */
static void restore(maccount *a, const record *r, int64_t skip, int64_t amount)
{
	for (int i = r->piece_count; i-- > 0 && amount > 0;) {
		const piece *given = &a->pieces[r->piece_first + i];
		int64_t size = given->amount;
		int64_t skipped = skip < size ? skip : size;
		skip -= skipped;
		size -= skipped;
		int64_t part = size < amount ? size : amount;
		if (part <= 0)
			continue;
		a->lots[given->lot].remaining += part;
		if (given->lot < a->first_live)
			a->first_live = given->lot;
		amount -= part;
	}
	assert_int_equal(amount, 0);
}

/* What falls due, replayed in time order, each at its own instant. */
static void settle_at(maccount *a, int64_t at)
{
	bool released = false;
	for (int i = 0; i < a->open_hold_count; i++) {
		record *r = &a->records[a->open_holds[i]];
		if (r->deadline <= at) {
			r->settled = released = true;
			restore(a, r, 0, r->amount);
			a->held -= r->amount;
			a->available += r->amount;
			a->open_holds[i--] = a->open_holds[--a->open_hold_count];
		}
	}
	if (released)
		repay_debt(a);
	int64_t activated = 0;
	for (int i = live_lots(a); i < a->lot_count; i++) {
		mlot *lot = &a->lots[i];
		if (lot->pending_until && lot->pending_until <= at && lot->remaining > 0) {
			lot->pending_until = 0;
			activated += lot->remaining;
		}
	}
	if (activated) {
		a->pending -= activated;
		a->available += activated;
		repay_debt(a);
	}
	for (int i = live_lots(a); i < a->lot_count; i++) {
		mlot *lot = &a->lots[i];
		if (!lot->pending_until && lot->remaining > 0 && lot->expires_at <= at) {
			a->available -= lot->remaining;
			a->expired += lot->remaining;
			lot->remaining = 0;
		}
	}
}

static void settle(maccount *a, int64_t at)
{
	for (;;) {
		int64_t when = INT64_MAX;
		for (int i = 0; i < a->open_hold_count; i++)
			if (a->records[a->open_holds[i]].deadline < when)
				when = a->records[a->open_holds[i]].deadline;
		for (int i = live_lots(a); i < a->lot_count; i++) {
			const mlot *lot = &a->lots[i];
			int64_t due = lot->pending_until ? lot->pending_until : lot->expires_at;
			if (lot->remaining > 0 && due < when)
				when = due;
		}
		if (when > at)
			return;
		settle_at(a, when);
	}
}

static record *new_record(maccount *a, int kind, int64_t txn, int64_t amount)
{
	a->records = grow(a->records, &a->record_capacity, a->record_count, sizeof *a->records);
	record *r = &a->records[a->record_count++];
	*r = (record){.kind = kind, .txn = txn, .amount = amount};
	return r;
}

/* ---- the run ---- */

typedef struct run {
	test_env *env;
	int64_t op;
	char key[64];
} run;

static const char *member_name(int member)
{
	static char names[MEMBERS][16];
	snprintf(names[member], sizeof names[member], "member-%d", member);
	return names[member];
}

static void check_account(run *r, int member, int currency)
{
	maccount *a = account_of(member, currency);
	loyal_balance balance = LOYAL_BALANCE_INIT;
	int rc = loyal_ledger_balance(r->env->db, member_name(member), currency_names[currency], 0,
				      &balance);
	if (rc == LOYAL_ENOTFOUND && a->lot_count == 0)
		return;
	if (rc != LOYAL_OK || balance.available != a->available || balance.pending != a->pending ||
	    balance.held != a->held || balance.expired != a->expired) {
		print_error("op %lld, %s/%s: engine %s available %lld pending %lld held %lld expired "
			    "%lld; model %lld %lld %lld %lld\n",
			    (long long)r->op, member_name(member), currency_names[currency],
			    loyal_errstr(rc), (long long)balance.available, (long long)balance.pending,
			    (long long)balance.held, (long long)balance.expired,
			    (long long)a->available, (long long)a->pending, (long long)a->held,
			    (long long)a->expired);
		int *order = NULL;
		int count = ordered_lots(a, &order);
		for (int k = 0; k < count; k++)
			if (a->lots[order[k]].remaining)
				print_error("  model lot of txn %lld: expires %lld remaining %lld\n",
					    (long long)a->lots[order[k]].engine_txn,
					    (long long)a->lots[order[k]].expires_at,
					    (long long)a->lots[order[k]].remaining);
		char *json = NULL;
		if (loyal_ledger_explain(r->env->db, member_name(member), currency_names[currency],
					 &json) == LOYAL_OK)
			fprintf(stderr, "  engine: %s\n", json);
		loyal_free(json);
		fail();
	}
}

/* With LOYAL_TRACE: every lot's remaining points agree too, not only the sums. */
static void check_lots(run *r, int member, int currency)
{
	maccount *a = account_of(member, currency);
	char *text = NULL;
	assert_ok(r->env->db, loyal_expire(r->env->db, 0, NULL)); /* stored state = the view */
	for (int m = 0; m < MEMBERS; m++)
		for (int c = 0; c < CURRENCIES; c++)
			settle(account_of(m, c), r->env->now);
	if (loyal_ledger_explain(r->env->db, member_name(member), currency_names[currency],
				 &text) != LOYAL_OK)
		return;
	json_t *explained = json_loads(text, 0, NULL);
	char *shown = text;
	size_t index;
	json_t *lot;
	json_array_foreach (json_object_get(explained, "lots"), index, lot) {
		int64_t txn = json_integer_value(json_object_get(lot, "txn"));
		int64_t remaining = json_integer_value(json_object_get(lot, "remaining"));
		for (int i = 0; i < a->lot_count; i++)
			if (a->lots[i].engine_txn == txn && a->lots[i].remaining != remaining &&
			    !(a->lots[i].expires_at <= r->env->now)) {
				print_error("op %lld: lot of txn %lld: engine %lld, model %lld\n",
					    (long long)r->op, (long long)txn, (long long)remaining,
					    (long long)a->lots[i].remaining);
				fprintf(stderr, "engine: %s\n", shown);
				for (int k = 0; k < a->lot_count; k++)
					if (a->lots[k].engine_txn > txn - 600)
						fprintf(stderr, "model lot %lld: %lld\n",
							(long long)a->lots[k].engine_txn,
							(long long)a->lots[k].remaining);
				fail();
			}
	}
	json_decref(explained);
	loyal_free(shown);
}

static loyal_posting posting_for(run *r, int member, int currency, int64_t amount)
{
	snprintf(r->key, sizeof r->key, "op-%lld", (long long)r->op);
	return test_posting(member_name(member), currency_names[currency], amount, r->key);
}

static void do_earn(run *r, int member, int currency, maccount *a)
{
	int64_t now = r->env->now;
	loyal_posting p = posting_for(r, member, currency, 1 + random_below(200));
	bool pending = random_below(4) == 0;
	if (pending)
		p.pending_ms = (1 + random_below(5)) * DAY_MS;
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(r->env->db, loyal_ledger_credit(r->env->db, &p, &result));
	member_exists[member] = true;
	a->lots = grow(a->lots, &a->lot_capacity, a->lot_count, sizeof *a->lots);
	mlot *lot = &a->lots[a->lot_count];
	*lot = (mlot){.engine_txn = result.txn, .expires_at = now + expiry_days[currency] * DAY_MS,
		      .pending_until = pending ? now + p.pending_ms : 0, .remaining = p.amount,
		      .seq = sequence++};
	record *rec = new_record(a, 'c', result.txn, p.amount);
	rec->lot = a->lot_count++;
	if (pending) {
		a->pending += p.amount;
	} else {
		a->available += p.amount;
		repay_debt(a);
	}
}

static void do_spend(run *r, int member, int currency, maccount *a, bool hold)
{
	int64_t amount = 1 + random_below(150);
	loyal_posting p = posting_for(r, member, currency, amount);
	if (hold)
		p.deadline = r->env->now + (1 + random_below(4 * 24)) * 3600000;
	loyal_result result = LOYAL_RESULT_INIT;
	int rc = hold ? loyal_ledger_hold(r->env->db, &p, &result)
		      : loyal_ledger_debit(r->env->db, &p, &result);
	if (!member_exists[member]) {
		assert_rc(r->env->db, LOYAL_ENOTFOUND, rc);
		return;
	}
	if (a->available < amount) {
		assert_rc(r->env->db, LOYAL_EINSUFFICIENT, rc);
		return;
	}
	assert_rc(r->env->db, LOYAL_OK, rc);
	record *rec = new_record(a, hold ? 'h' : 'd', result.txn, amount);
	rec->deadline = p.deadline;
	assert_int_equal(consume(a, amount, -1, rec), amount);
	a->available -= amount;
	if (hold) {
		a->held += amount;
		a->open_holds = grow(a->open_holds, &a->open_hold_capacity, a->open_hold_count,
				     sizeof *a->open_holds);
		a->open_holds[a->open_hold_count++] = (int)(rec - a->records);
	}
}

static record *pick_record(maccount *a, int kind)
{
	for (int tries = 0; tries < 8 && a->record_count; tries++) {
		record *rec = &a->records[random_below(a->record_count)];
		if (rec->kind == kind)
			return rec;
	}
	return NULL;
}

static void do_settle_hold(run *r, int member, int currency, maccount *a)
{
	record *hold = pick_record(a, 'h');
	if (!hold)
		return;
	bool capture = random_below(2);
	int64_t amount = capture ? random_below(hold->amount + 1) : 0;
	loyal_posting p = posting_for(r, member, currency, amount);
	p.txn = hold->txn;
	loyal_result result = LOYAL_RESULT_INIT;
	int rc = capture ? loyal_ledger_capture(r->env->db, &p, &result)
			 : loyal_ledger_release(r->env->db, &p, &result);
	if (trace)
		printf("  %s hold %lld amount %lld: %s txn %lld\n", capture ? "capture" : "release",
		       (long long)hold->txn, (long long)amount, loyal_errstr(rc),
		       (long long)result.txn);
	if (hold->settled) {
		assert_rc(r->env->db, LOYAL_ESTATE, rc);
		return;
	}
	assert_rc(r->env->db, LOYAL_OK, rc);
	int64_t captured = capture ? (amount ? amount : hold->amount) : 0;
	hold->settled = true;
	for (int i = 0; i < a->open_hold_count; i++)
		if (a->open_holds[i] == (int)(hold - a->records))
			a->open_holds[i] = a->open_holds[--a->open_hold_count];
	restore(a, hold, 0, hold->amount - captured);
	a->held -= hold->amount;
	a->available += hold->amount - captured;
	repay_debt(a);
}

static void do_reverse(run *r, int member, int currency, maccount *a)
{
	record *rec = pick_record(a, random_below(2) ? 'c' : 'd');
	if (!rec)
		return;
	int64_t left = rec->amount - rec->reversed;
	int64_t amount = random_below(2) ? 0 : 1 + random_below(rec->amount);
	loyal_posting p = posting_for(r, member, currency, amount);
	p.txn = rec->txn;
	loyal_result result = LOYAL_RESULT_INIT;
	int rc = loyal_ledger_reverse(r->env->db, &p, &result);
	if (trace)
		printf("  reverse %c txn %lld amount %lld: %s txn %lld moved %lld\n", rec->kind,
		       (long long)rec->txn, (long long)amount, loyal_errstr(rc),
		       (long long)result.txn, (long long)result.amount);
	int64_t requested = amount ? amount : left;
	if (left == 0 || requested > left) {
		assert_rc(r->env->db, LOYAL_ESTATE, rc);
		return;
	}
	assert_rc(r->env->db, LOYAL_OK, rc);
	int64_t moved;
	if (rec->kind == 'd') {
		restore(a, rec, rec->reversed, requested);
		a->available += requested;
		repay_debt(a);
		moved = requested;
	} else {
		mlot *lot = &a->lots[rec->lot];
		int64_t take = requested < lot->remaining ? requested : lot->remaining;
		lot->remaining -= take;
		if (lot->pending_until) {
			a->pending -= take;
			moved = take;
		} else {
			int64_t others = consume(a, requested - take, rec->lot, NULL);
			int64_t debt = negative_policy[currency] ? requested - take - others : 0;
			moved = take + others + debt;
			a->available -= moved;
		}
	}
	rec->reversed += requested;
	assert_int_equal(result.amount, moved);
}

static void one_operation(run *r)
{
	int member = (int)random_below(MEMBERS), currency = (int)random_below(CURRENCIES);
	maccount *a = account_of(member, currency);
	settle(a, r->env->now);
	int64_t choice = random_below(100);
	if (trace)
		printf("op %lld: member %d currency %d choice %lld now %lld\n", (long long)r->op,
		       member, currency, (long long)choice, (long long)r->env->now);
	if (choice < 35)
		do_earn(r, member, currency, a);
	else if (choice < 60)
		do_spend(r, member, currency, a, false);
	else if (choice < 70)
		do_spend(r, member, currency, a, true);
	else if (choice < 80)
		do_settle_hold(r, member, currency, a);
	else if (choice < 92)
		do_reverse(r, member, currency, a);
	else if (choice < 97)
		r->env->now += random_below(3 * DAY_MS);
	else {
		assert_ok(r->env->db, loyal_expire(r->env->db, 0, NULL));
		for (int m = 0; m < MEMBERS; m++)
			for (int c = 0; c < CURRENCIES; c++)
				settle(account_of(m, c), r->env->now);
	}
	settle(a, r->env->now);
	check_account(r, member, currency);
	if (trace)
		check_lots(r, member, currency);
}

/* What every member's balances were at one instant, as the model-checked reads gave them, for
 * loyal_member_as_of to rebuild later. */
#define SNAPSHOTS 10
typedef struct snapshot {
	int64_t at;
	bool exists[MEMBERS];
	loyal_balance balances[MEMBERS][CURRENCIES];
} snapshot;

static void take_snapshot(run *r, snapshot *shot)
{
	shot->at = r->env->now;
	for (int m = 0; m < MEMBERS; m++) {
		shot->exists[m] = member_exists[m];
		for (int c = 0; c < CURRENCIES && member_exists[m]; c++) {
			shot->balances[m][c] = (loyal_balance)LOYAL_BALANCE_INIT;
			assert_ok(r->env->db, loyal_ledger_balance(r->env->db, member_name(m),
								   currency_names[c], 0,
								   &shot->balances[m][c]));
		}
	}
	r->env->now++; /* what comes next is after the snapshot's instant */
}

/* The member as of a snapshot's instant, rebuilt from history, has the balances read then;
 * their lots add up to them. */
static void check_snapshot(run *r, const snapshot *shot)
{
	for (int m = 0; m < MEMBERS; m++) {
		char *text = NULL;
		int rc = loyal_member_as_of(r->env->db, member_name(m), shot->at, &text);
		if (!shot->exists[m]) {
			assert_rc(r->env->db, LOYAL_ENOTFOUND, rc);
			continue;
		}
		assert_rc(r->env->db, LOYAL_OK, rc);
		json_t *past = test_json(text);
		for (int c = 0; c < CURRENCIES; c++) {
			json_t *found = NULL, *item;
			size_t i;
			json_array_foreach (json_object_get(past, "balances"), i, item)
				if (strcmp(test_json_text(item, "currency"), currency_names[c]) == 0)
					found = item;
			const loyal_balance *want = &shot->balances[m][c];
			int64_t active = 0, pending = 0;
			json_array_foreach (json_object_get(found, "lots"), i, item)
				*(json_is_null(json_object_get(item, "pending_until")) ? &active
										       : &pending) +=
					test_json_int(item, "remaining");
			if (test_json_int(found, "available") != want->available ||
			    test_json_int(found, "pending") != want->pending ||
			    test_json_int(found, "held") != want->held ||
			    test_json_int(found, "earned") != want->earned ||
			    test_json_int(found, "spent") != want->spent ||
			    test_json_int(found, "expired") != want->expired ||
			    active != (want->available > 0 ? want->available : 0) ||
			    pending != want->pending) {
				char *dump = json_dumps(found, 0);
				print_error("%s/%s as of %lld: %s; read then: available %lld pending "
					    "%lld held %lld earned %lld spent %lld expired %lld\n",
					    member_name(m), currency_names[c], (long long)shot->at,
					    dump ? dump : "(none)", (long long)want->available,
					    (long long)want->pending, (long long)want->held,
					    (long long)want->earned, (long long)want->spent,
					    (long long)want->expired);
				free(dump);
				fail();
			}
		}
		json_decref(past);
	}
}

static void test_ledger_random__balances_follow_the_model(void **state)
{
	test_env *env = *state;
	const char *seed_text = getenv("LOYAL_SEED");
	const char *ops_text = getenv("LOYAL_RANDOM_OPS");
	uint64_t seed = seed_text ? strtoull(seed_text, NULL, 10) : (uint64_t)time(NULL);
	int64_t operations = ops_text ? strtoll(ops_text, NULL, 10) : 100000;
	printf("test_ledger_random: seed %llu (replay with LOYAL_SEED=%llu), %lld operations\n",
	       (unsigned long long)seed, (unsigned long long)seed, (long long)operations);
	fflush(stdout);
	rng_state = seed ? seed : 1;
	trace = getenv("LOYAL_TRACE") != NULL;
	model = calloc(MEMBERS * CURRENCIES, sizeof *model);
	assert_non_null(model);
	test_apply(env, "{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 30}},"
			"{\"name\": \"coins\", \"expiry\": {\"after_days\": 10},"
			" \"clawback\": \"zero\"}]}");
	run r = {.env = env};
	const int64_t batch = 500;
	snapshot *shots = calloc(SNAPSHOTS + 1, sizeof *shots);
	assert_non_null(shots);
	int shot_count = 0;
	int64_t every = operations / SNAPSHOTS > batch ? operations / SNAPSHOTS : batch;
	for (r.op = 0; r.op < operations; r.op++) {
		if (r.op % batch == 0)
			assert_ok(env->db, loyal_batch_begin(env->db));
		one_operation(&r);
		if (r.op % batch == batch - 1 || r.op == operations - 1) {
			assert_ok(env->db, loyal_batch_commit(env->db));
			if (r.op % (20 * batch) == 20 * batch - 1 || r.op == operations - 1)
				assert_ok(env->db, loyal_verify(env->db));
			if (r.op % every == every - 1 && shot_count < SNAPSHOTS)
				take_snapshot(&r, &shots[shot_count++]);
		}
	}
	for (int m = 0; m < MEMBERS; m++)
		for (int c = 0; c < CURRENCIES; c++) {
			settle(account_of(m, c), env->now);
			check_account(&r, m, c);
		}
	take_snapshot(&r, &shots[shot_count++]); /* now, which the past must also rebuild */
	for (int i = 0; i < shot_count; i++)
		check_snapshot(&r, &shots[i]);
	free(shots);
	for (int i = 0; i < MEMBERS * CURRENCIES; i++) {
		free(model[i].lots);
		free(model[i].records);
		free(model[i].pieces);
		free(model[i].open_holds);
	}
	free(model);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ledger_random__balances_follow_the_model,
						test_setup, test_teardown),
	};
	return cmocka_run_group_tests_name("ledger_random", tests, NULL, NULL);
}
