#!/usr/bin/env bash
# Runs every check and test of sessionkit, as `make test` and CI do.
# It installs what the tests need when it is missing (Debian packages) and
# starts every server itself, on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME=${FUZZTIME:-20000x} # a count, not a duration: a timed run can fail with "context deadline exceeded" on a loaded machine
export CI=${CI:-1} # every test that needs a program fails, not skips, when it is missing
export GOFLAGS=${GOFLAGS:--buildvcs=false}

started=$SECONDS
step() {
	local name=$1
	shift
	local t0=$SECONDS
	echo "== $name"
	"$@"
	echo "== $name: $((SECONDS - t0)) s"
}

# Every fuzz target, as package:target; each runs $FUZZTIME inputs.
FUZZ_TARGETS=(
	./internal/token:FuzzValid
	.:FuzzCodec
	.:FuzzCookieToken
	.:FuzzRequest
	./cookiestore:FuzzOpen
	./internal/redact:FuzzURL
	./internal/cli:FuzzParseCreateLimit
	./cookiestore:FuzzPayload
	./redisstore:FuzzField
	./sqlstore:FuzzValues
	./clusterstore:FuzzWire
	./router:FuzzParseHead
	./router:FuzzParseResponse
)

# Packages whose tests start processes or servers; they run one at a time
# against one prebuilt binary.
PROCESS_PKGS=./e2e/...

check_format() {
	local bad
	bad=$(gofmt -l .)
	if [ -n "$bad" ]; then
		echo "gofmt: these files need formatting:"
		echo "$bad"
		return 1
	fi
}

unit_tests() {
	# shellcheck disable=SC2046
	go test -race -count=1 -timeout 10m $(go list ./... | grep -v '/e2e')
	# The checks the race detector makes too slow or impossible (full-size
	# balance samples, zero allocations) run without it.
	go test -count=1 -timeout 5m ./ring/
}

fuzz() {
	for ft in "${FUZZ_TARGETS[@]}"; do
		go test -run '^$' -fuzz "^${ft#*:}\$" -fuzztime "$FUZZTIME" "${ft%%:*}"
	done
}

process_tests() {
	if ! ls e2e/*_test.go >/dev/null 2>&1; then
		echo "no process tests yet"
		return 0
	fi
	go build -o bin/sessionkit ./cmd/sessionkit
	SESSIONKIT_BIN=$PWD/bin/sessionkit go test -p 1 -count=1 -timeout 15m $PROCESS_PKGS
}

bench_compiles() {
	if [ -f bench/go.mod ]; then
		(cd bench && go vet ./... && go test -run '^$' -bench '^$' ./...)
	fi
}

step "install test dependencies" bash scripts/deps.sh
step "gofmt" check_format
step "go vet" go vet ./...
step "staticcheck" go run "$STATICCHECK" ./...
step "unit tests (race)" unit_tests
step "fuzz ($FUZZTIME inputs each)" fuzz
step "process tests" process_tests
step "bench module compiles" bench_compiles
echo "== all checks passed in $((SECONDS - started)) s"
