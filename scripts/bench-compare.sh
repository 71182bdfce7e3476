#!/usr/bin/env bash
# Measures the load generator itself (docs/bench.md, "Checking the generator").
#
#   scripts/bench-compare.sh [compare] [ROUNDS] [SECONDS]   wsgiprobe vs wrk against nginx `return 200`
#   scripts/bench-compare.sh stall                          open-loop latency accuracy against the stall server
#   scripts/bench-compare.sh memory [REQUESTS]              max RSS of a long counted run against nginx
#
# compare: alternates `wrk -t1 -c64` and `wsgiprobe bench -t 1 -c 64` for
# ROUNDS rounds (default 5) of SECONDS each (default 10), changing which goes
# first every round, and prints each tool's req/s and CPU per request
# (user + system from /usr/bin/time) and their ratios. The machine's noise
# shows in the spread between rounds; read the median.
#
# Needs: nginx, wrk (compare only), python3 (to pick a free port), /usr/bin/time.
# nginx runs as a child with private pid/temp/log paths and is stopped on exit.
set -euo pipefail

mode=${1:-compare}
case "$mode" in compare|stall|memory) shift || true ;; *) mode=compare ;; esac

need() {
    command -v "$1" >/dev/null || { echo "bench-compare.sh: $1 not found; install it (Debian, Ubuntu: apt-get install $2)" >&2; exit 2; }
}
need nginx nginx-light
[ -x /usr/bin/time ] || { echo "bench-compare.sh: /usr/bin/time not found; install it (apt-get install time)" >&2; exit 2; }
[ "$mode" = compare ] && need wrk wrk

root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bins
bin="$root/target/release/wsgiprobe"
stall_bin="$root/target/release/stall_server"
work=$(mktemp -d /tmp/wsgiprobe-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts nginx and sets $url. (Not in a $(...) subshell: the substitution
# would wait for nginx, which inherits its stdout.)
start_nginx() {
    local port
    port=$(free_port)
    mkdir -p "$work/nginx"
    cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "hello\n"; }
    }
}
EOF
    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' >"$work/nginx/out.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 50); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then
            url="http://127.0.0.1:$port/"
            return
        fi
        sleep 0.1
    done
    echo "nginx did not start; see $work/nginx/error.log" >&2
    exit 2
}

# Prints "REQ_PER_SEC REQUESTS CPU_SECONDS".
run_wrk() {
    local url=$1 secs=$2
    /usr/bin/time -f '%U %S' -o "$work/time" wrk -t1 -c64 -d"${secs}s" "$url" >"$work/wrk.out"
    local rps n cpu
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
    n=$(awk '/requests in/ {print $1}' "$work/wrk.out")
    cpu=$(awk '{print $1 + $2}' "$work/time")
    echo "$rps $n $cpu"
}

run_ours() {
    local url=$1 secs=$2
    /usr/bin/time -f '%U %S' -o "$work/time" \
        "$bin" bench --url "$url" -t 1 -c 64 -d "${secs}s" --warmup 0s --json "$work/ours.json" >/dev/null 2>&1
    python3 - "$work/ours.json" "$work/time" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
user, sys_ = open(sys.argv[2]).read().split()[:2]
print(r["requests_per_sec"], r["generator"]["requests_sent"], float(user) + float(sys_))
EOF
}

compare() {
    local rounds=${1:-5} secs=${2:-10}
    start_nginx
    echo "nginx return 200 at $url; $rounds rounds of ${secs}s; wrk -t1 -c64 vs wsgiprobe bench -t 1 -c 64"
    echo "cores: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-6s %-10s %12s %14s %12s %14s %8s %8s\n' round first "wrk req/s" "wrk us CPU/req" "ours req/s" "ours us CPU/req" "rps x" "cpu x"
    local rows=()
    for r in $(seq "$rounds"); do
        local w o first
        if (( r % 2 )); then
            first=wrk; w=$(run_wrk "$url" "$secs"); o=$(run_ours "$url" "$secs")
        else
            first=ours; o=$(run_ours "$url" "$secs"); w=$(run_wrk "$url" "$secs")
        fi
        local row
        row=$(python3 - "$w" "$o" <<'EOF'
import sys
wr, wn, wc = map(float, sys.argv[1].split())
orps, on, oc = map(float, sys.argv[2].split())
wcpr, ocpr = wc / wn * 1e6, oc / on * 1e6
print(f"{wr:.0f} {wcpr:.2f} {orps:.0f} {ocpr:.2f} {orps / wr:.3f} {ocpr / wcpr:.3f}")
EOF
)
        rows+=("$row")
        # shellcheck disable=SC2086
        printf '%-6s %-10s %12s %14s %12s %14s %8s %8s\n' "$r" "$first" $row
    done
    printf '%s\n' "${rows[@]}" | python3 -c '
import sys, statistics as st
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
rps = [r[4] for r in rows]; cpu = [r[5] for r in rows]
print(f"req/s ratio (ours / wrk): median {st.median(rps):.3f}, min {min(rps):.3f}, max {max(rps):.3f}")
print(f"CPU per request ratio (ours / wrk): median {st.median(cpu):.3f}, min {min(cpu):.3f}, max {max(cpu):.3f}")
'
}

stall() {
    # 2000 req/s for 8 s; every request arriving 2 s to 3 s after the first is
    # held until 3 s. Analytic (docs/bench.md): p99 = 0.92 s, p90 = 0.20 s.
    for c in 2500 64; do
        "$stall_bin" --stall-after 2 --stall-for 1 --max-seconds 60 >"$work/stall.out" 2>"$work/stall.err" &
        pids+=($!)
        url=""
        for _ in $(seq 50); do
            url=$(sed -n 's/^listening on //p' "$work/stall.out")
            [ -n "$url" ] && break
            sleep 0.1
        done
        "$bin" bench --url "$url" --rate 2000 -d 8s --warmup 0s -c "$c" --json "$work/stall.json" >/dev/null 2>&1 || true
        kill "${pids[-1]}" 2>/dev/null || true
        wait "${pids[-1]}" 2>/dev/null || true
        echo "-c $c: $(cat "$work/stall.err")"
        python3 - "$work/stall.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
c, u = r["latency_us"], r["latency_uncorrected_us"]
for name, want, tol in (("p99", 0.92, 0.05), ("p90", 0.20, 0.15)):
    got = c[name] / 1e6
    err = (got - want) / want
    print(f"  corrected {name}: {got:.4f} s (analytic {want} s, {err:+.1%}, limit ±{tol:.0%}) {'ok' if abs(err) <= tol else 'OUT OF BOUNDS'}")
print(f"  uncorrected (service time) p90 {u['p90']/1e6:.4f} s, p99 {u['p99']/1e6:.4f} s; requests {r['requests']}, errors {r['errors']['total']}, send lag p99 {r['generator']['sched_lag_us']['p99']} us")
EOF
    done
}

memory() {
    local n=${1:-10000000}
    start_nginx
    echo "wsgiprobe bench -n $n -c 64 against nginx at $url"
    /usr/bin/time -v -o "$work/time" "$bin" bench --url "$url" -t 1 -c 64 -n "$n" --warmup 0s --json "$work/mem.json" >/dev/null 2>&1 || true
    local rss
    rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time")
    python3 - "$work/mem.json" "$rss" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
kib = int(sys.argv[2])
print(f"requests {r['requests']}, errors {r['errors']['total']}, {r['requests_per_sec']:.0f} req/s")
print(f"max RSS {kib / 1024:.1f} MiB ({'under' if kib < 64 * 1024 else 'OVER'} 64 MiB)")
EOF
}

"$mode" "$@"
