#!/usr/bin/env bash
# Compares sessionkit's router with nginx on this machine, in one run.
#
# Three small backends; in front of them the router hashing the session
# cookie, and nginx hashing the same cookie (hash $cookie_session
# consistent, upstream keep-alive). wrk runs against each in turn, A B B A,
# with the same connections and duration, then against one backend directly
# as the ceiling. Every request carries one of 64 session cookies, in
# rotation (wrk exposes no connection identity). CPU is the proxy's user +
# system time from /proc/PID/stat, every nginx process counted; nginx has
# worker_processes 2, the router GOMAXPROCS 2; both write an access log to a
# file.
#
#   bench/router.sh [-d 10s] [-c 64] [-t 1]
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=10s CONNS=64 THREADS=1
while getopts d:c:t: o; do
	case $o in
	d) DURATION=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	t) THREADS=$OPTARG ;;
	*) exit 2 ;;
	esac
done

bash scripts/deps.sh >/dev/null
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

freeport() { # a port nothing answers on
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }
	done
}
waitport() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not ready" >&2; return 1; }
cpu_seconds() { # sum of utime+stime of the given pids, in seconds
	local t=0
	for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}

go build -o "$work/sessionkit" ./cmd/sessionkit
(cd bench && go build -o "$work/backend" ./cmd/backend)

members=""
upstreams=""
for i in 1 2 3; do
	port=$(freeport)
	"$work/backend" -name "n$i" -listen "127.0.0.1:$port" &
	pids+=($!)
	waitport "$port"
	members+="n$i=http://127.0.0.1:$port "
	upstreams+="    server 127.0.0.1:$port;\n"
done
direct=${members%% *}
direct=${direct#*=}

rport=$(freeport)
GOMAXPROCS=2 "$work/sessionkit" router --listen "127.0.0.1:$rport" --members "$members" \
	--admin 127.0.0.1:0 --log-level info --access-log=true 2>"$work/router-access.log" >/dev/null &
rpid=$!
pids+=($rpid)
waitport "$rport"

nport=$(freeport)
mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log $work/nginx/logs/access.log;
  client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp; uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  upstream nodes {
    hash \$cookie_session consistent;
$(printf "%b" "$upstreams")    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$nport;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://nodes;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
CONF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
waitport "$nport"
nginx_pids() { echo "$(cat "$work/nginx.pid") $(pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' ')"; }

cat >"$work/cookies.lua" <<'LUA'
local n = 0
local cookies = {}
for i = 1, 64 do
  local t = {}
  for j = 1, 43 do t[j] = string.char(string.byte("a") + (i * 7 + j * 13) % 26) end
  cookies[i] = "session=" .. table.concat(t)
end
request = function()
  n = n + 1
  return wrk.format("GET", "/", { ["Cookie"] = cookies[(n % 64) + 1] })
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f\n", summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000))
end
LUA

# run NAME URL PIDS...: prints "NAME rps p99ms cpu_s"
run() {
	local name=$1 url=$2
	shift 2
	local c0 c1 out
	c0=$(cpu_seconds "$@")
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$work/cookies.lua" "$url" | grep '^RESULT')
	c1=$(cpu_seconds "$@")
	read -r _ rps p99 <<<"$out"
	echo "$name $rps $p99 $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')"
}

results=()
# Warm both up, then A B B A.
wrk -t1 -c"$CONNS" -d2s -s "$work/cookies.lua" "http://127.0.0.1:$rport/" >/dev/null
wrk -t1 -c"$CONNS" -d2s -s "$work/cookies.lua" "http://127.0.0.1:$nport/" >/dev/null
results+=("$(run router "http://127.0.0.1:$rport/" "$rpid")")
results+=("$(run nginx "http://127.0.0.1:$nport/" $(nginx_pids))")
results+=("$(run nginx "http://127.0.0.1:$nport/" $(nginx_pids))")
results+=("$(run router "http://127.0.0.1:$rport/" "$rpid")")
results+=("$(run direct "$direct/")")

printf "%-8s %10s %9s %8s %12s\n" proxy "req/s" "p99 ms" "cpu s" "req/cpu-s"
for r in "${results[@]}"; do
	read -r name rps p99 cpu <<<"$r"
	per="-"
	[ "$name" != direct ] && per=$(awk -v r="$rps" -v d="${DURATION%s}" -v c="$cpu" 'BEGIN { printf "%.0f", r * d / c }')
	printf "%-8s %10s %9s %8s %12s\n" "$name" "$rps" "$p99" "${cpu:--}" "$per"
done
printf "%s\n" "${results[@]}" | awk '
	$1=="router" { rr+=$2; rp+=$3; rc+=$4; rn++ }
	$1=="nginx"  { nr+=$2; np+=$3; nc+=$4; nn++ }
	END {
		printf "mean: router %.0f req/s p99 %.2f ms %.0f req/cpu-s; nginx %.0f req/s p99 %.2f ms %.0f req/cpu-s\n", rr/rn, rp/rn, rr/rc*'"${DURATION%s}"', nr/nn, np/nn, nr/nc*'"${DURATION%s}"'
		printf "router/nginx: throughput %.2f p99 %.2f per-core %.2f\n", (rr/rn)/(nr/nn), (rp/rn)/(np/nn), (rr/rc)/(nr/nc)
	}'
