import loyal, sys

with loyal.Loyal(sys.argv[1] if len(sys.argv) > 1 else "shop.db") as db:
    db.apply_program({"currencies": [{"name": "points", "expiry": {"after_days": 365}}],
                      "rules": [{"name": "purchase", "event": "purchase",
                                 "award": {"points": "floor(event.amount)"}}]})
    db.track("alice", "purchase", "order-1001", {"amount": 42.50})
    db.debit("alice", "points", 10, key="coffee-1")
    print("alice has", db.balance("alice", "points").available, "points")
