# sessionkit's two commands: `go run ./cmd/sessionkit demo` runs the demo,
# `make test` runs every check and test.

.PHONY: test build bench clean

test:
	bash scripts/test.sh

build:
	go build -o bin/sessionkit ./cmd/sessionkit

bench:
	cd bench && go test -run '^$$' -bench . -count 10 ./... | tee bench.txt

clean:
	rm -rf bin
