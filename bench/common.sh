# Shared by bench/run and bench/instructions (sourced, not run).

# parleyd's flags for a benchmark. The generator opens up to 100,000
# connections from 127.0.0.1-127.0.0.8, far past the default limit per
# source address (256), and measures what the server carries, not its
# limits: the per-connection and per-user budgets are set out of reach
# (still checked on every request).
# shellcheck disable=SC2034
bench_server_flags=(--pwhash-limits min --rate-limit 1e9 --rate-burst 1e9 --user-rate-limit 1e9 --user-rate-burst 1e9
  --max-rooms-per-hour 0 --room-add anyone --listen 127.0.0.1:0 --max-connections-per-address 1000000)

# Waits for a server's "... listening on HOST:PORT" line (a minute at most);
# prints the port. Fails, printing the log, if the server PID exits first.
wait_port() {
  local log=$1 pid=$2
  for _ in $(seq 1 600); do
    if grep -qE 'listening on [0-9.]+:[0-9]+' "$log" 2>/dev/null; then
      grep -oE 'listening on [0-9.]+:[0-9]+' "$log" | head -1 | sed 's/.*://'
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  return 1
}
