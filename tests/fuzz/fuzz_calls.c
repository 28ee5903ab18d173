/* fuzz_calls.c - libFuzzer target, stateful: any bytes as a sequence of ledger calls and
 * events on a few members (credits, debits, holds and their capture or release, transfers,
 * reversals, tracked purchases, retries of a call with its key, a key reused for another
 * request), each checked against a model of the members' balances: the call's result code,
 * whether it was a replay, and every balance it touched. Each input has members of its own
 * and makes at most CALLS calls; the database is made anew every thousand inputs and verified
 * every 250. */
#include "fuzz_support.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEMBERS 4
#define TXNS 64
#define CALLS 64 /* per input: longer inputs are cut, so that each runs quickly */

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\", \"clawback\": \"negative\"}],"
	" \"rules\": [{\"name\": \"buy\", \"event\": \"purchase\","
	"   \"award\": {\"points\": \"floor(event.amount)\"}}]}";

enum { K_CREDIT, K_DEBIT, K_HOLD };

typedef struct model_txn {
	int64_t txn, amount;
	int member, kind;
	bool settled; /* a hold captured or released; a credit or debit reversed */
} model_txn;

typedef struct model {
	char ids[MEMBERS][48];
	bool exists[MEMBERS];
	int64_t available[MEMBERS], held[MEMBERS];
	model_txn txns[TXNS];
	int txn_count;
	/* The last call with a key and its result, for a retry and for a conflict. */
	loyal_posting last;
	int last_rc, last_kind, last_member;
	bool has_last;
	char last_key[32], kept_key[32]; /* the key being used; the remembered call's */
	int keys;
} model;

static loyal_db *db;
static long inputs;

static void broken(const char *what, int rc, int expected)
{
	fprintf(stderr, "fuzz_calls: %s returned %s (%s), the model expected %s\n", what,
		loyal_errstr(rc), loyal_errmsg(db), loyal_errstr(expected));
	abort();
}

static void expect(const char *what, int rc, int expected)
{
	if (rc != expected)
		broken(what, rc, expected);
}

/* The member's balance as the model has it. */
static void check_balance(const model *m, int member)
{
	loyal_balance b = LOYAL_BALANCE_INIT;
	int rc = loyal_ledger_balance(db, m->ids[member], "points", 0, &b);
	expect("a balance read", rc, m->exists[member] ? LOYAL_OK : LOYAL_ENOTFOUND);
	if (rc == LOYAL_OK && (b.available != m->available[member] || b.held != m->held[member])) {
		fprintf(stderr, "fuzz_calls: %s has %lld available and %lld held; the model says "
				"%lld and %lld\n",
			m->ids[member], (long long)b.available, (long long)b.held,
			(long long)m->available[member], (long long)m->held[member]);
		abort();
	}
}

/* Reads the next byte of the input (0 once it is used up). */
static unsigned next(const uint8_t **data, size_t *size)
{
	if (!*size)
		return 0;
	(*size)--;
	return *(*data)++;
}

static loyal_posting posting_for(model *m, int member, int64_t amount)
{
	loyal_posting p = LOYAL_POSTING_INIT;
	p.member = m->ids[member];
	p.currency = "points";
	p.amount = amount;
	snprintf(m->last_key, sizeof m->last_key, "k%d", m->keys++);
	p.idempotency_key = m->last_key;
	return p;
}

static void remember(model *m, const loyal_posting *p, int rc, int kind, int member,
		     int64_t txn, int64_t amount)
{
	m->last = *p;
	memcpy(m->kept_key, m->last_key, sizeof m->kept_key);
	m->last.idempotency_key = m->kept_key;
	m->last_rc = rc;
	m->last_kind = kind;
	m->last_member = member;
	m->has_last = true;
	if (rc == LOYAL_OK && m->txn_count < TXNS)
		m->txns[m->txn_count++] = (model_txn){txn, amount, member, kind, false};
}

static int call(int kind, const loyal_posting *p, loyal_result *out)
{
	switch (kind) {
	case K_CREDIT: return loyal_ledger_credit(db, p, out);
	case K_DEBIT: return loyal_ledger_debit(db, p, out);
	default: return loyal_ledger_hold(db, p, out);
	}
}

/* A credit, a debit or a hold of `amount` by `member`, against the model. */
static void keyed(model *m, int kind, int member, int64_t amount)
{
	loyal_posting p = posting_for(m, member, amount);
	int64_t now = 0;
	if (kind == K_HOLD && loyal_now(db, &now) == LOYAL_OK)
		p.deadline = now + 86400000;
	int expected = LOYAL_OK;
	if (kind != K_CREDIT && !m->exists[member])
		expected = LOYAL_ENOTFOUND;
	else if (kind != K_CREDIT && m->available[member] < amount)
		expected = LOYAL_EINSUFFICIENT;
	loyal_result r = LOYAL_RESULT_INIT;
	int rc = call(kind, &p, &r);
	expect(kind == K_CREDIT ? "a credit" : kind == K_DEBIT ? "a debit" : "a hold", rc, expected);
	if (rc == LOYAL_OK) {
		m->exists[member] = true;
		m->available[member] += kind == K_CREDIT ? amount : -amount;
		m->held[member] += kind == K_HOLD ? amount : 0;
	}
	if (rc == LOYAL_OK || rc == LOYAL_EINSUFFICIENT) /* outcomes that are recorded */
		remember(m, &p, rc, kind, member, r.txn, amount);
	check_balance(m, member);
}

/* The last recorded call again, with its key: the first outcome, as a replay, nothing moved;
 * or with another amount under the same key: a conflict. */
