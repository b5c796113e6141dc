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
# checkout of another commit, such as a git worktree), beside this tree's
# in every round, the two in turns first; its rows are marked "other",
# and each tree's ratios are to its own first benchmark.
set -euo pipefail
n=200000 rounds=5 pkg=bench other=""
while getopts n:r:p:o: o; do
	case $o in
	n) n=$OPTARG ;;
	r) rounds=$OPTARG ;;
	p) pkg=$OPTARG ;;
	o) other=$(CDPATH='' cd -- "$OPTARG" >/dev/null && pwd) ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-n N] [-r ROUNDS] [-p PACKAGE-DIR] [-o OTHER-TREE] BENCH-REGEXP..." >&2; exit 2; }
this=$(CDPATH='' cd -- "$(dirname "$0")/.." >/dev/null && pwd)
bins=$(mktemp -d)
trap 'rm -rf "$bins"' EXIT
trees=(this)
[ -z "$other" ] || trees=(other this)
declare -A root=([this]=$this [other]=$other)
for t in "${trees[@]}"; do
	(cd "${root[$t]}/$pkg" && go test -c -o "$bins/$t.test" .)
done
declare -A runs
for ((r = 0; r < rounds; r++)); do
	order=("${trees[@]}")
	((r % 2 == 0)) || order=("${trees[@]:1}" "${trees[0]}")
	for b in "$@"; do
		for t in "${order[@]}"; do
			# The children's utime+stime (fields 16 and 17 of our stat,
			# in clock ticks; a subshell's count once it is reaped): N
			# iterations, less a run of one for the start-up. Each runs
			# in its package's folder, as go test runs it.
			t0=$(awk '{print $16+$17}' /proc/$$/stat)
			(cd "${root[$t]}/$pkg" && "$bins/$t.test" -test.run '^$' -test.bench "$b" -test.benchtime "${n}x" -test.count 1 >/dev/null)
			t1=$(awk '{print $16+$17}' /proc/$$/stat)
			(cd "${root[$t]}/$pkg" && "$bins/$t.test" -test.run '^$' -test.bench "$b" -test.benchtime 1x -test.count 1 >/dev/null)
			t2=$(awk '{print $16+$17}' /proc/$$/stat)
			runs[$t $b]+="$(((t1 - t0) - (t2 - t1))) "
		done
	done
done
hz=$(getconf CLK_TCK)
declare -A first
for b in "$@"; do
	for t in "${trees[@]}"; do
		med=$(tr ' ' '\n' <<<"${runs[$t $b]}" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
		us=$(awk -v t="$med" -v hz="$hz" -v n="$n" 'BEGIN {printf "%.2f", t/hz*1e6/n}')
		[ -n "${first[$t]:-}" ] || first[$t]=$us
		ratio=$(awk -v a="$us" -v b="${first[$t]}" 'BEGIN {printf "%.2f", a/b}')
		label=$b
		[ -z "$other" ] || label="$t $b"
		printf '%-56s %8s us CPU/op  %5sx  (ticks per round: %s)\n' "$label" "$us" "$ratio" "${runs[$t $b]}"
	done
done
