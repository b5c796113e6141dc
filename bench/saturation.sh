#!/usr/bin/env bash
# saturation.sh: what a session costs at saturation. For each strategy, a
# router and three shop nodes on loopback (sessionkit demo), 64 logged-in
# users, and wrk sending 80% GET /api/session and 20% cart writes (of
# which every eighth a checkout, so that carts stay small) through the
# router; the baseline is the same router before three shop nodes (the
# same server and middleware) serving the JSON API without sessions, a
# fixed view of the same size (cmd/internal/shop/baseline). Strategies are
# interleaved, ROUNDS times; medians are reported.
#
# The measure is CPU time per request (utime+stime from /proc/PID/stat,
# before and after the run) of the router, of the nodes together and of
# the store's own process (redis-server), which a busy machine disturbs far
# less than requests per second, also reported.
#
#   bench/saturation.sh [-r ROUNDS] [-d SECONDS] [-s "baseline memory sticky cluster redis cookie sql"]
#
# "memory" is sticky routing without the cluster store: each node keeps
# its sessions in its own memstore (sessionkit node --store memory), the
# router sends each token to the node that minted it; what is left of a
# session's cost without gossip, leases or a data plane. "work:DURATION"
# (work:3us) is the baseline with that much CPU work added to each
# request: what a known cost per request comes to at saturation here.
#
# Node settings are pinned: every process gets the same GOMAXPROCS (default
# 2, or $GOMAXPROCS) and GOGC (default 100, or $GOGC), and the demo's
# defaults (idle timeout, cluster k=1 with ack one, SQLite file). Needs wrk;
# the redis strategy needs redis-server.
set -euo pipefail
rounds=2 dur=15 strategies="baseline memory sticky cluster redis cookie sql"
while getopts r:d:s: o; do
	case $o in
	r) rounds=$OPTARG ;;
	d) dur=$OPTARG ;;
	s) strategies=$OPTARG ;;
	*) exit 2 ;;
	esac
