# chanlb: `make run` and `make test` do all the set-up on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := run

LISTEN        ?= 0.0.0.0:8080
ADMIN         ?= 127.0.0.1:9901
BACKEND_PORTS ?= 9001 9002 9003
comma         := ,
BACKENDS      ?= $(subst $() $(),$(comma),$(addprefix 127.0.0.1:,$(BACKEND_PORTS)))
RUN_DIR       := .run
STAMP         := node_modules/.package-lock.json
# dist/ is up to date when this is newer than every source, their directories (a file added or
# removed), tsconfig.json and the installed packages: then make does not start tsc at all.
BUILD_STAMP   := dist/.build-stamp
SOURCES       := $(shell find src test bench backends native-free -name '*.ts')

.PHONY: run start_backend stop_backend test build bench cpu compare policies scale failover edge profile memory storm load_test clean install

# npm ci only when the lock file changed since the last install.
$(STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(STAMP)

build: $(BUILD_STAMP)

$(BUILD_STAMP): $(SOURCES) $(sort $(dir $(SOURCES))) tsconfig.json $(STAMP)
	@echo "compiling TypeScript (the first build takes 5-40 s; later ones run only when a source changed)..."
	@npx tsc -p tsconfig.json
	@# tsc never deletes: a compiled file (and its map) whose source is gone (moved, renamed,
	@# deleted) is removed, so uvu never runs a stale test and npm pack never ships a stale file.
	@find dist -name '*.js' | while read -r f; do \
	  s=$${f#dist/}; [ -f "$${s%.js}.ts" ] || rm -f "$$f" "$$f.map"; \
	done; find dist -type d -empty -delete
	@touch $@

# Demo backends answering "Hello from N" on BACKEND_PORTS, each confirmed listening (or make fails
# naming the port, with those already started stopped); their pids and logs go to .run/.
start_backend: build
	@bash backends/demo.sh start $(RUN_DIR) $(BACKEND_PORTS)

# Stops exactly the pids start_backend recorded.
stop_backend:
	@bash backends/demo.sh stop $(RUN_DIR)

# Backends in the background, the proxy in the foreground; Ctrl-C stops both.
run: start_backend
	@trap 'bash backends/demo.sh stop $(RUN_DIR)' EXIT; \
	node dist/src/main.js --listen $(LISTEN) --backend $(BACKENDS) --admin $(ADMIN)

# Every uvu suite under dist/test (unit/ and e2e/), then one closing line "N passed, N failed" from uvu's totals.
test: build
	node dist/native-free/check.js
	@mkdir -p $(RUN_DIR)
	@node node_modules/uvu/bin.js dist/test '\.test\.js$$' --no-color 2>&1 | tee $(RUN_DIR)/test.log; \
	status=$${PIPESTATUS[0]}; \
	total=$$(sed -n 's/^ *Total: *\([0-9]*\).*/\1/p' $(RUN_DIR)/test.log | tail -1); \
	passed=$$(sed -n 's/^ *Passed: *\([0-9]*\).*/\1/p' $(RUN_DIR)/test.log | tail -1); \
	skipped=$$(sed -n 's/^ *Skipped: *\([0-9]*\).*/\1/p' $(RUN_DIR)/test.log | tail -1); \
	if [ -z "$$total" ]; then echo "0 passed, 1 failed"; exit 1; fi; \
	echo "$$passed passed, $$((total - passed - skipped)) failed"; \
	exit $$status

# Micro-benchmarks (bench/micro/*.bench.ts): one table per bench, JSON to bench/results/.
# make bench ARGS='head parser --compare bench/results/micro-....json'
bench: build
	node dist/bench/micro/run.js $(ARGS)

# The proxy's own CPU and allocation per request in process (no kernel), this build against another
# build's dist/ and an A/A copy, interleaved: make cpu ARGS='--baseline ../base/dist --control'
# (a baseline: git worktree add ../base HEAD~1 && make -C ../base build).
cpu: build
	node dist/bench/micro/cpu.js $(ARGS)

# The same load straight to a backend, through chanlb, nginx, HAProxy and a node:http+undici proxy.
# make compare ARGS='--duration 5s --rounds 2 --tool ab --only chanlb,nginx'
# 1 against 1 and 2 against 2 worker processes, proxy and load on separate cores:
# make compare ARGS='--only chanlb,nginx --workers 1,2 --control chanlb:2 --pin-proxy 0 --pin-load 1'
compare: build
	node dist/bench/load/compare.js $(ARGS)

# Least-pending heap against round robin and p2c over backends with uneven, changing latencies,
# with one worker process and with two (each balancing alone).
# make policies ARGS='--duration 5s --rounds 2 --backends 1,2,5,flip:1:50:1000 --workers 1,2'
policies: build
	node dist/bench/load/policies.js $(ARGS)

# chanlb --workers 1..N against nginx worker_processes 1..N (N: the cores), req/s and CPU per request.
# make scale ARGS='--max 8 --pin-proxy 0-7 --pin-load 8-15'
scale: build
	node dist/bench/load/scale.js $(ARGS)

# What a client sees when backends fail (killed, refusing, silent, all 503, POST) through chanlb, nginx, HAProxy.
# make failover ARGS='--scenarios killed,silent-fresh,silent-reused,all-503,post --only chanlb,nginx,haproxy'
failover: build
	node dist/bench/load/failover.js $(ARGS)

# chanlb terminating TLS (HTTPS requests, new handshakes) and as a TCP proxy (redis-benchmark, a
# 1 GiB upload) against nginx and HAProxy: rate and CPU per request / handshake / MiB.
# make edge ARGS='--scenarios https,handshake,redis,bulk --control chanlb --duration 5s --rounds 3'
edge: build
	node dist/bench/load/edge.js $(ARGS)

# Where chanlb's CPU per request goes, beside a Node byte pipe and nginx: wrk under perf record -g
# (apt-get install -y linux-perf), samples split into project JS, llhttp WASM, V8, Node, libuv, kernel, GC.
# make profile ARGS='--duration 5s --rounds 3 --control chanlb'
profile: build
	node dist/bench/load/profile.js $(ARGS)

# Bytes allocated per proxied keep-alive GET (chanlb, the Node byte pipe), and RSS per idle keep-alive
# connection with 10,000 clients (chanlb, a bare Node net.Server, nginx). The open-files limit is
# raised to the hard limit for the run (the clients and the proxy hold one file per connection).
# make memory ARGS='--rounds 3 --control chanlb --clients 10000'
memory: build
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null; node dist/bench/load/memory.js $(ARGS)

# Connection storms: 500 connections opened at once, each's first request timed, then the same
# concurrency on the open connections; chanlb --workers 1 and 2 against nginx with 1 and 2 workers.
# make storm ARGS='--storm 500 --rounds 3 --workers 1,2 --only chanlb,nginx,pipe'
storm: build
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null; node dist/bench/load/storm.js $(ARGS)

# ab against a proxy already running on :8080 (make run in another terminal).
load_test:
	@command -v ab >/dev/null || { echo "ab not found: install it with 'apt-get install -y apache2-utils'"; exit 2; }
	@(exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null || { echo "nothing listens on 127.0.0.1:8080: start the proxy with 'make run' first"; exit 2; }
	ab -k -c 100 -n 100000 http://127.0.0.1:8080/

clean: stop_backend
	rm -rf dist $(RUN_DIR)
