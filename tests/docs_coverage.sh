#!/bin/sh
# Fails when a name that the bindings register into Lua has no entry in
# docs/lua-api.md: the j.* step functions, the spec host's methods and
# the journey module's fields.
set -eu
cd "$(dirname "$0")/.."

doc=docs/lua-api.md
missing=0

# Prints the names of a luaL_Reg array called $2 in file $1.
registered() {
    sed -n "/$2\[\] = {/,/{NULL, NULL}/p" "$1" | grep -o '{"[a-z_]*"' | tr -d '{"'
}

check() {
    if ! grep -q -F "$1" "$doc"; then
        echo "$1 is registered in $2 but not documented in $doc"
        missing=1
    fi
}

for name in $(registered bindings/api.c api_functions); do
    check "j.$name" bindings/api.c
done
for name in $(registered bindings/module.c host_methods); do
    check "h:$name" bindings/module.c
done
for name in $(sed -n '/^int luaopen_journey/,/^}/p' bindings/module.c |
              grep -o 'lua_setfield(L, -2, "[a-z][a-z_]*")' | grep -o '"[a-z_]*"' | tr -d '"'); do
    check "journey.$name" bindings/module.c
done

if [ "$missing" -eq 0 ]; then
    echo "docs coverage: every name registered into Lua is documented in $doc"
fi
exit "$missing"
