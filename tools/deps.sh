#!/bin/sh
# Installs the Debian packages that building and testing journey need.
# Runs apt-get through sudo when not root. Skips the install when every
# package is already present, so repeated runs cost nothing.
set -eu

packages="build-essential cmake pkg-config lua5.4 liblua5.4-dev lua-cjson lua-cjson-dev lua-busted libsqlite3-dev sqlite3 libuv1-dev libhttp-parser-dev curl locales"

missing=""
for package in $packages; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
else
    as_root="sudo"
fi
echo "installing:$missing"
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
