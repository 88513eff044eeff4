# fleetwatch — `make run` starts it, `make test` tests everything.
GO       ?= go
BIN      := bin/fleetwatch
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X github.com/fleetwatch/fleetwatch/internal/buildinfo.Version=$(VERSION) \
            -X github.com/fleetwatch/fleetwatch/internal/buildinfo.Revision=$(REVISION) \
            -X github.com/fleetwatch/fleetwatch/internal/buildinfo.BuildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)

# Packages with goroutines of their own run under the race detector; the
# rest run once without it (a race build of everything would double CI time).
RACE_PKGS := ./collectors/... ./pipeline/... ./app/... ./rules/... ./cmd/... ./alerter/... ./simulate/... \
             ./postmortem/... ./web/...
# Debian packages of the peers the integration tests run against.
PEER_PKGS := prometheus prometheus-node-exporter prometheus-alertmanager prometheus-snmp-exporter \
             snmpd snmp snmpsim postgresql chromium victoria-metrics nodejs zip
PEER_BINS := prometheus promtool prometheus-node-exporter prometheus-alertmanager prometheus-snmp-exporter \
             snmpd snmpwalk snmptrap snmpsimd /usr/lib/postgresql/15/bin/postgres chromium victoria-metrics node zip

.PHONY: all build run test test-unit deps check bench fuzz clean plugin

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/fleetwatch

run: build
	./$(BIN) serve --config.file=examples/fleetwatch.yml

# Installs the peers from Debian's packages when one is missing; quiet and
# quick when all are there.
deps:
	@missing=""; for b in $(PEER_BINS); do command -v $$b >/dev/null 2>&1 || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing peers ($$missing )"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(PEER_PKGS) >/dev/null; \
	fi

test: deps
	$(GO) vet ./...
	$(GO) test -race -timeout 20m $(RACE_PKGS)
	$(GO) test -timeout 20m $$($(GO) list ./... | grep -v -E '/(collectors|pipeline|app|rules|cmd|alerter|simulate|postmortem|web)(/|$$)')

# Everything a change should pass before review.
check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) mod tidy -diff

bench:
	$(GO) test -run XXX -bench . -benchmem ./pipeline/ ./collectors/... ./rules/...

# Short fuzzing of every parser: FUZZTIME=5m make fuzz for longer.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime $(FUZZTIME) ./config
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime $(FUZZTIME) ./inventory
	$(GO) test -run XXX -fuzz FuzzPostBodies -fuzztime $(FUZZTIME) ./test/hostile

# The Grafana data source plugin as the zip Grafana installs (docs/grafana.md).
plugin:
	plugins/fleetwatch-datasource/package.sh bin

clean:
	rm -rf bin
