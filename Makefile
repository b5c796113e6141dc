# sessionkit's two commands: `go run ./cmd/sessionkit demo` runs the demo,
# `make test` runs every check and test.

.PHONY: test build bench clean image partition-test

# make image builds the container image (Containerfile) with podman, or
# docker when podman is missing: ENGINE=docker to choose, IMAGE to name
# it, ENGINE_FLAGS for the engine's global flags (e.g. --storage-driver
# vfs), BUILD_FLAGS for its build's (e.g. --isolation chroot), BIN for a
# static binary already built (CGO_ENABLED=0) instead of building one.
ENGINE ?= $(shell command -v podman || command -v docker)
IMAGE ?= localhost/sessionkit:latest
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
BIN ?=

test:
	bash scripts/test.sh

# make partition-test runs ROUNDS full rounds of every nemesis of
# cmd/e2e/partition_test.go (faults of 5 to 15 s) against a cluster of
# three nodes for each number of backups in BACKUPS (NEMESES: only those
# named, comma-separated), and prints a table per
# nemesis; ROUNDS 12 s isolations of one node, the round that found a
# node alone in its view serving old copies; and ROUNDS rounds of Redis
# Sentinel cut off from its clients
# (cmd/e2e/sentinel_partition_test.go), with and without WaitReplicas.
# It needs root, iproute2 and nftables.
ROUNDS ?= 5
BACKUPS ?= 0,1,2
NEMESES ?=
partition-test:
	bash scripts/deps.sh
	(cd cmd && CGO_ENABLED=0 go build -o ../bin/sessionkit ./sessionkit)
	cd cmd && ROUNDS=$(ROUNDS) SESSIONKIT_BIN=$(CURDIR)/bin/sessionkit CI=1 go test -count=1 -timeout 0 -run '^(TestPartitions|TestPartitionShortIsolation|TestSentinelPartition)$$' -v ./e2e/ \
		-args -partition.rounds=$(ROUNDS) -partition.backups=$(BACKUPS) -partition.nemeses=$(NEMESES)

build:
	go build -o bin/sessionkit ./cmd/sessionkit

bench:
	cd bench && go test -run '^$$' -bench . -skip BytesPerSession -count 10 ./... | tee bench.txt

image:
	@test -n "$(ENGINE)" || { echo "make image needs podman or docker"; exit 1; }
	mkdir -p bin/image
ifeq ($(BIN),)
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/image/sessionkit ./cmd/sessionkit
else
	cp $(BIN) bin/image/sessionkit
endif
	cp $(CA_BUNDLE) bin/image/ca-certificates.crt
	cp deploy/image/passwd deploy/image/group bin/image/
	$(ENGINE) $(ENGINE_FLAGS) build $(BUILD_FLAGS) -f Containerfile -t $(IMAGE) bin/image

clean:
	rm -rf bin
