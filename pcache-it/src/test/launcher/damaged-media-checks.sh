#!/usr/bin/env bash
# Damaged media and careless set-ups, tried with the real launcher and real NBD clients, as a user
# meets them (issue 15): a zeroed superblock magic is refused, not formatted over, and
# 'check --repair' brings the data back; a flipped bit in the middle of the kset log is refused,
# 'check' says so, '--recover-log cut' starts with what comes before it; a cache with dirty data
# for another backing device is refused, '--backing-changed accept' starts it; a --backing path
# that does not exist is an error and creates nothing.
#
#   damaged-media-checks.sh DIST_DIR [WORK_DIR]
#
# DIST_DIR is an unpacked distribution (bin/pcache); needs qemu-io and nbdinfo (qemu-utils,
# libnbd-bin). Prints PASS/FAIL lines and "N passed, M failed"; exit status 0 when all passed, 1
# when any failed, 2 when it cannot run. Uses TCP ports 10870-10879 on 127.0.0.1.
set -uo pipefail

DIST=${1:?usage: damaged-media-checks.sh DIST_DIR [WORK_DIR]}
PCACHE=$DIST/bin/pcache
[[ -x $PCACHE ]] || { echo "no $PCACHE" >&2; exit 2; }
command -v qemu-io >/dev/null && command -v nbdinfo >/dev/null || { echo "needs qemu-io and nbdinfo" >&2; exit 2; }
WORK=${2:-$(mktemp -d "${TMPDIR:-/tmp}/pcache-damaged.XXXXXX")}
# pcache reads PCACHE_* variables as configuration keys: start it as a user would, without them.
for v in $(compgen -e | grep '^PCACHE_' || true); do unset "$v"; done
mkdir -p "$WORK"
PASSED=0
FAILED=0
PID=

pass() { PASSED=$((PASSED + 1)); printf 'PASS  %s\n' "$1"; }
fail() {
  FAILED=$((FAILED + 1))
  printf 'FAIL  %s\n' "$1"
  shift
  local d
  for d in "$@"; do printf '      %s\n' "$d"; done
}
cleanup() { [[ -n $PID ]] && kill -9 "$PID" 2>/dev/null; }
trap cleanup EXIT

# Starts 'pcache run' in the background on PORT with the given options; waits until it serves
# (returns 0) or exits (returns 1, its status in RUN_RC). Log: $WORK/LABEL.log.
run_bg() {
  local label=$1 port=$2
  shift 2
  LOG=$WORK/$label.log
  "$PCACHE" run --listen "127.0.0.1:$port" --cache.size 512M "$@" >"$LOG" 2>&1 &
  PID=$!
  for _ in $(seq 300); do
    if nbdinfo --size "nbd://127.0.0.1:$port/pcache" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$PID" 2>/dev/null; then
      RUN_RC=0
      wait "$PID" || RUN_RC=$?
      PID=
      return 1
    fi
    sleep 0.2
  done
  RUN_RC=timeout
  return 1
}

stop() {
  kill -TERM "$PID"
  wait "$PID" 2>/dev/null
  PID=
}

# 1. A zeroed superblock magic on a cache full of dirty data.
D=$WORK/sb
mkdir -p "$D"
if run_bg sb-1 10870 --data-dir "$D"; then
  "$PCACHE" ctl writeback pause --data-dir "$D" >/dev/null
  qemu-io -f raw nbd://127.0.0.1:10870/pcache -c 'write -P 0x5b 0 1M' -c flush >"$D/w.out" 2>&1 \
    || fail "sb: write 1 MiB" "$(cat "$D/w.out")"
  stop
  dd if=/dev/zero of="$D/cache.img" bs=1 seek=4104 count=8 conv=notrunc status=none
  if run_bg sb-2 10871 --data-dir "$D"; then
    stop
    fail "a zeroed superblock magic is refused, not formatted over" "$(grep -m3 -i 'format' "$LOG")"
  elif grep -q 'damaged superblock' "$LOG" && ! grep -q 'formatted a new cache' "$LOG"; then
    pass "a zeroed superblock magic is refused (exit $RUN_RC): $(grep -m1 -o 'the superblock magic.*superblock, not' "$LOG")"
  else
    fail "a zeroed superblock magic is refused" "exit $RUN_RC" "$(tail -n 3 "$LOG")"
  fi
  "$PCACHE" check --data-dir "$D" --repair >"$D/repair.out" 2>&1
  if grep -q '^repaired: superblock rebuilt' "$D/repair.out"; then
    pass "check --repair rebuilds the superblock from cache_info"
  else
    fail "check --repair rebuilds the superblock" "$(cat "$D/repair.out")"
  fi
  if run_bg sb-3 10872 --data-dir "$D"; then
    if qemu-io -f raw nbd://127.0.0.1:10872/pcache -c 'read -P 0x5b 0 1M' >"$D/r.out" 2>&1 \
        && ! grep -q 'verification failed' "$D/r.out"; then
      pass "after the repair every flushed byte reads back"
    else
      fail "after the repair every flushed byte reads back" "$(head -n 5 "$D/r.out")"
    fi
    stop
  else
    fail "pcache run after check --repair" "$(tail -n 3 "$LOG")"
  fi
else
  fail "sb: pcache run serves" "$(tail -n 5 "$LOG")"
fi

