#!/usr/bin/env bash
# Regenerates a published report: reports/NAME/ (report.json, report.md,
# report.html) from suites/NAME.toml, then overview.png, the page's first
# workload (throughput and p99 against concurrency) taken with headless
# Chromium: what the README shows.
#
#   scripts/report.sh classic        # about 15 minutes; also: servers
#
# Run scripts/test.sh once first: it makes .venv with the servers and Flask.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: scripts/report.sh NAME (a suite in suites/, e.g. classic or servers)}"
export WSGIPROBE_PYTHON="${WSGIPROBE_PYTHON:-$PWD/.venv/bin/python}"
cargo build --release --quiet
status=0
target/release/wsgiprobe suite "suites/$name.toml" --out "reports/$name" || status=$?
# The page's first workload, through a frame scrolled to it (a screenshot
# of the report opened at #w0 comes out blank in headless Chromium).
frame="$(mktemp --suffix=.html)"
trap 'rm -f "$frame"' EXIT
cat > "$frame" <<HTML
<!doctype html><html><body style="margin:0;overflow:hidden">
<iframe id="f" src="file://$PWD/reports/$name/report.html" style="position:absolute;left:0;top:0;width:1200px;height:6000px;border:0"></iframe>
<script>
var f = document.getElementById('f');
f.onload = function () {
  var w = f.contentDocument.getElementById('w0');
  f.style.top = -(w.getBoundingClientRect().top - 8) + 'px';
};
</script></body></html>
HTML
chromium="$(command -v chromium || command -v chromium-browser || command -v google-chrome)"
"$chromium" --headless --no-sandbox --hide-scrollbars --allow-file-access-from-files \
    --window-size=1200,900 --virtual-time-budget=4000 \
    --screenshot="reports/$name/overview.png" "file://$frame" 2>/dev/null
exit "$status"
