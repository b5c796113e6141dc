#!/usr/bin/env bash
# Runs every check and test of sessionkit, as `make test` and CI do, in
# every module of the workspace (go.work): the core at the root, one module
# per store that brings a dependency, the router, prom, the tools (cmd) and
# the benchmarks (bench). It installs what the tests need when it is missing
# (Debian packages) and starts every server itself, on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME=${FUZZTIME:-20000x} # a count, not a duration: a timed run can fail with "context deadline exceeded" on a loaded machine
export CI=${CI:-1} # every test that needs a program fails, not skips, when it is missing
export GOFLAGS=${GOFLAGS:--buildvcs=false}
export GOWORK=$PWD/go.work # every module, whatever the caller's environment says

# The workspace's modules, as folders: ./ for the core.
mapfile -t MODULES < <(go list -m -f '{{.Dir}}' | sed "s|^$PWD|.|; s|^\.$|./|")
if [ "${#MODULES[@]}" -ne "$(go work edit -json | grep -c '"DiskPath"')" ]; then
	echo "go list -m found ${#MODULES[@]} modules, go.work uses more"
	exit 1
fi
# bench only compiles here: its benchmarks are run by `make bench`.
LIB_MODULES=()
for m in "${MODULES[@]}"; do [ "$m" = ./bench ] || LIB_MODULES+=("$m"); done

started=$SECONDS
step() {
	local name=$1
	shift
	local t0=$SECONDS
	echo "== $name"
	"$@"
	echo "== $name: $((SECONDS - t0)) s"
}

# in_modules runs a command in the folder of every module given.
in_modules() {
	local m
	for m in "${MODULES[@]}"; do
		(cd "$m" && "$@") || { echo "failed in module $m"; return 1; }
	done
}

check_format() {
	local bad
	bad=$(gofmt -l .)
	if [ -n "$bad" ]; then
		echo "gofmt: these files need formatting:"
		echo "$bad"
		return 1
	fi
}

staticcheck() {
	GOBIN=$PWD/bin GOFLAGS= go install "$STATICCHECK"
	in_modules "$PWD/bin/staticcheck" ./...
}

# unit_tests runs every module's tests with the race detector, all but the
# process tests (e2e), and fails if a module has no test to run. One go test
# for them all, from the workspace, builds and runs packages of different
# modules side by side.
unit_tests() {
	local m list pkgs tested all=()
	for m in "${LIB_MODULES[@]}"; do
		list=$(cd "$m" && go list ./...)
		mapfile -t pkgs < <(grep -v '/e2e$' <<<"$list")
		tested=$(cd "$m" && go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' "${pkgs[@]}")
		echo "module $m: ${#pkgs[@]} packages, $(wc -w <<<"$tested") with tests"
		if [ -z "$tested" ]; then
			echo "module $m has no tests"
			return 1
		fi
		all+=("${pkgs[@]}")
	done
	go test -race -count=1 -timeout 10m "${all[@]}"
	# The checks the race detector makes too slow or impossible (full-size
	# balance samples, zero allocations in ring and memstore) run without it.
	go test -count=1 -timeout 5m ./ring/ ./memstore/
}

# fuzz runs every fuzz target of every module, $FUZZTIME inputs each.
fuzz() {
	local file dir target n=0
	while IFS= read -r file; do
		dir=$(dirname "$file")
		for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
			go test -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" "$dir"
			n=$((n + 1))
		done
	done < <(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./bench/' | sort)
	echo "$n fuzz targets"
	[ "$n" -gt 0 ]
}

# process_tests runs the tests that start processes and servers, one
# package at a time, against one prebuilt binary: static, as the
# container image's (TestImage puts this one in it).
process_tests() {
	(cd cmd && CGO_ENABLED=0 go build -o ../bin/sessionkit ./sessionkit)
	(cd cmd && SESSIONKIT_BIN=$PWD/../bin/sessionkit go test -p 1 -count=1 -timeout 15m ./e2e/...)
}

bench_compiles() {
	(cd bench && go test -run '^$' -bench '^$' ./...)
}

step "install test dependencies" bash scripts/deps.sh
echo "modules: ${MODULES[*]}"
step "gofmt" check_format
step "go vet" in_modules go vet ./...
step "staticcheck" staticcheck
step "unit tests (race)" unit_tests
step "fuzz ($FUZZTIME inputs each)" fuzz
step "process tests" process_tests
step "bench module compiles" bench_compiles
echo "== all checks passed in $((SECONDS - started)) s"
