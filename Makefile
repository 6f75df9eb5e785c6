# secrun — see README.md. `make demo` and `make test` set up a fresh
# Debian/Ubuntu machine themselves (as root).
PREFIX  ?= /usr/local
DESTDIR ?=
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all build deps demo test unit integration fuzz vet install clean bench

all: build

# Two static binaries. bin/secrun, the wrapper containerd runs for every
# create, state, kill and delete, is pure Go (no cgo, no libc start-up, fewer
# packages to initialise): start-up is most of its cost. bin/secrun-tools
# links libseccomp (cgo, static: it runs on nodes without libseccomp's shared
# library) and every tool; secrun hands the tool commands to it.
VERSION_FLAG = -X github.com/secrun/secrun/shim.Version=$(VERSION)
WRAPPER_FLAGS = -trimpath -ldflags '$(VERSION_FLAG)'
TOOLS_FLAGS = -trimpath -tags netgo,osusergo -ldflags '-linkmode external -extldflags "-static" $(VERSION_FLAG)'

build:
	CGO_ENABLED=0 $(GO) build $(WRAPPER_FLAGS) -o bin/secrun ./cmd/secrun
	CGO_ENABLED=1 $(GO) build $(TOOLS_FLAGS) -o bin/secrun-tools ./cmd/secrun-tools

deps:
	bash script/install-deps.sh

demo: deps build
	bash script/demo.sh

vet:
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /integration)

# Real containers through runc 1.1, runc 1.5 and crun. SECRUN_INTEGRATION=1
# turns a missing runtime into a failure rather than a skip.
integration: SHELL := /bin/bash
integration: build
	SECRUN_BIN=$(CURDIR)/bin/secrun SECRUN_INTEGRATION=1 $(GO) test -count=1 -timeout 45m -v ./integration/ 2>&1 | grep -E '^(=== RUN|--- |\s+--- |ok|FAIL|PASS|panic|\s+\S+_test.go)' ; exit $${PIPESTATUS[0]}

# Every fuzz target, FUZZTIME each: a short seeded run in `make test`, longer
# by hand (`make fuzz FUZZTIME=10m`). Crashers land in testdata/fuzz and
# then run as ordinary tests. A run that fails with nothing but "context
# deadline exceeded" and writes no input is Go 1.26's coordinator race at the
# -fuzztime boundary (go.dev/issue/75804, fixed in Go 1.27): it is run again
# once; any real finding writes its input and fails.
FUZZTIME ?= 8s
FUZZ_TARGETS = ./shim:FuzzParse ./spec:FuzzApplyConfig ./config:FuzzLoad ./setup:FuzzRoundTrip \
	./profiles/apparmorgen:FuzzGeneratePolicy ./profiles/apparmorgen:FuzzGlob
fuzz: SHELL := /bin/bash
fuzz:
	@mkdir -p bin; set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		for try in 1 2; do \
			if $(GO) test -run XXX -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg > bin/fuzz.log 2>&1; then break; fi; \
			if [ $$try = 1 ] && grep -q 'context deadline exceeded' bin/fuzz.log && ! grep -q 'Failing input written' bin/fuzz.log; then \
				echo "fuzz $$pkg $$fn: the -fuzztime deadline race (go.dev/issue/75804), no input written: running it again"; continue; fi; \
			grep -v '^ *{' bin/fuzz.log | cut -c1-400 | tail -30; exit 1; \
		done; tail -1 bin/fuzz.log; \
	done

test: SHELL := /bin/bash
test: deps vet unit integration fuzz

# Benchmarks (as root, on a quiet machine): secrun next to runc 1.1, runc 1.5
# and crun, measured side by side in one run. Writes bench/results.md;
# asserts nothing about timings. bin/goexec (bench/goexec) is a Go program
# that only execs, built like bin/secrun: the floor any Go wrapper pays;
# bin/specexec (bench/specexec) also decodes and rewrites config.json with
# secrun's JSON library, without policy: the floor of rewriting the spec.
# BENCH_BASELINE=REV also builds the wrapper at git revision REV and measures
# it in the same run, interleaved with this build ("This build against the
# baseline build" in the results).
BENCH_N        ?= 50
BENCH_FLAGS    ?=
BENCH_BASELINE ?=
bench: build
	CGO_ENABLED=0 $(GO) build -o bin/goexec ./bench/goexec
	CGO_ENABLED=0 $(GO) build -o bin/specexec ./bench/specexec
	$(if $(BENCH_BASELINE),rm -rf bin/baseline-src && mkdir -p bin/baseline-src && git archive $(BENCH_BASELINE) | tar -x -C bin/baseline-src && (cd bin/baseline-src && CGO_ENABLED=0 $(GO) build -trimpath -o ../secrun-baseline ./cmd/secrun) && rm -rf bin/baseline-src)
	gcc -static -O2 -o bin/syscall_loop bench/syscall_loop.c
	gcc -static -O2 -o bin/maxrss bench/maxrss.c
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./bench/gobench/ > bin/bench-go.txt || { cat bin/bench-go.txt; exit 1; }
	$(GO) run ./bench/cmd/secrun-bench -secrun bin/secrun -goexec bin/goexec -specexec bin/specexec -loop bin/syscall_loop -maxrss bin/maxrss \
		-gobench bin/bench-go.txt -n $(BENCH_N) -out bench/results.md \
		$(if $(BENCH_BASELINE),-baseline bin/secrun-baseline -baseline-name $(BENCH_BASELINE)) $(BENCH_FLAGS)

install: build
	install -D -m 0755 bin/secrun $(DESTDIR)$(PREFIX)/bin/secrun
	install -D -m 0755 bin/secrun-tools $(DESTDIR)$(PREFIX)/bin/secrun-tools
	install -d -m 0755 $(DESTDIR)/etc/secrun/profiles
	test -e $(DESTDIR)/etc/secrun/config.toml || install -m 0644 deploy/config.toml $(DESTDIR)/etc/secrun/config.toml
	install -d -m 0755 $(DESTDIR)/etc/apparmor.d $(DESTDIR)/etc/systemd/system
	bin/secrun apparmor default > $(DESTDIR)/etc/apparmor.d/secrun-default
	install -m 0644 deploy/secrun-monitor.service $(DESTDIR)/etc/systemd/system/secrun-monitor.service

clean:
	rm -rf bin
