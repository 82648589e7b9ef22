#!/usr/bin/env python3
"""Convert OTTO session data (otto-de/recsys-dataset format) into the host's JSON Lines events.

Input: a .jsonl file with one session per line:
  {"session": 42, "events": [{"aid": 1, "ts": 1661200010000, "type": "clicks"}, ...]}
  ("ts" is Unix time in milliseconds in the GitHub test resource and in seconds in the
  Kaggle release; both are accepted.)

Output: one event per source event, sorted by time:
  {"user": "<session>", "event": "shop/product_viewed" | "shop/cart_added" | "shop/order_placed",
   "ts": "YYYY-MM-DDTHH:MM:SS.mmmZ", "data": {"aid": <article id>}}

Usage:
  python3 convert.py train.jsonl events.jsonl [stats.json]

Python 3 standard library only.
"""
import collections
import datetime
import json
import sys

EVENT_NAMES = {
    "clicks": "shop/product_viewed",
    "carts": "shop/cart_added",
    "orders": "shop/order_placed",
}


def iso_ms(ms):
    t = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    src, dst = argv[1], argv[2]
    stats_path = argv[3] if len(argv) > 3 else None

    rows = []
    seq = 0
    with open(src, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            s = json.loads(line)
            for e in s["events"]:
                ts = int(e["ts"])
                ms = ts if ts > 100_000_000_000 else ts * 1000
                rows.append((ms, int(s["session"]), seq, e["type"], int(e["aid"])))
                seq += 1
    rows.sort()

    counts = collections.Counter()
    with open(dst, "w", encoding="utf-8") as out:
        for ms, session, _, etype, aid in rows:
            name = EVENT_NAMES[etype]
            counts[name] += 1
            out.write(json.dumps({"user": str(session), "event": name, "ts": iso_ms(ms),
                                  "data": {"aid": aid}}, separators=(",", ":")) + "\n")

    stats = {
        "events": len(rows),
        "users": len({r[1] for r in rows}),
        "first_ts": iso_ms(rows[0][0]),
        "last_ts": iso_ms(rows[-1][0]),
        "event_counts": dict(sorted(counts.items())),
    }
    text = json.dumps(stats, indent=2)
    print(text)
    if stats_path:
        with open(stats_path, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
