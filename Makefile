# Two commands for a new user: `make run` (the service on embedded defaults)
# and `make test` (everything CI runs). See README.md.

SHELL := /bin/bash
GO ?= go
BIN := bin/leaderboard
LIBCHDB = $(shell scripts/libchdb.sh)
TEST_TIMEOUT ?= 20m
FUZZTIME ?= 10s

.PHONY: all build build-server run demo test fuzz vet fmt-check unit libchdb clean help

all: build

help:
	@echo "make run        run the service on embedded Kafka + ClickHouse (migrates first)"
	@echo "make test       vet, gofmt check and every test (race detector, real Valkey, chDB, kfake)"
	@echo "make demo       run the service fed by loadgen, printing a live top 10"
	@echo "make build      build $(BIN) with embedded chDB support (-tags chdb)"
	@echo "make build-server  build bin/leaderboard-server without chDB (server mode only)"

libchdb:
	@scripts/libchdb.sh >/dev/null

build: libchdb
	$(GO) build -tags chdb -o $(BIN) ./cmd/leaderboard

build-server:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/leaderboard-server ./cmd/leaderboard

run: build
	CHDB_LIB_PATH=$(LIBCHDB) ./$(BIN) migrate up
	CHDB_LIB_PATH=$(LIBCHDB) exec ./$(BIN) serve

# The service fed by loadgen, printing a live top 10 until interrupted.
demo: build
	scripts/demo.sh

vet:
	$(GO) vet ./...
	$(GO) vet -tags chdb ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

test: libchdb vet fmt-check
	CHDB_LIB_PATH=$(LIBCHDB) $(GO) test -race -tags chdb -timeout $(TEST_TIMEOUT) -count=1 ./...
	$(MAKE) --no-print-directory fuzz

# Fuzzing with a fixed budget (seed corpora are in the tests): event decoding
# and every query parameter parser; a failure is saved under testdata/fuzz.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseEvent$$' -fuzztime $(FUZZTIME) ./internal/leaderboard
	$(GO) test -run '^$$' -fuzz '^FuzzQueryParams$$' -fuzztime $(FUZZTIME) ./internal/api

# Unit tests only: no chDB, quick.
unit:
	$(GO) test -race -count=1 ./...

clean:
	rm -rf bin data
