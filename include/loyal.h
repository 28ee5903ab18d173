/* loyal.h - the umbrella header of loyal, an embeddable loyalty engine: include this one. */
#ifndef LOYAL_H
#define LOYAL_H

#include "loyal/common.h"
#include "loyal/analytics.h"
#include "loyal/badges.h"
#include "loyal/db.h"
#include "loyal/criteria.h"
#include "loyal/coupons.h"
#include "loyal/cursor.h"
#include "loyal/events.h"
#include "loyal/grants.h"
#include "loyal/leaderboards.h"
#include "loyal/outbox.h"
#include "loyal/ledger.h"
#include "loyal/members.h"
#include "loyal/program.h"
#include "loyal/rewards.h"
#include "loyal/segments.h"
#include "loyal/simulate.h"
#include "loyal/whatif.h"
#include "loyal/tiers.h"

#endif /* LOYAL_H */