static void again(model *m, bool same)
{
	if (!m->has_last)
		return;
	loyal_posting p = m->last;
	p.amount += same ? 0 : 1;
	loyal_result r = LOYAL_RESULT_INIT;
	int rc = call(m->last_kind, &p, &r);
	expect(same ? "a retry" : "a key reused", rc, same ? m->last_rc : LOYAL_ECONFLICT);
	if (same && rc == LOYAL_OK && !r.replayed)
		broken("a retry (not marked replayed)", rc, rc);
	if (same && rc == LOYAL_EINSUFFICIENT && !loyal_errreplayed(db))
		broken("a retried refusal (not marked replayed)", rc, rc);
	check_balance(m, m->last_member);
}

/* Captures (part of) or releases an open hold; settling it twice is refused. */
static void settle(model *m, unsigned pick, int64_t part, bool capture)
{
	model_txn *hold = NULL;
	for (int i = 0; i < m->txn_count && !hold; i++)
		if (m->txns[(pick + (unsigned)i) % (unsigned)m->txn_count].kind == K_HOLD)
			hold = &m->txns[(pick + (unsigned)i) % (unsigned)m->txn_count];
	if (!hold)
		return;
	loyal_posting p = posting_for(m, hold->member, capture ? part % (hold->amount + 2) : 0);
	p.txn = hold->txn;
	int expected = hold->settled ? LOYAL_ESTATE : LOYAL_OK;
	if (!hold->settled && capture && p.amount > hold->amount)
		expected = LOYAL_EINVAL;
	int rc = capture ? loyal_ledger_capture(db, &p, NULL) : loyal_ledger_release(db, &p, NULL);
	expect(capture ? "a capture" : "a release", rc, expected);
	if (rc == LOYAL_OK) {
		int64_t taken = capture ? (p.amount ? p.amount : hold->amount) : 0;
		m->held[hold->member] -= hold->amount;
		m->available[hold->member] += hold->amount - taken;
		hold->settled = true;
	}
	check_balance(m, hold->member);
}

/* Reverses all of a credit (clawed back, down to a debt) or of a debit (refunded). */
static void reverse(model *m, unsigned pick)
{
	model_txn *t = NULL;
	for (int i = 0; i < m->txn_count && !t; i++)
		if (m->txns[(pick + (unsigned)i) % (unsigned)m->txn_count].kind != K_HOLD)
			t = &m->txns[(pick + (unsigned)i) % (unsigned)m->txn_count];
	if (!t)
		return;
	loyal_posting p = posting_for(m, t->member, 0);
	p.txn = t->txn;
	int rc = loyal_ledger_reverse(db, &p, NULL);
	expect("a reversal", rc, t->settled ? LOYAL_ESTATE : LOYAL_OK);
	if (rc == LOYAL_OK) {
		m->available[t->member] += t->kind == K_CREDIT ? -t->amount : t->amount;
		t->settled = true;
	}
	check_balance(m, t->member);
}

static void transfer(model *m, int from, int to, int64_t amount)
{
	loyal_posting p = posting_for(m, from, amount);
	p.to_member = m->ids[to];
	int expected = LOYAL_OK;
	if (from == to)
		expected = LOYAL_EINVAL;
	else if (!m->exists[from])
		expected = LOYAL_ENOTFOUND;
	else if (m->available[from] < amount)
		expected = LOYAL_EINSUFFICIENT;
	expect("a transfer", loyal_ledger_transfer(db, &p, NULL), expected);
	if (expected == LOYAL_OK) {
		m->available[from] -= amount;
		m->available[to] += amount;
		m->exists[to] = true;
	}
	check_balance(m, from);
	check_balance(m, to);
}

static void purchase(model *m, int member, int64_t amount)
{
	char properties[48];
	snprintf(properties, sizeof properties, "{\"amount\": %lld.5}", (long long)amount);
	snprintf(m->last_key, sizeof m->last_key, "k%d", m->keys++);
	loyal_event e = LOYAL_EVENT_INIT;
	e.member = m->ids[member];
	e.type = "purchase";
	e.idempotency_key = m->last_key;
	e.properties = properties;
	expect("a purchase", loyal_track(db, &e, NULL), LOYAL_OK);
	m->exists[member] = true;
	m->available[member] += amount; /* floor(amount + 0.5) */
	check_balance(m, member);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!db || inputs % 1000 == 0) {
		if (db && loyal_close(db) != LOYAL_OK)
			abort();
		db = fuzz_scratch_db(PROGRAM);
	}
	model m = {0};
	for (int i = 0; i < MEMBERS; i++)
		snprintf(m.ids[i], sizeof m.ids[i], "input%ld-m%d", inputs, i);
	inputs++;
	for (int calls = 0; size && calls < CALLS; calls++) {
		unsigned op = next(&data, &size), who = next(&data, &size);
		int64_t amount = 1 + (int64_t)(next(&data, &size) | next(&data, &size) << 8) % 1000;
		int member = (int)(who % MEMBERS), other = (int)((who >> 2) % MEMBERS);
		switch (op % 10) {
		case 0: keyed(&m, K_CREDIT, member, amount); break;
		case 1: keyed(&m, K_DEBIT, member, amount); break;
		case 2: keyed(&m, K_HOLD, member, amount); break;
		case 3: settle(&m, who, amount, true); break;
		case 4: settle(&m, who, amount, false); break;
		case 5: reverse(&m, who); break;
		case 6: transfer(&m, member, other, amount); break;
		case 7: purchase(&m, member, amount); break;
		case 8: again(&m, true); break;
		default: again(&m, false); break;
		}
	}
	if (inputs % 250 == 0 && loyal_verify(db) != LOYAL_OK) {
		fprintf(stderr, "fuzz_calls: verify: %s\n", loyal_errmsg(db));
		abort();
	}
	return 0;
}
