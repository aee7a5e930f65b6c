// common.cjs: what the Node.js black-box programs share (tests/README.md):
// a package that is not installed is a skip (exit 77, "SKIP: why"), one
// "ok"/"FAIL" line per check, exit 1 when a check failed.
"use strict";

// require(name), or skip the whole program when it is not installed.
exports.need = (name) => {
  try {
    return require(name);
  } catch (e) {
    console.log("SKIP: the " + name + " npm package is not installed (scripts/data.sh --node-modules): " + e.message);
    process.exit(77);
  }
};

let failures = 0;

exports.check = (cond, what, detail) => {
  console.log((cond ? "ok   " : "FAIL ") + what + (detail !== undefined ? ": " + detail : ""));
  if (!cond) failures++;
};

// Run main (async), then exit 0 or 1.
exports.run = (main) => {
  main().then(() => {
    console.log(failures ? failures + " check(s) failed" : "all checks passed");
    process.exit(failures ? 1 : 0);
  }, (e) => {
    console.log("FAIL unexpected error: " + (e && e.stack ? e.stack : e));
    process.exit(1);
  });
};
