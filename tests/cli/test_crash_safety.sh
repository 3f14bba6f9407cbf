#!/usr/bin/env bash
# Crash safety of `quanta compress`: SIGKILL it at several points; no folder named OUT may be left
# that `quanta verify` accepts unless the run had finished, leftovers must be OUT.tmp-<pid> staging
# folders that verify rejects, and a rerun must succeed (removing them) and verify.
# Usage: test_crash_safety.sh QUANTA_BIN MODEL_DIR SCHEME GROUP DELAYS...
#   e.g. test_crash_safety.sh build/quanta models/smollm2-135m-instruct W4A16 32 0.2 1 2
set -u
bin="$1" model="$2" scheme="$3" group="$4"
shift 4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

# compress OUT: quanta compress (RTN) into OUT. `exec`, so that in the background $! is quanta itself.
compress() {
  exec "$bin" compress --model "$model" --scheme "$scheme" --group-size "$group" --method rtn --out "$1"
}

for delay in "$@"; do
  out="$tmp/out_$delay"
  (compress "$out") >"$tmp/log_$delay" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -KILL "$pid" 2>/dev/null && killed=yes || killed=no
  wait "$pid" 2>/dev/null
  if [ -e "$out" ]; then
    # Only a run that finished may leave OUT, and then it must verify.
    "$bin" verify "$out" >/dev/null 2>&1 || fail "delay $delay: $out exists but does not verify"
  fi
  for left in "$tmp"/out_"$delay".*; do
    [ -e "$left" ] || continue
    case "$(basename "$left")" in
      out_"$delay".tmp-[0-9]*) ;;
      *) fail "delay $delay: unexpected leftover $left" ;;
    esac
    if "$bin" verify "$left" >/dev/null 2>&1; then fail "delay $delay: staging folder $left verifies"; fi
  done
  echo "delay $delay s: killed=$killed out=$([ -e "$out" ] && echo present || echo absent)" \
    "staging=$(ls -d "$tmp"/out_"$delay".tmp-* 2>/dev/null | wc -l)"
  # Rerun into the same place: succeeds, verifies, and leaves no staging folder behind.
  if [ ! -e "$out" ]; then
    (compress "$out") >"$tmp/rerun_$delay" 2>&1 || fail "delay $delay: rerun failed: $(tail -2 "$tmp/rerun_$delay")"
  fi
  msg=$("$bin" verify "$out" 2>&1) || fail "delay $delay: rerun output does not verify: $msg"
  case "$msg" in ok\ *\ files) ;; *) fail "delay $delay: verify printed '$msg'" ;; esac
  if ls -d "$tmp"/out_"$delay".tmp-* >/dev/null 2>&1; then fail "delay $delay: staging folder left after rerun"; fi
done

# A changed file is named, with exit status 1.
out="$tmp/out_$1"
victim=$(ls "$out"/*.json | head -1)
echo " " >>"$victim"
"$bin" verify "$out" >"$tmp/v.out" 2>"$tmp/v.err"; rc=$?
[ "$rc" -eq 1 ] && grep -q "$(basename "$victim")" "$tmp/v.err" || fail "changed file: exit $rc, $(cat "$tmp/v.err")"
rm "$victim"
"$bin" verify "$out" >/dev/null 2>"$tmp/v.err"; rc=$?
[ "$rc" -eq 1 ] && grep -q "missing" "$tmp/v.err" || fail "missing file: exit $rc, $(cat "$tmp/v.err")"

echo "crash safety: $fails failures"
[ "$fails" -eq 0 ]
