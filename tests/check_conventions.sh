#!/bin/sh
# check_conventions.sh: the rules every test keeps (tests/common/zt_test.h,
# tests/integration/harness.h), checked so that new tests keep them too:
#  - main() returns zt_test_exit(...): a skip reaches ctest as "Skipped";
#  - test inputs come from tests/models (no ../shared, no ZT_SHARED_DIR);
#  - black-box tests start nodes and programs, make temp dirs and speak
#    HTTP through the harness only (no fork/exec, popen, mkdtemp or curl of
#    their own).
# Exit 1 listing every file that breaks a rule.
set -u
cd "$(dirname "$0")" || exit 1
bad=0
for f in unit/test_*.c integration/test_*.c attack/test_*.c; do
  if ! grep -q 'zt_test_exit(' "$f"; then
    echo "$f: main() must return zt_test_exit(failures) (tests/common/zt_test.h)"; bad=1
  fi
done
hits=$(grep -nE '\.\./shared|ZT_SHARED_DIR' unit/*.c integration/*.c integration/*.py common/* 2>/dev/null)
if [ -n "$hits" ]; then
  echo "test inputs come from tests/models (zt_test_model), not ../shared:"; echo "$hits"; bad=1
fi
hits=$(grep -nE '(^|[^_a-zA-Z])(fork|execv|execvp|popen|mkdtemp|curl_easy_init)[[:space:]]*\(' integration/test_*.c)
if [ -n "$hits" ]; then
  echo "black-box tests use the harness (run_prog, run_shell, tmp_dir, node_spawn, http_req):"; echo "$hits"; bad=1
fi
[ "$bad" = 0 ] && echo "test conventions: ok"
exit "$bad"
