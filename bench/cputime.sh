#!/usr/bin/env bash
# cputime.sh: CPU time (user+system, every thread, GC included) per
# iteration of benchmarks, which a busy machine disturbs far less than wall
# time (it still inflates it: shared caches, frequency). Each benchmark runs in a process of its own for N iterations; the
# benchmarks are interleaved, ROUNDS times, and the median is reported with
# its ratio to the first benchmark named.
#
#   bench/cputime.sh [-n N] [-r ROUNDS] [-p PACKAGE-DIR] BENCH-REGEXP...
#   bench/cputime.sh -n 200000 -r 5 'BenchmarkRequest/bare$' 'BenchmarkRequest/sessionkit-mem$'
#   bench/cputime.sh -n 50000 -p cmd/internal/node 'ShopMix/baseline$' 'ShopMix/memory$'
#
# PACKAGE-DIR, relative to the repository's root, holds the benchmarks
# (default: bench).
set -euo pipefail
n=200000 rounds=5 pkg=bench
while getopts n:r:p: o; do
	case $o in
	n) n=$OPTARG ;;
	r) rounds=$OPTARG ;;
	p) pkg=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-n N] [-r ROUNDS] [-p PACKAGE-DIR] BENCH-REGEXP..." >&2; exit 2; }
cd "$(dirname "$0")/../$pkg"
bin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" .
declare -A runs
for ((r = 0; r < rounds; r++)); do
	for b in "$@"; do
		# The children's utime+stime (fields 16 and 17 of our stat, in
		# clock ticks): N iterations, less a run of one for the start-up.
		t0=$(awk '{print $16+$17}' /proc/$$/stat)
		"$bin" -test.run '^$' -test.bench "$b" -test.benchtime "${n}x" -test.count 1 >/dev/null
		t1=$(awk '{print $16+$17}' /proc/$$/stat)
		"$bin" -test.run '^$' -test.bench "$b" -test.benchtime 1x -test.count 1 >/dev/null
		t2=$(awk '{print $16+$17}' /proc/$$/stat)
		runs[$b]+="$(( (t1 - t0) - (t2 - t1) )) "
	done
done
hz=$(getconf CLK_TCK)
first=""
for b in "$@"; do
	med=$(tr ' ' '\n' <<<"${runs[$b]}" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
	us=$(awk -v t="$med" -v hz="$hz" -v n="$n" 'BEGIN {printf "%.2f", t/hz*1e6/n}')
	[ -n "$first" ] || first=$us
	ratio=$(awk -v a="$us" -v b="$first" 'BEGIN {printf "%.2f", a/b}')
	printf '%-50s %8s us CPU/op  %5sx  (ticks per round: %s)\n' "$b" "$us" "$ratio" "${runs[$b]}"
done
