#!/usr/bin/env bash
# test_shellcheck.sh: every shell script of the repository is shellcheck-clean
# (Debian's shellcheck, default severity: style notes count too).
# Usage: test_shellcheck.sh SOURCE_DIR. Exit 77 (ctest: skipped) without shellcheck.
set -euo pipefail
src="$1"
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "SKIP: shellcheck not found (apt-get install shellcheck; scripts/setup.sh installs it)"
  exit 77
fi
cd "$src"
# the scripts: *.sh, and files whose first line is a sh or bash shebang
# (build trees, data and VCS metadata excluded)
mapfile -t files < <(find . \( -path ./.git -o -path './build*' -o -path ./data -o -path ./node_modules \) -prune -o \
  -type f \( -name '*.sh' -o -perm -u+x \) -print | sort | while read -r f; do
    case "$f" in
      *.sh) echo "$f" ;;
      *) if head -n 1 "$f" 2>/dev/null | grep -qE '^#!.*/(env )?(ba)?sh( |$)'; then echo "$f"; fi ;;
    esac
  done)
[ "${#files[@]}" -gt 0 ] || { echo "FAIL: no shell scripts found under $src"; exit 1; }
if shellcheck -x "${files[@]}"; then
  echo "ok: ${#files[@]} scripts are shellcheck-clean"
else
  echo "FAIL: shellcheck (above) on: ${files[*]}"
  exit 1
fi
