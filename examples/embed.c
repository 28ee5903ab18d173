/* embed.c - the smallest program that embeds loyal: define a currency, credit, read a balance. */
#include <loyal.h>
#include <stdio.h>

int main(void)
{
	loyal_db *db = NULL;
	int rc = loyal_open("embed.db", NULL, &db);
	if (rc == LOYAL_OK)
		rc = loyal_program_apply(db, "{\"currencies\": [{\"name\": \"points\"}]}", NULL);
	loyal_posting earn = LOYAL_POSTING_INIT;
	earn.member = "alice";
	earn.currency = "points";
	earn.amount = 100;
	earn.idempotency_key = "welcome-alice";
	if (rc == LOYAL_OK)
		rc = loyal_ledger_credit(db, &earn, NULL); /* a retry would change nothing */
	loyal_balance balance = LOYAL_BALANCE_INIT;
	if (rc == LOYAL_OK)
		rc = loyal_ledger_balance(db, "alice", "points", 0, &balance);
	if (rc == LOYAL_OK)
		printf("alice has %lld points\n", (long long)balance.available);
	else
		fprintf(stderr, "embed: %s: %s\n", loyal_errstr(rc), loyal_errmsg(db));
	loyal_close(db);
	return rc == LOYAL_OK ? 0 : 1;
}
