#!/usr/bin/env bash
# The demo backends of `make run`, from the repository's root:
#   demo.sh start RUN_DIR PORT...  one hello backend per port ("Hello from 1", 2, ...) in the
#       background, pids and logs in RUN_DIR; returns once each has said it is listening. If one
#       has not within 10 s (its port is taken, say), says which, stops those it started, exits 1.
#   demo.sh stop RUN_DIR           stops exactly the pids recorded in RUN_DIR.
set -u
usage='usage: demo.sh start RUN_DIR PORT... | demo.sh stop RUN_DIR'
command=${1:?$usage}
run_dir=${2:?$usage}
shift 2

stop() {
  for pidfile in "$run_dir"/backend-*.pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null && echo "stopped backend pid $(cat "$pidfile")"
    rm -f "$pidfile"
  done
}

# Whether the backend with pid $2 writes "listening" to log $1 within 10 s (false once it exits).
listening() {
  local log=$1 pid=$2 deadline=$((SECONDS + 10))
  until grep -q listening "$log"; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      grep -q listening "$log" # it may have said so just before
      return
    fi
    sleep 0.1
  done
}

start() {
  mkdir -p "$run_dir"
  local n=0 port pidfile log pid why
  for port in "$@"; do
    n=$((n + 1))
    pidfile=$run_dir/backend-$n.pid
    log=$run_dir/backend-$n.log
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "backend $n already running (pid $(cat "$pidfile"))"
      continue
    fi
    : >"$log" # now, not in the background job: an old log's "listening" must not count
    node dist/backends/hello.js --port "$port" --name "$n" >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$pidfile"
    if ! listening "$log" "$pid"; then
      why=$(tail -n 1 "$log")
      echo "backend $n did not start on 127.0.0.1:$port: ${why:-it said nothing in 10 s}" >&2
      stop >&2
      exit 1
    fi
    echo "backend $n listening on 127.0.0.1:$port (pid $pid)"
  done
}

case $command in
  start) start "$@" ;;
  stop) stop ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
