# chanlb: `make run` and `make test` do all the set-up on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := run

LISTEN   ?= 0.0.0.0:8080
BACKENDS ?= 127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003
RUN_DIR  := .run
STAMP    := node_modules/.package-lock.json
# dist/ is up to date when this is newer than every source, their directories (a file added or
# removed), tsconfig.json and the installed packages: then make does not start tsc at all.
BUILD_STAMP := dist/.build-stamp
SOURCES     := $(shell find src bench backends native-free -name '*.ts')

.PHONY: run start_backend stop_backend test build bench compare policies load_test clean install

# npm ci only when the lock file changed since the last install.
$(STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(STAMP)

build: $(BUILD_STAMP)

$(BUILD_STAMP): $(SOURCES) $(sort $(dir $(SOURCES))) tsconfig.json $(STAMP)
	@echo "compiling TypeScript (a first build takes 10-40 s; later ones only when a source changed)..."
	@npx tsc -p tsconfig.json
	@touch $@

# Three demo backends answering "Hello from N" on 9001-9003; their pids go to .run/.
start_backend: build
	@mkdir -p $(RUN_DIR)
	@for n in 1 2 3; do \
	  pidfile=$(RUN_DIR)/backend-$$n.pid; \
	  if [ -f $$pidfile ] && kill -0 $$(cat $$pidfile) 2>/dev/null; then echo "backend $$n already running (pid $$(cat $$pidfile))"; continue; fi; \
	  node dist/backends/hello.js --port 900$$n --name $$n >$(RUN_DIR)/backend-$$n.log 2>&1 & echo $$! >$$pidfile; \
	  echo "backend $$n on 127.0.0.1:900$$n (pid $$!)"; \
	done

# Stops exactly the pids start_backend recorded.
stop_backend:
	@for pidfile in $(RUN_DIR)/backend-*.pid; do \
	  [ -f $$pidfile ] || continue; \
	  kill $$(cat $$pidfile) 2>/dev/null && echo "stopped backend pid $$(cat $$pidfile)"; \
	  rm -f $$pidfile; \
	done

# Backends in the background, the proxy in the foreground; Ctrl-C stops both.
run: start_backend
	@trap '$(MAKE) --no-print-directory stop_backend' EXIT; \
	node dist/src/main.js --listen $(LISTEN) --backend $(BACKENDS)

# Every uvu suite under dist/src, then one closing line "N passed, N failed" from uvu's totals.
test: build
	node dist/native-free/check.js
	@mkdir -p $(RUN_DIR)
	@node node_modules/uvu/bin.js dist/src '\.test\.js$$' --no-color 2>&1 | tee $(RUN_DIR)/test.log; \
	status=$${PIPESTATUS[0]}; \
	total=$$(sed -n 's/^ *Total: *\([0-9]*\).*/\1/p' $(RUN_DIR)/test.log | tail -1); \
	passed=$$(sed -n 's/^ *Passed: *\([0-9]*\).*/\1/p' $(RUN_DIR)/test.log | tail -1); \
	skipped=$$(sed -n 's/^ *Skipped: *\([0-9]*\).*/\1/p' $(RUN_DIR)/test.log | tail -1); \
	if [ -z "$$total" ]; then echo "0 passed, 1 failed"; exit 1; fi; \
	echo "$$passed passed, $$((total - passed - skipped)) failed"; \
	exit $$status

# Micro-benchmarks (bench/*.bench.ts): one table per bench, JSON to bench/results/.
# make bench ARGS='head parser --compare bench/results/micro-....json'
bench: build
	node dist/bench/run.js $(ARGS)

# The same load straight to a backend, through chanlb, nginx, HAProxy and a node:http+undici proxy.
# make compare ARGS='--duration 5s --rounds 2 --tool ab --only chanlb,nginx'
compare: build
	node dist/bench/compare.js $(ARGS)

# Least-pending heap against round robin and p2c over backends with uneven, changing latencies.
# make policies ARGS='--duration 5s --rounds 2 --backends 1,2,5,flip:1:50:1000'
policies: build
	node dist/bench/policies.js $(ARGS)

# ab against a proxy already running on :8080 (make run in another terminal).
load_test:
	@command -v ab >/dev/null || { echo "ab not found: install it with 'apt-get install -y apache2-utils'"; exit 2; }
	@(exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null || { echo "nothing listens on 127.0.0.1:8080: start the proxy with 'make run' first"; exit 2; }
	ab -k -c 100 -n 100000 http://127.0.0.1:8080/

clean: stop_backend
	rm -rf dist $(RUN_DIR)
