#!/usr/bin/env bash
# Compares sessionkit's router with nginx on this machine, for every
# routing key, in one run.
#
# Three small backends (bench/cmd/backend, one process on one core); in
# front of them the router and nginx, both with upstream keep-alive,
# hashing the same key:
#
#   token   Cookie: session=... (64 tokens)   router --keys token
#           nginx hash $cookie_session consistent
#   ip      X-Forwarded-For from 64 addresses  router --keys ip --trusted-proxies 127.0.0.1/32
#           nginx set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;
#           hash $remote_addr consistent
#   header  X-User: 64 values                  router --keys header:X-User
#           nginx hash $http_x_user consistent
#   cookie  Cookie: uid=, 64 values            router --keys cookie:uid
#           nginx hash $cookie_uid consistent
#   query   /?uid=, 64 values                  router --keys query:uid
#           nginx hash $arg_uid consistent
#
# Each kind runs ROUNDS rounds of A B B A (router, nginx, nginx, router),
# each run with the same wrk connections, threads and duration, with both
# access logs off and then with both writing to a file. A round's ratios
# compare the mean of its two router runs with the mean of its two nginx
# runs: throughput (req/s), p99 latency, and requests per CPU second (the
# proxy's user + system time from /proc/PID/stat, every nginx process
# counted). nginx runs WORKERS worker processes and the router GOMAXPROCS
# WORKERS. The script prints every run, the median and the worst round of
# each ratio, and one line per kind and log setting:
#
#   router/nginx KIND (logs off|on): throughput R1 p99 R2 per-core R3
#
# R1..R3 are the medians. Figures from a busy machine are noise: look at
# the load average printed first, and at the spread between rounds.
#
#   bench/router.sh [-d 5s] [-c 64] [-t 1] [-w 1] [-r 6] [-k "token ip header cookie query"] [-l "off on"] [-q] [-g]
#
# -q is a quick check that the script works: 2 rounds of 1 s. -g adds
# bench/cmd/goproxy to the rounds with logs off (A B C C B A: router,
# goproxy, nginx), and a goproxy/nginx line: the floor of a proxy written
# in Go on net.Conn, which reads and writes each request and response once
# and does nothing else (no routing, pool, checks, timeouts or logs), so
# that its ratios to nginx bound what the router's can be.
# ROUNDS, DURATION, KINDS, LOGS and WORKERS may be given in the
# environment too.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s} CONNS=${CONNS:-64} THREADS=${THREADS:-1} WORKERS=${WORKERS:-1}
ROUNDS=${ROUNDS:-6} KINDS=${KINDS:-"token ip header cookie query"} LOGS=${LOGS:-"off on"}
WARMUP=2s GOPROXY=""
while getopts d:c:t:w:r:k:l:qg o; do
	case $o in
	d) DURATION=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	t) THREADS=$OPTARG ;;
	w) WORKERS=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	k) KINDS=$OPTARG ;;
	l) LOGS=$OPTARG ;;
	q) ROUNDS=2 DURATION=1s WARMUP=1s ;;
	g) GOPROXY=1 ;;
	*) exit 2 ;;
	esac
done

if ! command -v wrk >/dev/null || [ ! -x /usr/sbin/nginx ]; then
	bash scripts/deps.sh >/dev/null
fi
/usr/sbin/nginx -V 2>&1 | grep -q -- --with-http_realip_module || {
	echo "nginx lacks the realip module, which the ip kind needs" >&2
	exit 1
}
work=$(mktemp -d)
pids=()
proxy_pids=()
nginx_running=""
stop_proxies() {
	for p in "${proxy_pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	proxy_pids=()
	if [ -n "$nginx_running" ] && [ -f "$work/nginx.pid" ]; then
		local np
		np=$(cat "$work/nginx.pid")
		kill -QUIT "$np" 2>/dev/null || true
		for _ in $(seq 200); do kill -0 "$np" 2>/dev/null || break; sleep 0.05; done
	fi
	nginx_running=""
}
cleanup() {
	stop_proxies
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

freeport() { # a port nothing answers on, outside the ephemeral range (outgoing connections)
	local p
	while :; do
		p=$((10000 + RANDOM % 22000)) # below the ephemeral ports
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }
	done
}
waitport() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not ready" >&2; return 1; }
cpu_seconds() { # sum of utime+stime of the given pids, in seconds
	local t=0
	for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}

go build -o "$work/sessionkit" ./cmd/sessionkit
(cd bench && go build -o "$work/backend" ./cmd/backend && go build -o "$work/goproxy" ./cmd/goproxy)

