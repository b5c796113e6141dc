#!/usr/bin/env bash
# cputime.sh: CPU time (user+system, every thread, GC included) per
# iteration of benchmarks, which a busy machine disturbs far less than wall
# time (it still inflates it: shared caches, frequency). Each benchmark runs in a process of its own for N iterations; the
# benchmarks are interleaved, ROUNDS times, and the median is reported with
# its ratio to the first benchmark named.
#
#   bench/cputime.sh [-n N] [-r ROUNDS] [-p PACKAGE-DIR] [-o OTHER-TREE] BENCH-REGEXP...
#   bench/cputime.sh -n 200000 -r 5 'BenchmarkRequest/bare$' 'BenchmarkRequest/sessionkit-mem$'
#   bench/cputime.sh -n 50000 -p cmd/internal/node 'ShopMix/baseline$' 'ShopMix/memory$'
#   bench/cputime.sh -o /tmp/before 'BenchmarkRequest/sessionkit-mem$'
#
# PACKAGE-DIR, relative to the repository's root, holds the benchmarks
# (default: bench). With -o, each benchmark also runs from OTHER-TREE (a
# checkout of another commit, such as a git worktree), just before this
# tree's in every round; its rows are marked "other".
set -euo pipefail
n=200000 rounds=5 pkg=bench other=""
while getopts n:r:p:o: o; do
	case $o in
	n) n=$OPTARG ;;
	r) rounds=$OPTARG ;;
	p) pkg=$OPTARG ;;
	o) other=$(cd "$OPTARG" && pwd) ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-n N] [-r ROUNDS] [-p PACKAGE-DIR] [-o OTHER-TREE] BENCH-REGEXP..." >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(cd "$(dirname "$0")/../$pkg" && go test -c -o "$dir/this.test" .)
specs=()
for b in "$@"; do
	if [ -n "$other" ]; then
		specs+=("other $b")
	fi
	specs+=("this $b")
done
if [ -n "$other" ]; then
	(cd "$other/$pkg" && go test -c -o "$dir/other.test" .)
fi
declare -A runs
for ((r = 0; r < rounds; r++)); do
	for spec in "${specs[@]}"; do
		bin=$dir/${spec%% *}.test b=${spec#* }
		# The children's utime+stime (fields 16 and 17 of our stat, in
		# clock ticks): N iterations, less a run of one for the start-up.
		t0=$(awk '{print $16+$17}' /proc/$$/stat)
		"$bin" -test.run '^$' -test.bench "$b" -test.benchtime "${n}x" -test.count 1 >/dev/null
		t1=$(awk '{print $16+$17}' /proc/$$/stat)
		"$bin" -test.run '^$' -test.bench "$b" -test.benchtime 1x -test.count 1 >/dev/null
		t2=$(awk '{print $16+$17}' /proc/$$/stat)
		runs[$spec]+="$(( (t1 - t0) - (t2 - t1) )) "
	done
done
hz=$(getconf CLK_TCK)
first=""
for spec in "${specs[@]}"; do
	med=$(tr ' ' '\n' <<<"${runs[$spec]}" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
	us=$(awk -v t="$med" -v hz="$hz" -v n="$n" 'BEGIN {printf "%.2f", t/hz*1e6/n}')
	[ -n "$first" ] || first=$us
	ratio=$(awk -v a="$us" -v b="$first" 'BEGIN {printf "%.2f", a/b}')
	label=${spec#* }
	[ -z "$other" ] || label="${spec%% *} $label"
	printf '%-56s %8s us CPU/op  %5sx  (ticks per round: %s)\n' "$label" "$us" "$ratio" "${runs[$spec]}"
done
