#!/bin/sh
# lint.sh: ban C library calls that the house style forbids (DESIGN.md):
# strcpy, strcat (use zt_strlcpy / zt_buf), sprintf/vsprintf (snprintf),
# strtok (strtok_r), atoi/atol (zt_str_to_i64), sscanf, rand/srand (libsodium
# randombytes), system (fork/exec). Also (issue 10 item 8): no two files
# under src/ share a base name, and no test or fuzz harness includes
# src/server/*.h (the HTTP layer's internals; logic a test needs lives in a
# subsystem). Exit 1 listing every hit.
set -u
cd "$(dirname "$0")/.." || exit 1
pattern='(^|[^_a-zA-Z0-9.>])(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|sscanf|rand|srand|system)[[:space:]]*\('
# Comments are not code: drop // and /* */ parts and comment-continuation
# lines before matching (file:line: prefixes are kept).
hits=$(grep -rnE "$pattern" src include tests fuzz bench tools 2>/dev/null \
  | grep -v 'lint: allow' \
  | sed -E 's#^([^:]+:[0-9]+:)(.*)$#\1\t\2#' \
  | awk -F'\t' '{ code = $2; gsub(/\/\*.*\*\//, "", code); sub(/\/\/.*/, "", code); sub(/\/\*.*/, "", code);
                  if (code ~ /^[[:space:]]*\*/) next; print $1 code }' \
  | grep -E "$pattern")
if [ -n "$hits" ]; then
  echo "lint: banned functions (see DESIGN.md house style):"
  echo "$hits"
  exit 1
fi
dups=$(find src -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | sed 's#.*/##' | sort | uniq -d)
if [ -n "$dups" ]; then
  echo "lint: file base names shared across src/ folders (rename the younger one, e.g. mesh_store.c):"
  for b in $dups; do find src -type f -name "$b"; done
  exit 1
fi
hits=$(grep -rnE '#[[:space:]]*include[[:space:]]*"[^"]*src/server/' tests fuzz bench 2>/dev/null)
# also by base name (a harness that put src/server on its include path)
# and by include path in the harnesses' CMake files
for h in src/server/*.h; do
  b=${h##*/}
  more=$(grep -rnE "#[[:space:]]*include[[:space:]]*[\"<]([^\">]*/)?${b}[\">]" tests fuzz bench 2>/dev/null)
  [ -n "$more" ] && hits="$hits
$more"
done
more=$(grep -rnE 'src/server' tests/CMakeLists.txt fuzz/CMakeLists.txt bench/CMakeLists.txt 2>/dev/null | grep -iE 'include_directories')
[ -n "$more" ] && hits="$hits
$more"
hits=$(printf '%s' "$hits" | sed '/^$/d')
if [ -n "$hits" ]; then
  echo "lint: tests and fuzzers do not include src/server/*.h (move the logic to its subsystem):"
  echo "$hits"
  exit 1
fi
echo "lint: ok"