# The three backends are one process on one core (GOMAXPROCS=1) answering
# with a preset response: far cheaper than either proxy, so that the
# proxies, not the backends, bound a run.
members=""
backends=""
upstreams=""
ports=()
for i in 1 2 3; do
	port=$(freeport)
	while [[ " ${ports[*]} " == *" $port "* ]]; do port=$(freeport); done # none listens yet: no two alike
	ports+=("$port")
	members+="n$i=http://127.0.0.1:$port "
	backends+="${backends:+,}127.0.0.1:$port"
	upstreams+="    server 127.0.0.1:$port;\n"
done
GOMAXPROCS=1 "$work/backend" -name n1,n2,n3 -listen "127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}" &
pids+=($!)
for port in "${ports[@]}"; do waitport "$port"; done

# The wrk script of each kind: 64 distinct keys, in rotation (wrk exposes
# no connection identity), and the RESULT line run reads.
lua() { # lua KIND
	cat <<'LUA'
local n = 0
local keys = {}
for i = 1, 64 do
  local t = {}
  for j = 1, 43 do t[j] = string.char(string.byte("a") + (i * 7 + j * 13) % 26) end
  keys[i] = table.concat(t)
end
LUA
	case $1 in
	token) echo 'local function req(i) return wrk.format("GET", "/", { ["Cookie"] = "session=" .. keys[i] }) end' ;;
	ip) echo 'local function req(i) return wrk.format("GET", "/", { ["X-Forwarded-For"] = "198.51.100." .. i }) end' ;;
	header) echo 'local function req(i) return wrk.format("GET", "/", { ["X-User"] = "user-" .. keys[i] }) end' ;;
	cookie) echo 'local function req(i) return wrk.format("GET", "/", { ["Cookie"] = "theme=dark; uid=" .. keys[i] }) end' ;;
	query) echo 'local function req(i) return wrk.format("GET", "/?page=1&uid=" .. keys[i]) end' ;;
	esac
	cat <<'LUA'
request = function()
  n = n + 1
  return req((n % 64) + 1)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %d %d\n", summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
LUA
}

router_keys() {
	case $1 in
	token) echo "--keys token" ;;
	ip) echo "--keys ip --trusted-proxies 127.0.0.1/32" ;;
	header) echo "--keys header:X-User" ;;
	cookie) echo "--keys cookie:uid" ;;
	query) echo "--keys query:uid" ;;
	esac
}

nginx_hash() {
	case $1 in
	token) echo 'hash $cookie_session consistent;' ;;
	ip) echo 'hash $remote_addr consistent;' ;;
	header) echo 'hash $http_x_user consistent;' ;;
	cookie) echo 'hash $cookie_uid consistent;' ;;
	query) echo 'hash $arg_uid consistent;' ;;
	esac
}

