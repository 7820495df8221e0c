#!/usr/bin/env bash
# Renders a report.html in headless Chromium with every network request
# refused, and writes a PNG screenshot beside it.
#
#   tests/render_report.sh runs/quick/validation/report.html [OUT.png]
#
# Needs Chromium (Debian: apt-get install chromium). Fails if Chromium
# reports an error or writes no image.
set -euo pipefail
html=$(realpath "$1")
png=${2:-${html%.html}.png}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$png"
"$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$profile" \
    --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="http://0.0.0.0:9" \
    --window-size=1280,4000 --hide-scrollbars \
    --screenshot="$png" "file://$html" 2>"$profile/log" || { cat "$profile/log"; exit 1; }
test -s "$png" || { echo "no screenshot written" >&2; exit 1; }
echo "rendered $html -> $png"