done
command -v wrk >/dev/null || { echo "saturation.sh: wrk is not installed" >&2; exit 1; }
for s in $strategies; do
	if [[ $s == work:* && ! ${s#work:} =~ ^[0-9]+(\.[0-9]+)?(ns|us|µs|ms|s)$ ]]; then
		echo "saturation.sh: $s: the work is a duration, such as work:3us" >&2
		exit 2
	fi
done
export GOMAXPROCS=${GOMAXPROCS:-2} GOGC=${GOGC:-100}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap 'stop; rm -rf "$tmp"' EXIT
(cd "$root/cmd" && go build -o "$tmp/sessionkit" ./sessionkit && go build -o "$tmp/baseline" ./internal/shop/baseline)
hz=$(getconf CLK_TCK)

# freeport prints a free TCP port on loopback.
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ticks prints the utime+stime of the processes named, in clock ticks.
ticks() {
	local t=0 p
	for p in "$@"; do
		t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat")))
	done
	echo "$t"
}

# waitfor runs a command until it succeeds, for 60 seconds at most.
waitfor() {
	local deadline=$((SECONDS + 60))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || { echo "saturation.sh: timed out waiting for: $*" >&2; return 1; }
		sleep 0.2
	done
}

cat >"$tmp/mix.lua" <<'EOF'
-- 80% GET /api/session, 20% cart writes (every eighth write of a user a
-- checkout), spread over the users whose Cookie headers the file
-- $SATURATION_USERS lists, one a line.
local users, writes, i = {}, {}, 0
for line in io.lines(os.getenv("SATURATION_USERS")) do users[#users + 1] = line end
request = function()
	i = i + 1
	local u = i % #users + 1
	local h = { ["Cookie"] = users[u] }
	if i % 5 ~= 0 then
		return wrk.format("GET", "/api/session", h)
	end
	writes[u] = (writes[u] or 0) + 1
	h["Content-Type"] = "application/json"
	if writes[u] % 8 == 0 then
		return wrk.format("POST", "/api/checkout", h, "")
	end
	return wrk.format("POST", "/api/cart", h, '{"item":"book"}')
end
EOF

# run STRATEGY ROUND: one measured run; appends a line to $tmp/results.
run() {
	local s=$1 round=$2 port router nodes=() store=() url users=$tmp/users-$1
	port=$(freeport)
	url=http://127.0.0.1:$port
	if [ "$s" = baseline ] || [ "$s" = memory ] || [[ $s == work:* ]]; then
		local members="" i ports=()
		for i in 1 2 3; do
			ports+=("$(freeport)")
			members+="n$i=http://127.0.0.1:${ports[-1]} "
		done
		for i in 1 2 3; do
			if [ "$s" = baseline ]; then
				"$tmp/baseline" "n$i" "127.0.0.1:${ports[i - 1]}" 2>/dev/null &
			elif [[ $s == work:* ]]; then
				"$tmp/baseline" "n$i" "127.0.0.1:${ports[i - 1]}" "${s#work:}" 2>/dev/null &
			else
				"$tmp/sessionkit" node --name "n$i" --listen "127.0.0.1:${ports[i - 1]}" --dev --store memory --members "$members" --log-level warn >/dev/null 2>&1 &
			fi
			pids+=($!) nodes+=($!)
		done
		"$tmp/sessionkit" router --listen "127.0.0.1:$port" --members "$members" --health-path /readyz --health-interval 500ms --access-log=false >"$tmp/router.out" 2>"$tmp/router.log" &
		pids+=($!) router=$!
	else
		local args=(demo --strategy "$s" --listen "127.0.0.1:$port" --log-level warn)
		if [ "$s" = redis ]; then
			local rp
			rp=$(freeport)
			redis-server --port "$rp" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
			pids+=($!) store=($!)
			waitfor redis-cli -p "$rp" ping
			args+=(--redis "redis://127.0.0.1:$rp")
		fi
		"$tmp/sessionkit" "${args[@]}" >"$tmp/demo.out" 2>"$tmp/demo.log" &
		pids+=($!)
		waitfor grep -q '^admin:' "$tmp/demo.out"
		router=$(awk '/^router:/ {print $NF}' "$tmp/demo.out")
		mapfile -t nodes < <(awk '/^node / {print $NF}' "$tmp/demo.out")
	fi
	waitfor curl -fsS "$url/api/session"
	# 64 users, each logged in once; the baseline's cookies name no session.
	: >"$users"
	for i in $(seq 1 64); do
		if [ "$s" = baseline ] || [[ $s == work:* ]]; then
			echo "session=u$i" >>"$users"
			continue
		fi
		curl -fsS -o /dev/null -c "$tmp/jar" -H 'Content-Type: application/json' -d "{\"user\":\"u$i\"}" "$url/api/login"
		awk -F'\t' '!/^#/ || /^#HttpOnly_/ {if (NF >= 7) c = c (c ? "; " : "") $6 "=" $7} END {print c}' "$tmp/jar" >>"$users"
		rm -f "$tmp/jar"
	done
	SATURATION_USERS=$users wrk -t2 -c64 -d3s -s "$tmp/mix.lua" "$url" >/dev/null # warm-up
	local r0 n0 s0 r1 n1 s1 out
	r0=$(ticks "$router") n0=$(ticks "${nodes[@]}") s0=$( ((${#store[@]})) && ticks "${store[@]}" || echo 0)
	out=$(SATURATION_USERS=$users wrk -t2 -c64 -d"${dur}s" -s "$tmp/mix.lua" "$url")
	r1=$(ticks "$router") n1=$(ticks "${nodes[@]}") s1=$( ((${#store[@]})) && ticks "${store[@]}" || echo 0)
	local reqs rps bad
	reqs=$(awk '/requests in/ {print $1}' <<<"$out")
	rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	echo "$s $round $rps $reqs ${bad:-0} $((r1 - r0)) $((n1 - n0)) $((s1 - s0))" >>"$tmp/results"
	printf 'round %d %-9s %9.0f req/s  router %6.1f us  nodes %6.1f us  store %5.1f us  per request  (non-2xx %s)\n' \
		"$round" "$s" "$rps" \
		"$(awk -v t=$((r1 - r0)) -v n="$reqs" -v hz="$hz" 'BEGIN {print t/hz*1e6/n}')" \
		"$(awk -v t=$((n1 - n0)) -v n="$reqs" -v hz="$hz" 'BEGIN {print t/hz*1e6/n}')" \
		"$(awk -v t=$((s1 - s0)) -v n="$reqs" -v hz="$hz" 'BEGIN {print t/hz*1e6/n}')" "${bad:-0}"
	stop
}

for ((round = 1; round <= rounds; round++)); do
	for s in $strategies; do
		run "$s" "$round"
	done
done

echo
echo "medians of $rounds rounds, ${dur}s each, GOMAXPROCS=$GOMAXPROCS:"
printf '%-9s %9s %7s %12s %12s %12s %14s\n' strategy "req/s" ratio "router us" "node us" "store us" "node over base"
awk -v hz="$hz" -v order="$strategies" '
function median(list,   a, n) { n = split(list, a, " "); asort(a); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
{
	us = 1e6 / hz / $4
	rps[$1] = rps[$1] " " $3; ro[$1] = ro[$1] " " $6 * us; no[$1] = no[$1] " " $7 * us; st[$1] = st[$1] " " $8 * us
}
END {
	n = split(order, names, " ")
	for (i = 1; i <= n; i++) {
		s = names[i]
		if (!(s in rps)) continue
		r = median(rps[s]); nu = median(no[s])
		if (s == "baseline") { br = r; bn = nu }
		printf "%-9s %9.0f %6.2fx %12.1f %12.1f %12.1f %14s\n", s, r, br ? r / br : 1, median(ro[s]), nu, median(st[s]), (s == "baseline" || !bn) ? "" : sprintf("%+.1f us", nu - bn)
	}
}' "$tmp/results"
