"""Generates a year of a community app's events as NDJSON (for `loyal import`): sign-ups,
daily check-ins, posts, purchases and referrals, with a long tail of activity."""

import json
import random
import sys
import time

DAY = 86_400_000


def main():
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    rng = random.Random(7)
    end = int(time.time() * 1000)
    start = end - 365 * DAY
    events = []
    for index in range(members):
        member = f"member-{index:04d}"
        joined = start + rng.randrange(330) * DAY
        keen = rng.paretovariate(1.5)  # a few very active members, many quiet ones
        events.append((joined, member, "signup", {}))
        if index and rng.random() < 0.3:
            referrer = f"member-{rng.randrange(index):04d}"
            events.append((joined + 1000, member, "invite_accepted", {"referrer": referrer}))
        last = joined + rng.randrange(1, 365) * DAY * min(1.0, keen / 3)
        day = joined
        while day < min(end, last):
            if rng.random() < min(0.9, 0.15 * keen):
                events.append((day + rng.randrange(DAY // 2), member, "check_in", {}))
            if rng.random() < min(0.5, 0.05 * keen):
                events.append((day + rng.randrange(DAY), member, "post", {"words": rng.randrange(20, 400)}))
            if rng.random() < min(0.2, 0.02 * keen):
                amount = round(rng.uniform(5, 150), 2)
                events.append((day + rng.randrange(DAY), member, "purchase", {"amount": amount}))
            day += DAY
    events.sort()
    for number, (at, member, kind, properties) in enumerate(events):
        if at >= end:
            continue
        print(json.dumps({"member": member, "type": kind, "key": f"{kind}-{number}", "at": at,
                          "properties": properties}))
    print("this line is not JSON")
    print(json.dumps({"member": "member-0000", "type": "purchase"}))


if __name__ == "__main__":
    main()
