#!/bin/sh
# The main job: installs what is missing, builds journey, and replays the
# shipped sample of real shop data through the shipped journeys.
set -eu
cd "$(dirname "$0")/.."

tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 >/dev/null

# Each replay writes a fresh SQLite store, the default for real use; a
# store that exists already would resume instead of starting over.
rm -f build/demo-retail.db* build/demo-clickstream.db*

# Prints the first lines of a replay's transcript, where the whole of it
# is, and the summary. The transcripts run to thousands of lines.
show() { # show TRANSCRIPT_FILE
    lines=$(wc -l < "$1")
    sed -n '/^summary$/q;p' "$1" | head -n 12
    echo "... (the whole transcript, $lines lines, is in $1)"
    echo
    sed -n '/^summary$/,$p' "$1"
}

echo "== win-back and post-purchase journeys over the UCI Online Retail sample =="
./build/journey simulate scripts/winback.lua scripts/post_purchase.lua \
    --events data/uci-online-retail/events.jsonl --store sqlite:build/demo-retail.db \
    > build/demo-retail.txt
show build/demo-retail.txt

echo
echo "== abandoned-cart journey over the OTTO clickstream sample =="
./build/journey simulate scripts/abandoned_cart.lua --events data/otto-sample/events.jsonl \
    --store sqlite:build/demo-clickstream.db > build/demo-clickstream.txt
show build/demo-clickstream.txt

echo
echo "The stores are in build/demo-retail.db and build/demo-clickstream.db."
