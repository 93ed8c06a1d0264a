#!/usr/bin/env bash
# Renders an exported trace page in a real headless browser (Debian's chromium) and writes a
# screenshot, to check by eye what `xmrc-lens export` writes (and for the README's picture).
#   scripts/screenshot_export.sh TRACE.json OUT.png [LAYER]
# Needs: apt-get install chromium (Debian's package: /usr/bin/chromium), a built xmrc-lens.
# The page loads from a file with the network flags off: a page that needed anything from
# outside would show it broken here. The browser's console (script errors) is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
trace=${1:?usage: scripts/screenshot_export.sh TRACE.json OUT.png [LAYER]}
out=${2:?usage: scripts/screenshot_export.sh TRACE.json OUT.png [LAYER]}
layer=${3:-}
bin="${XMRC_LENS_BIN:-${CARGO_TARGET_DIR:-target}/release/xmrc-lens}"
browser="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$browser" ] || { echo "no chromium at $browser (apt-get install chromium)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(export "$trace" --html "$tmp/page.html")
[ -n "$layer" ] && args+=(--layer "$layer")
"$bin" "${args[@]}"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$tmp/profile" --hide-scrollbars --window-size=1280,2200 \
  --enable-logging=stderr --v=0 \
  --screenshot="$tmp/shot.png" "file://$tmp/page.html" 2> "$tmp/browser.log" || {
    cat "$tmp/browser.log" >&2; exit 1; }
# Script errors reach the log as CONSOLE lines; a clean page has none.
if grep -E "CONSOLE|Uncaught" "$tmp/browser.log" >&2; then
  echo "the page's script reported errors (above)" >&2
  exit 1
fi
mv "$tmp/shot.png" "$out"
echo "wrote $out"