# 2. A flipped bit in the middle of the kset log: one FUA write per kset, 16 of them.
D=$WORK/log
mkdir -p "$D"
if run_bg log-1 10873 --data-dir "$D"; then
  "$PCACHE" ctl writeback pause --data-dir "$D" >/dev/null
  args=()
  for i in $(seq 0 15); do args+=(-c "write -f -P $((0x30 + i)) $((i * 65536)) 4k"); done
  qemu-io -f raw nbd://127.0.0.1:10873/pcache "${args[@]}" >"$D/w.out" 2>&1 || fail "log: 16 FUA writes" "$(cat "$D/w.out")"
  stop
  # Kset 5 of the log (64 bytes each from the data area of segment 0 at 32768): bit 3 of its key's length.
  at=$((32768 + 5 * 64 + 24 + 9))
  byte=$(od -An -tu1 -j "$at" -N1 "$D/cache.img" | tr -d ' ')
  printf "\\$(printf '%03o' $((byte ^ 8)))" | dd of="$D/cache.img" bs=1 seek="$at" conv=notrunc status=none
  if run_bg log-2 10874 --data-dir "$D"; then
    stop
    fail "a flipped bit in the middle of the log is refused"
  elif grep -q 'the kset log is corrupt' "$LOG" && grep -q '10 valid ksets with 10 keys follow it' "$LOG"; then
    pass "a flipped bit in the middle of the log is refused (exit $RUN_RC), naming the kset and what follows it"
  else
    fail "a flipped bit in the middle of the log is refused" "exit $RUN_RC" "$(tail -n 3 "$LOG")"
  fi
  "$PCACHE" check --data-dir "$D" >"$D/check.out" 2>&1
  check_rc=$?
  if [[ $check_rc == 1 ]] && grep -q '^problem: log: .*valid ksets' "$D/check.out"; then
    pass "check reports the corrupt log (exit 1)"
  else
    fail "check reports the corrupt log (exit 1)" "exit $check_rc" "$(cat "$D/check.out")"
  fi
  if run_bg log-3 10875 --data-dir "$D" --recover-log cut; then
    if grep -q 'ERROR.*--recover-log cut: the log ends there, 10 ksets with 10 keys after it are dropped' "$LOG"; then
      pass "--recover-log cut starts and logs what it dropped as an ERROR"
    else
      fail "--recover-log cut logs what it dropped as an ERROR" "$(grep -m2 'cut' "$LOG")"
    fi
    qemu-io -f raw nbd://127.0.0.1:10875/pcache -c 'read -P 0x30 0 4k' -c 'read -P 0x34 262144 4k' \
      -c 'read -P 0 393216 4k' >"$D/r.out" 2>&1
    if ! grep -q 'verification failed' "$D/r.out" && ! grep -qi 'error' "$D/r.out"; then
      pass "after the cut, writes before the bad kset read back, later ones are the backing device's"
    else
      fail "after the cut, writes before the bad kset read back" "$(head -n 6 "$D/r.out")"
    fi
    stop
  else
    fail "--recover-log cut starts" "$(tail -n 3 "$LOG")"
  fi
else
  fail "log: pcache run serves" "$(tail -n 5 "$LOG")"
fi

# 3. Dirty data for another backing device.
D=$WORK/backing
mkdir -p "$D"
truncate -s 256M "$D/a.img" "$D/b.img"
if run_bg bk-1 10876 --data-dir "$D" --backing "file:$D/a.img"; then
  "$PCACHE" ctl writeback pause --data-dir "$D" >/dev/null
  qemu-io -f raw nbd://127.0.0.1:10876/pcache -c 'write -P 0x6c 0 1M' -c flush >"$D/w.out" 2>&1
  stop
  if run_bg bk-2 10877 --data-dir "$D" --backing "file:$D/b.img"; then
    stop
    fail "dirty data for another backing device is refused"
  elif grep -q "$D/a.img" "$LOG" && grep -q "$D/b.img" "$LOG" && grep -q 'backing-changed accept' "$LOG"; then
    pass "dirty data for another backing device is refused (exit $RUN_RC), naming both"
  else
    fail "dirty data for another backing device is refused, naming both" "exit $RUN_RC" "$(tail -n 3 "$LOG")"
  fi
  if cmp -s "$D/b.img" <(head -c 256M /dev/zero); then
    pass "nothing was written to the other backing device"
  else
    fail "nothing was written to the other backing device"
  fi
  if run_bg bk-3 10878 --data-dir "$D" --backing "file:$D/b.img" --backing-changed accept; then
    if grep -q 'WARN' "$LOG"; then pass "--backing-changed accept starts, with a WARN"; else fail "--backing-changed accept warns" "$(head -n 5 "$LOG")"; fi
    stop
  else
    fail "--backing-changed accept starts" "$(tail -n 3 "$LOG")"
  fi
else
  fail "backing: pcache run serves" "$(tail -n 5 "$LOG")"
fi

# 4. A --backing path that does not exist.
D=$WORK/missing
mkdir -p "$D"
if run_bg miss 10879 --data-dir "$D" --backing "file:$D/bakcing.img"; then
  stop
  fail "a missing --backing path is an error"
elif grep -q "bakcing.img does not exist" "$LOG" && [[ ! -e $D/bakcing.img ]]; then
  pass "a missing --backing path is an error (exit $RUN_RC) and nothing is created"
else
  fail "a missing --backing path is an error and nothing is created" "exit $RUN_RC" "$(tail -n 3 "$LOG")" "$(ls "$D")"
fi

[[ -z ${2:-} ]] && rm -rf "$WORK"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