# start KIND LOGS: starts the router and nginx for a kind, and goproxy
# with -g and logs off (it writes none); sets rport, rpid, nport and, for
# goproxy, gport and gpid.
start() {
	local kind=$1 logs=$2 log_flags nginx_log realip=""
	if [ "$logs" = on ]; then
		log_flags="--access-log=true --log-level info"
		# Both batch their lines: the router writes its access log
		# every 64 KiB or 100 ms.
		nginx_log="access_log $work/nginx/logs/access.log combined buffer=64k flush=100ms;"
	else
		log_flags="--access-log=false --log-level warn"
		nginx_log="access_log off;"
	fi
	[ "$kind" = ip ] && realip="set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;"
	rport=$(freeport)
	# shellcheck disable=SC2046
	GOMAXPROCS=$WORKERS "$work/sessionkit" router --listen "127.0.0.1:$rport" --members "$members" \
		--admin 127.0.0.1:0 $(router_keys "$kind") $log_flags 2>>"$work/router.log" >/dev/null &
	rpid=$!
	proxy_pids+=($rpid)
	waitport "$rport"
	gport=""
	if [ -n "$GOPROXY" ] && [ "$logs" = off ]; then
		gport=$(freeport)
		GOMAXPROCS=$WORKERS "$work/goproxy" -listen "127.0.0.1:$gport" -backends "$backends" 2>>"$work/router.log" &
		gpid=$!
		proxy_pids+=($gpid)
		waitport "$gport"
	fi

	nport=$(freeport)
	rm -rf "$work/nginx"
	mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
	cat >"$work/nginx/nginx.conf" <<CONF
worker_processes $WORKERS;
pid $work/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  $nginx_log
  client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp; uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  upstream nodes {
    $(nginx_hash "$kind")
$(printf "%b" "$upstreams")    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$nport;
    keepalive_requests 1000000;
    $realip
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
	nginx_running=1
	waitport "$nport"
}
nginx_pids() { echo "$(cat "$work/nginx.pid") $(pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' ')"; }

# run NAME URL LUA PIDS...: prints "NAME rps p99ms cpu_s errors non2xx3xx"
run() {
	local name=$1 url=$2 script=$3
	shift 3
	local c0 c1 out
	c0=$(cpu_seconds "$@")
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$script" "$url" | grep '^RESULT')
	c1=$(cpu_seconds "$@")
	read -r _ rps p99 errs bad <<<"$out"
	echo "$name $rps $p99 $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }') $errs $bad"
}

# summarize KIND LOGS FILE WHO: from the "round name rps p99 cpu" lines of
# FILE, each round's WHO/nginx ratios (WHO: router or goproxy), then their
# medians and worst.
summarize() {
	awk -v kind="$1" -v logs="$2" -v dur="${DURATION%s}" -v who="$4" '
	function median(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ r = $1; if (r > rounds) rounds = r
	  if ($2 == "nginx") { nr[r] += $3; np[r] += $4; nc[r] += $5 } else if ($2 == who) { rr[r] += $3; rp[r] += $4; rc[r] += $5 } }
	END {
		for (r = 1; r <= rounds; r++) {
			t[r] = rr[r] / nr[r]; p[r] = rp[r] / np[r]; c[r] = (rr[r] / rc[r]) / (nr[r] / nc[r])
			printf "  round %d: " who " %.0f req/s p99 %.2f ms %.0f req/cpu-s; nginx %.0f req/s p99 %.2f ms %.0f req/cpu-s; ratios %.2f %.2f %.2f\n",
				r, rr[r] / 2, rp[r] / 2, rr[r] * dur / rc[r], nr[r] / 2, np[r] / 2, nr[r] * dur / nc[r], t[r], p[r], c[r]
			if (r == 1 || t[r] < wt) wt = t[r]
			if (r == 1 || p[r] > wp) wp = p[r]
			if (r == 1 || c[r] < wc) wc = c[r]
		}
		mt = median(t, rounds); mp = median(p, rounds); mc = median(c, rounds)
		printf "  median: throughput %.2f p99 %.2f per-core %.2f; worst round: throughput %.2f p99 %.2f per-core %.2f\n", mt, mp, mc, wt, wp, wc
		printf who "/nginx %s (logs %s): throughput %.2f p99 %.2f per-core %.2f\n", kind, logs, mt, mp, mc
	}' "$3"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; wrk -t$THREADS -c$CONNS -d$DURATION; $ROUNDS rounds of A B B A${GOPROXY:+ (A B C C B A with goproxy)}; WORKERS=$WORKERS"
lines=()
for logs in $LOGS; do
	for kind in $KINDS; do
		lua "$kind" >"$work/$kind.lua"
		start "$kind" "$logs"
		order="router nginx nginx router" contenders=router
		if [ -n "$gport" ]; then
			order="router goproxy nginx nginx goproxy router" contenders="router goproxy"
			wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$work/$kind.lua" "http://127.0.0.1:$gport/" >/dev/null
		fi
		wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$work/$kind.lua" "http://127.0.0.1:$rport/" >/dev/null
		wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$work/$kind.lua" "http://127.0.0.1:$nport/" >/dev/null
		: >"$work/runs"
		echo "$kind, logs $logs (name req/s p99-ms cpu-s errors non-2xx/3xx):"
		for r in $(seq "$ROUNDS"); do
			for who in $order; do
				case $who in
				router) line=$(run router "http://127.0.0.1:$rport/" "$work/$kind.lua" "$rpid") ;;
				goproxy) line=$(run goproxy "http://127.0.0.1:$gport/" "$work/$kind.lua" "$gpid") ;;
				# shellcheck disable=SC2046
				nginx) line=$(run nginx "http://127.0.0.1:$nport/" "$work/$kind.lua" $(nginx_pids)) ;;
				esac
				echo "  $r $line"
				echo "$r $line" >>"$work/runs"
			done
		done
		for c in $contenders; do
			summary=$(summarize "$kind" "$logs" "$work/runs" "$c")
			echo "$summary" | grep -v "^$c/nginx"
			lines+=("$(echo "$summary" | grep "^$c/nginx")")
		done
		stop_proxies
	done
done
echo
printf "%s\n" "${lines[@]}"
