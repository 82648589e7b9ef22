#!/bin/sh
# Checks the ABI hygiene of libjourney: the shared library exports only
# journey_-prefixed functions, and journey.h compiles as C11 and as C++.
# usage: tests/abi_test.sh LIBJOURNEY_SO JOURNEY_H
set -eu
library=$1
header=$2
failed=0

# Symbols every shared object has, which the linker adds.
exported=$(nm -D --defined-only "$library" | awk '{print $3}' |
           grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' || true)
strays=$(echo "$exported" | grep -v '^journey_' | grep -v '^$' || true)
if [ -n "$strays" ]; then
    echo "symbols without the journey_ prefix are exported from $library:"
    echo "$strays" | head -20
    failed=1
fi
count=$(echo "$exported" | grep -c '^journey_' || true)

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '#include "journey.h"\nint main(void) { return journey_version()[0] == 0; }\n' > "$dir/c.c"
cp "$dir/c.c" "$dir/cpp.cpp"
if ! cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -pedantic -fsyntax-only -I"$(dirname "$header")" "$dir/c.c"; then
    echo "journey.h does not compile as C11"
    failed=1
fi
if ! c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only -I"$(dirname "$header")" "$dir/cpp.cpp"; then
    echo "journey.h does not compile as C++"
    failed=1
fi

echo "abi test: $count journey_ symbols exported, header compiled as C11 and C++, failed = $failed"
exit "$failed"
