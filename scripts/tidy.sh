#!/usr/bin/env bash
# Tidies every module of the workspace. The modules require one another at
# the placeholder version v0.0.0-00010101000000-000000000000, which exists
# nowhere: for the length of `go mod tidy`, each module replaces the others
# with their folders, as go.work does. Only the tools (cmd) and benchmark
# (bench) modules keep those replace lines; a library module must not.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t dirs < <(go list -m -f '{{.Dir}}' | sed "s|^$PWD|.|")
keep() { [ "$1" = ./cmd ] || [ "$1" = ./bench ]; }

for dir in "${dirs[@]}"; do
	args=()
	for other in "${dirs[@]}"; do
		[ "$other" = "$dir" ] && continue
		[ "$other" = ./cmd ] || [ "$other" = ./bench ] && continue
		path=$(cd "$other" && GOWORK=off go list -m)
		rel=$(realpath --relative-to="$dir" "$other")
		[[ $rel == ..* ]] || rel=./$rel
		args+=("-replace=$path=$rel")
	done
	(
		cd "$dir"
		[ ${#args[@]} -gt 0 ] && go mod edit "${args[@]}"
		# -e for bench: a peer's own tests import a module the proxy no
		# longer serves (stathat.com/c/consistent), which tidy loads.
		e=()
		[ "$dir" = ./bench ] && e=(-e)
		status=0
		GOWORK=off GOFLAGS=-mod=mod go mod tidy "${e[@]}" || status=$?
		if ! keep "$dir"; then
			for a in "${args[@]}"; do
				p=${a#-replace=}
				go mod edit -dropreplace="${p%%=*}"
			done
		else
			# Keep the replace lines of the modules it requires.
			for a in "${args[@]}"; do
				p=${a#-replace=}
				p=${p%%=*}
				grep -qE "^\s*(require\s+)?$p v" go.mod || go mod edit -dropreplace="$p"
			done
		fi
		[ "$status" -eq 0 ] || exit "$status"
		echo "tidied $dir"
	)
done
