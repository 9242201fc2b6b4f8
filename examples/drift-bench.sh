#!/usr/bin/env bash
# Drift check benchmark: N unchanged users in the state store (SQLite by default,
# STATE=postgres for a PostgreSQL one) and a PostgreSQL SQL target; times `scimd reconcile --dry-run` (median of RUNS) next to
# the baseline of the same run (psql reading the same rows in key order), and the
# daemon's peak RSS (VmHWM). Needs a release build:
#   cargo build --release --bin scimd --example load
#   N=100000 examples/drift-bench.sh
set -euo pipefail
N=${N:-100000}
RUNS=${RUNS:-3}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
STATE=${STATE:-sqlite}
BIN=${BIN:-target/release/scimd}
LOAD=${LOAD:-target/release/examples/load}
dir=$(mktemp -d)
state=scimd_bench_state_$$
target=scimd_bench_target_$$
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
token=bench-token
hash=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $state WITH (FORCE)" -c "DROP DATABASE IF EXISTS $target WITH (FORCE)" || true
  rm -rf "$dir"
}
trap cleanup EXIT
psql -q "$PG/postgres" -c "CREATE DATABASE $state" -c "CREATE DATABASE $target"
case "$STATE" in
  sqlite) state_url="sqlite://$dir/state.db" ;;
  postgres) state_url="$PG/$state" ;;
  *) echo "STATE must be sqlite or postgres" >&2; exit 2 ;;
esac
cat > "$dir/scimd.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[state]
url = "$state_url"
[admin]
socket = "$dir/admin.sock"
[log]
level = "warn"
[providers.bench]
tokens = ["sha256:$hash"]
[providers.bench.targets.db]
kind = "sql"
url = "$PG/$target"
create_tables = true
[providers.bench.targets.db.users]
table = "users"
key = "scim_id"
on_deactivate = "update"
[providers.bench.targets.db.users.columns]
user_name = "userName"
email = 'emails[type eq "work"].value'
given_name = "name.givenName"
family_name = "name.familyName"
title = "title"
active = "active"
TOML
"$BIN" run -c "$dir/scimd.toml" 2> "$dir/scimd.log" &
pid=$!
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.2; done
echo "loading $N users over SCIM..."
"$LOAD" --url "http://127.0.0.1:$port/scim/v2/bench" --token "$token" --scenario create-users \
  --concurrency 16 --requests "$N" --runs 1 | tail -1
until [ "$(psql -tAq "$PG/$target" -c 'SELECT count(*) FROM users' 2>/dev/null || echo 0)" = "$N" ]; do sleep 1; done
echo "target holds $N users"
for run in $(seq 1 "$RUNS"); do
  t0=$(date +%s.%N)
  psql -q "$PG/$target" -c "\\copy (SELECT scim_id, user_name, email, given_name, family_name, title, active FROM users WHERE scimd_owner = 'scimd' ORDER BY scim_id) TO '/dev/null'"
  t1=$(date +%s.%N)
  base=$(echo "$t1 - $t0" | bc)
  out=$("$BIN" reconcile --dry-run --json -c "$dir/scimd.toml")
  secs=$(echo "$out" | jq '.[0].seconds')
  diffs=$(echo "$out" | jq '.[0].creates + .[0].updates + .[0].deletes + .[0].membership')
  compared=$(echo "$out" | jq '.[0].desired')
  echo "run $run: drift check ${secs}s (compared $compared, differences $diffs); baseline psql copy ${base}s"
done
grep -E 'VmHWM|VmRSS' "/proc/$pid/status"
