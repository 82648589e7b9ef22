#!/bin/sh
# Builds the German locale, whose decimal point is ",", into a temporary
# directory, and runs test_locale_numbers under it.
#
# usage: tests/locale_numbers_test.sh TEST_BINARY
set -eu

binary=$1
dir=$(mktemp -d /tmp/journey-locale.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# -c writes the locale even when localedef warns about its sources.
localedef -c -i de_DE -f UTF-8 "$dir/de_DE.UTF-8" > "$dir/localedef.log" 2>&1 || true
if [ ! -d "$dir/de_DE.UTF-8" ]; then
    cat "$dir/localedef.log" >&2
    echo "locale_numbers_test: localedef could not build de_DE.UTF-8; install the Debian package locales" >&2
    exit 1
fi
LOCPATH=$dir JY_TEST_LOCALE=de_DE.UTF-8 "$binary"
