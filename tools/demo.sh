#!/bin/sh
# The main job: installs what is missing, builds journey, and replays the
# shipped sample of real shop data through the shipped journeys.
set -eu
cd "$(dirname "$0")/.."

tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 >/dev/null

echo "== win-back and post-purchase journeys over the UCI Online Retail sample =="
./build/journey simulate scripts/winback.lua scripts/post_purchase.lua \
    --events data/uci-online-retail/events.jsonl

echo
echo "== abandoned-cart journey over the OTTO clickstream sample =="
./build/journey simulate scripts/abandoned_cart.lua --events data/otto-sample/events.jsonl
