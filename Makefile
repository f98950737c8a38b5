# gpumeter — see README.md. `make demo` and `make test` set up what they need.
LIBCHDB_VERSION := 26.7.3-stable.1
CACHE_HOME      ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)
LIBCHDB_DIR     := $(CACHE_HOME)/gpumeter/libchdb/$(LIBCHDB_VERSION)
LIBCHDB         := $(LIBCHDB_DIR)/libchdb.so
export CHDB_LIB_PATH ?= $(LIBCHDB)

GO ?= go
# go-nvml's header marks functions gpumeter never calls as deprecated.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

.PHONY: all build libchdb clickhouse-server chromium prometheus test fuzz bench demo render clean

all: build

build:
	$(GO) build -o bin/gpumeter ./cmd/gpumeter

## libchdb: fetch the embedded ClickHouse engine into the cache (once)
libchdb:
	@if [ "$(CHDB_LIB_PATH)" != "$(LIBCHDB)" ]; then test -f "$(CHDB_LIB_PATH)" || { echo "CHDB_LIB_PATH=$(CHDB_LIB_PATH) does not exist" >&2; exit 1; }; \
	else scripts/fetch-libchdb.sh $(LIBCHDB_VERSION) $(LIBCHDB_DIR); fi

## clickhouse-server: install Debian's clickhouse-server and zookeeper (for the
## cluster test) where this user may
clickhouse-server:
	@scripts/clickhouse-server.sh install
	@scripts/zookeeper.sh install

## chromium: install Debian's chromium and fonts-nanum (the dashboard's browser
## test) where this user may
chromium:
	@scripts/chromium.sh

## prometheus: install Debian's prometheus (the remote-write test's sender)
## where this user may
prometheus:
	@scripts/prometheus.sh

## test: the whole suite, on the embedded engine and a private clickhouse-server,
## the dashboard in a headless Chromium, Prometheus remote-writing to gpumeter,
## then every fuzz target for a few seconds
test: libchdb clickhouse-server chromium prometheus
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...
	scripts/fuzz.sh 3s

## fuzz: every fuzz target for FUZZTIME (default 10 minutes each)
FUZZTIME ?= 10m
fuzz: libchdb
	scripts/fuzz.sh $(FUZZTIME)

## bench: import and storage figures on both backends
bench: libchdb clickhouse-server build
	$(GO) run ./internal/bench

## demo: simulate last month for the fleet at a small scale, write out/nipa-YYYY-MM.xlsx
## (DEMO_FLAGS="--scale 1" for the full fleet)
demo: libchdb build
	./bin/gpumeter demo $(DEMO_FLAGS)

## render: PDF and PNG pages of every workbook in out/ (LibreOffice headless)
render:
	@for f in out/*.xlsx; do scripts/render-workbook.sh "$$f" out/render; done

clean:
	rm -rf bin out data
