#!/bin/bash
# dax-vm-test.sh - the tests of pcache-media-dax that need persistent memory, run in the VM
# harness (../shared/vmtest: a Debian 6.1 guest under qemu TCG that shares the host's root file
# system, so the host's JDK, ~/.m2 and the built tree are visible in the guest).
#
# usage: pcache-media-dax/src/test/vm/dax-vm-test.sh [fsdax] [devdax] [reboot]    (default: all)
#
# Build first (host): ./mvnw -B -o install -pl pcache-media-dax   (and the distribution, for the
# `pcache run` checks: its lib/ gets this module's fresh jar inside the guest, never on the host).
#
# Phases, one guest each (one VM at a time: the machine is shared):
#   fsdax   --pmem 1G, ext4 mounted -o dax on /dev/pmem0:
#           the conformance suite and the behaviour tests on DAX files (Maven surefire in the
#           guest), strace proof that persist makes no msync/fsync (and a control that does),
#           refusals through the CLI, `pcache plugins` capabilities, and - when `pcache plugins`
#           lists an nbd front-end - `pcache run` with dax: media under an NBD write load,
#           kill -9, restart, every flushed write present (three rounds).
#   devdax  --nvdimm FILE:128M turned into /dev/dax0.0 with ndctl: the conformance suite on
#           the device, strace proof, and what FileChannel.map does with a character device.
#   reboot  --nvdimm FILE:1G with an fsdax namespace, two guests on the same file: the first
#           serves pcache under a write load and cuts the power (sysrq b) with writes in
#           flight; the second mounts, restarts pcache and checks every flushed write.
#
# Output: PASS/FAIL/SKIP lines, also in $DAX_OUT/results.txt; logs, surefire reports and strace
# summaries in $DAX_OUT (default pcache-media-dax/target/vm-test). Exit status 0 when nothing failed,
# 1 when something did, 2 when the harness or the build is missing.
#
# Environment: DAX_OUT (not OUT: the harness uses that name in the guest), VMTEST_DIR (default ../shared/vmtest next to the repository), JAVA_HOME
# (default /usr/lib/jvm/temurin-25-jdk-amd64), NBD_ROUNDS (default 3), MAVEN_ARGS (passed to the
# guest's Maven, e.g. -Dmaven.repo.local=DIR).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
MODULE=$ROOT/pcache-media-dax
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
DAX_OUT=${DAX_OUT:-$MODULE/target/vm-test}
URI=nbd://127.0.0.1:10809/pcache
NBD_ROUNDS=${NBD_ROUNDS:-3}

# ------------------------------------------------------------------------------------------------
# guest side
# ------------------------------------------------------------------------------------------------

PHASE=${PHASE:-guest}
result() { # PASS|FAIL|SKIP NAME DETAIL...
  local what=$1 name=$2; shift 2
  local line="$what $PHASE/$name${*:+: $*}"
  echo "$line"
  echo "$line" >> "$DAX_OUT/results-$PHASE.txt"
}
note() { echo "---- $*"; }

mount_dax() {
  mkfs.ext4 -q -F -b 4096 /dev/pmem0 || return 1
  mkdir -p /mnt/pmem && mount -o dax /dev/pmem0 /mnt/pmem || return 1
  grep ' /mnt/pmem ' /proc/self/mountinfo
  grep ' /mnt/pmem ' /proc/self/mountinfo | grep -q 'dax'
}

# PersistLoop (a test class) on the module path, test classes patched into the module.
java_cmd() { # MODE ARGS...
  local api
  for api in "$ROOT/pcache-api/target/classes" "$ROOT"/distribution/target/pcache-*-SNAPSHOT/lib/pcache-api-*.jar; do
    [ -e "$api" ] && break
  done
  JAVA_CMD=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED,io.pcache.media.dax
    --module-path "$MODULE/target/classes:$api"
    --patch-module "io.pcache.media.dax=$MODULE/target/test-classes"
    -m io.pcache.media.dax/io.pcache.media.dax.PersistLoop "$@")
}
persist_loop() { java_cmd "$@"; "${JAVA_CMD[@]}"; }

# Runs surefire in the guest on the already compiled classes; one result line per test class.
run_tests() { # NAME TEST-PATTERN MAVEN-ARGS...
  local name=$1 pattern=$2; shift 2
  local reports=$DAX_OUT/surefire-$PHASE-$name
  rm -rf "$reports"
  note "surefire $pattern $*"
  # target/ is the host's, seen through the guest's overlay: the host's old reports are removed
  # in the guest only, and the fresh ones copied out (surefire's reportsDirectory has no -D).
  rm -rf "$MODULE/target/surefire-reports"
  # The test phase with -am, not surefire:test alone: pcache-api and pcache-testkit then come
  # from this tree (already compiled: up to date), never from a stale or absent ~/.m2 copy
  # (`./mvnw verify` installs nothing). The other modules match no test and run none.
  (cd "$ROOT" && ./mvnw -B -o test -pl pcache-media-dax -am -Dtest="$pattern" \
      -Dsurefire.failIfNoSpecifiedTests=false "$@") > "$DAX_OUT/maven-$PHASE-$name.log" 2>&1
  local rc=$?
  cp -r "$MODULE/target/surefire-reports" "$reports" 2>/dev/null
  grep -E 'Tests run:|FAIL|ERROR' "$DAX_OUT/maven-$PHASE-$name.log" | tail -20
  local any=0 f
  for f in "$reports"/*.txt; do
    [ -e "$f" ] || continue
    case $f in *-output.txt) continue;; esac
    any=1
    local cls line
    cls=$(basename "$f" .txt); cls=${cls##*.}
    line=$(grep -m1 'Tests run:' "$f")
    if echo "$line" | grep -q 'Failures: 0, Errors: 0'; then
      if echo "$line" | grep -q 'Tests run: \([0-9]*\), Failures: 0, Errors: 0, Skipped: \1'; then
        result SKIP "$cls" "$line"
      else
        result PASS "$cls" "$line"
      fi
    else
      result FAIL "$cls" "$line (see $f)"
    fi
  done
  cat "$reports"/*-output.txt 2>/dev/null | grep -E '^(TIMING|capabilities|  |devdax under test)' | tee -a "$DAX_OUT/timings-$PHASE.txt"
  [ $any = 1 ] || result FAIL "$name" "no test report (maven exit $rc, see $DAX_OUT/maven-$PHASE-$name.log)"
}

# strace summary: how many msync/fsync/fdatasync calls a PersistLoop run made.
count_syncs() { # STRACE-SUMMARY-FILE -> "msync N fsync N fdatasync N mmap N"
  local s=$1 c out=""
  for c in msync fsync fdatasync mmap; do
    out+="$c $(awk -v c="$c" '$NF==c {print $4; found=1} END {if (!found) print 0}' "$s") "
  done
  echo "$out"
}

no_syscall_persist() { # NAME MEDIA-PATH CONTROL-PATH
  local name=$1 media=$2 control=$3 n=2000
  persist_loop dax "$media" 10 > /dev/null 2>&1 # create (and its one fsync) outside the trace
  java_cmd dax "$media" $n
  strace -f -c -e trace=msync,fsync,fdatasync,mmap -o "$DAX_OUT/strace-$PHASE-$name.txt" "${JAVA_CMD[@]}" \
    > "$DAX_OUT/persistloop-$PHASE-$name.txt" 2>&1
  cat "$DAX_OUT/persistloop-$PHASE-$name.txt"
  local dax ctl
  dax=$(count_syncs "$DAX_OUT/strace-$PHASE-$name.txt")
  if [ -n "$control" ]; then
    java_cmd control "$control" $n
    strace -f -c -e trace=msync,fsync,fdatasync,mmap -o "$DAX_OUT/strace-$PHASE-control.txt" "${JAVA_CMD[@]}" \
      > "$DAX_OUT/persistloop-$PHASE-control.txt" 2>&1
    cat "$DAX_OUT/persistloop-$PHASE-control.txt"
    ctl=$(count_syncs "$DAX_OUT/strace-$PHASE-control.txt")
  fi
  # mmap is traced only to show that the trace saw the JVM at all (it maps a lot)
  if grep -q '^RESULT dax' "$DAX_OUT/persistloop-$PHASE-$name.txt" && echo "$dax" | grep -q '^msync 0 fsync 0 fdatasync 0 mmap [1-9]'; then
    if [ -z "$control" ] || [ "$(echo "$ctl" | awk '{print $2}')" -ge $n ]; then
      result PASS "$name" "$n write+persist on $media: $dax${control:+; control (READ_WRITE mapping of $control, force): $ctl}"
    else
      result FAIL "$name" "the control did not show msync ($ctl): strace filter broken?"
    fi
  else
    result FAIL "$name" "$n persists on $media made: $dax (see $DAX_OUT/strace-$PHASE-$name.txt)"
  fi
}

# A copy of the distribution in the guest (tmpfs overlay) with this module's fresh jar.
DIST=/tmp/pcache-dist
prepare_dist() {
  local built
  built=$(ls -d "$ROOT"/distribution/target/pcache-[0-9]*-SNAPSHOT 2>/dev/null | head -1)
  [ -n "$built" ] && [ -x "$built/bin/pcache" ] || return 1
  rm -rf "$DIST" && cp -a "$built" "$DIST" || return 1
  local jar
  jar=$(ls "$MODULE"/target/pcache-media-dax-*.jar 2>/dev/null | head -1)
  if [ -n "$jar" ] && ! cmp -s "$jar" "$DIST/lib/$(basename "$jar")"; then
    cp "$jar" "$DIST/lib/" && note "guest copy of the distribution uses the fresh $(basename "$jar")"
  fi
}

nbd_available() {
  "$DIST/bin/pcache" plugins 2>/dev/null | grep -qE '^frontend +nbd '
}

PCACHE_PID=
start_pcache() { # LOG
  local log=$1
  "$DIST/bin/pcache" run --cache dax:/mnt/pmem/cache.img --backing file:/mnt/pmem/backing.img \
    --frontend nbd --cache.size 512M --backing.size 1G --listen 127.0.0.1:10809 > "$log" 2>&1 &
  PCACHE_PID=$!
  local i
  for i in $(seq 600); do
    nbdinfo "$URI" > /dev/null 2>&1 && { note "pcache serving after ${i}s: $(grep -m1 -E 'formatted|replayed' "$log")"; return 0; }
    kill -0 $PCACHE_PID 2>/dev/null || { cat "$log"; return 1; }
    sleep 1
  done
  cat "$log"; return 1
}

load_until_flushed() { # ROUND STATE LOG -> starts the load in the background, returns once FLUSHED
  local rnd=$1 state=$2 log=$3 i
  /usr/bin/python3 "$HERE/nbd-load.py" write "$URI" "$state" "$rnd" > "$log" 2>&1 &
  LOAD_PID=$!
  for i in $(seq 900); do
    grep -q '^FLUSHED' "$log" && return 0
    kill -0 $LOAD_PID 2>/dev/null || { cat "$log"; return 1; }
    sleep 1
  done
  return 1
}

verify_flushed() { # NAME STATE
  local name=$1 state=$2 out
  out=$(/usr/bin/python3 "$HERE/nbd-load.py" verify "$URI" "$state" 2>&1)
  local rc=$?
  echo "$out"
  if [ $rc = 0 ]; then
    result PASS "$name" "$(echo "$out" | tail -1)"
  else
    result FAIL "$name" "$(echo "$out" | tr '\n' ' ')"
  fi
}

guest_fsdax() {
  note "guest: $(uname -r), CPU write-back instructions: $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w 'clwb\|clflushopt\|clflush' | tr '\n' ' ')"
  if mount_dax; then result PASS mount-dax "ext4 on /dev/pmem0 mounted -o dax"; else result FAIL mount-dax; return; fi

  prepare_dist || note "no built distribution: CLI checks skipped"
  if [ -x "$DIST/bin/pcache" ]; then
    "$DIST/bin/pcache" plugins 2>&1 | tee "$DAX_OUT/plugins-$PHASE.txt" | grep -E 'dax'
    if grep -q 'media dax: fsdax (MAP_SYNC): yes, on /mnt/pmem' "$DAX_OUT/plugins-$PHASE.txt"; then
      result PASS plugins-capabilities "$(grep 'media dax: fsdax' "$DAX_OUT/plugins-$PHASE.txt" | sed 's/^ *//')"
    else
      result FAIL plugins-capabilities "see $DAX_OUT/plugins-$PHASE.txt"
    fi
    local where msg
    for where in /dev/shm/cache.img /tmp/cache.img /dev/pmem0 /mnt/pmem; do
      msg=$("$DIST/bin/pcache" format --cache "dax:$where" --cache.size 512M 2>&1)
      if [ $? != 0 ] && echo "$msg" | grep -qE 'EOPNOTSUPP|is a block device|is a directory'; then
        result PASS "refuse-$where" "$(echo "$msg" | tr '\n' ' ' | cut -c1-400)"
      else
        result FAIL "refuse-$where" "$(echo "$msg" | tr '\n' ' ')"
      fi
    done
    [ ! -e /tmp/cache.img ] && [ ! -e /dev/shm/cache.img ] || result FAIL refuse-left-files "a refused dax: create left a file"
  fi

  mkdir -p /mnt/pmem/tests
  run_tests fsdax 'DaxMediaOnFsDax*' -Dpcache.test.daxDir=/mnt/pmem/tests

  no_syscall_persist no-msync /mnt/pmem/loop.img /tmp/control.img

  if [ ! -x "$DIST/bin/pcache" ]; then
    result SKIP kill9-restart "no built distribution (distribution/target/pcache-*-SNAPSHOT)"
  elif ! nbd_available; then
    result SKIP kill9-restart "'pcache plugins' lists no nbd front-end"
  else
    kill9_rounds
  fi
  umount /mnt/pmem
}

kill9_rounds() {
  local state=$DAX_OUT/nbd-flushed-$PHASE.jsonl rnd
  rm -f "$state"
  for rnd in $(seq 0 $((NBD_ROUNDS - 1))); do
    start_pcache "$DAX_OUT/pcache-run-$PHASE-$rnd.log" || { result FAIL "kill9-round-$rnd" "pcache did not start"; return; }
    [ "$rnd" -gt 0 ] && verify_flushed "kill9-restart-$rnd" "$state"
    if ! load_until_flushed "$rnd" "$state" "$DAX_OUT/nbd-load-$PHASE-$rnd.log"; then
      result FAIL "kill9-round-$rnd" "the write load did not finish its flushed part"
      kill -9 $PCACHE_PID; return
    fi
    sleep 3 # unflushed writes in flight
    kill -9 $PCACHE_PID
    wait $PCACHE_PID 2>/dev/null
    wait $LOAD_PID 2>/dev/null
    note "round $rnd: $(head -1 "$DAX_OUT/nbd-load-$PHASE-$rnd.log"), $(tail -1 "$DAX_OUT/nbd-load-$PHASE-$rnd.log"); pcache killed -9"
  done
  start_pcache "$DAX_OUT/pcache-run-$PHASE-final.log" || { result FAIL kill9-final "pcache did not restart"; return; }
  verify_flushed kill9-restart-final "$state"
  kill -9 $PCACHE_PID; wait $PCACHE_PID 2>/dev/null
}

guest_devdax() {
  local out
  out=$(ndctl create-namespace -f -e namespace0.0 -m devdax 2>&1)
  echo "$out" | tail -20
  modprobe device_dax 2>&1 # binds the new instance (else it is "disabled" and open fails with ENXIO)
  local dev i
  for i in $(seq 50); do [ -e /sys/bus/dax/devices/dax0.0/driver ] && break; sleep 0.1; done
  dev=$(ls /dev/dax* 2>/dev/null | head -1)
  if [ -z "$dev" ] || [ ! -c "$dev" ]; then
    result SKIP devdax "ndctl could not make a devdax device: $(echo "$out" | tr '\n' ' ' | cut -c1-300)"
    return
  fi
  local sys
  sys=/sys/dev/char/$(printf '%d:%d' "0x$(stat -c %t "$dev")" "0x$(stat -c %T "$dev")")
  result PASS devdax-create "$dev: size $(cat "$sys/size" 2>/dev/null), align $(cat "$sys/align" 2>/dev/null), subsystem $(basename "$(readlink -f "$sys/subsystem")")"

  java_cmd chardev "$dev"
  strace -f -e trace=ftruncate -o "$DAX_OUT/strace-$PHASE-chardev.txt" "${JAVA_CMD[@]}" 2>&1 | tee "$DAX_OUT/chardev-$PHASE.txt"
  grep ftruncate "$DAX_OUT/strace-$PHASE-chardev.txt"
  if grep -q 'READ_WRITE: opened, size() 0, FileChannel.map refused' "$DAX_OUT/chardev-$PHASE.txt"; then
    result PASS jdk-map-chardev "$(grep 'READ_WRITE:' "$DAX_OUT/chardev-$PHASE.txt" | head -1 | cut -c1-300);" \
      "strace: $(grep -m1 -o 'ftruncate(.*EINVAL' "$DAX_OUT/strace-$PHASE-chardev.txt" | tr -s ' ')"
  else
    result FAIL jdk-map-chardev "FileChannel.map of $dev did not fail as documented: $(tr '\n' ' ' < "$DAX_OUT/chardev-$PHASE.txt")"
  fi

  if prepare_dist; then
    "$DIST/bin/pcache" plugins 2>&1 | tee "$DAX_OUT/plugins-$PHASE.txt" | grep -E 'dax'
    if grep -q "media dax: devdax: yes, $dev" "$DAX_OUT/plugins-$PHASE.txt"; then
      result PASS plugins-capabilities "$(grep 'media dax: devdax' "$DAX_OUT/plugins-$PHASE.txt" | sed 's/^ *//')"
    else
      result FAIL plugins-capabilities "see $DAX_OUT/plugins-$PHASE.txt"
    fi
  fi

  run_tests devdax 'DaxMediaOnDevDaxTest' -Dpcache.test.devdax="$dev" \
    -Dpcache.test.argLine="--enable-native-access=ALL-UNNAMED,io.pcache.media.dax -Xmx1200m"

  no_syscall_persist no-syscall-devdax "$dev" ""
}

guest_reboot_1() {
  ndctl create-namespace -f -e namespace0.0 -m fsdax 2>&1 | tail -5
  for i in $(seq 100); do [ -b /dev/pmem0 ] && break; sleep 0.1; done
  if mount_dax; then result PASS mount-dax "fsdax namespace on the file-backed NVDIMM"; else result FAIL mount-dax; return; fi
  prepare_dist || { result SKIP reboot "no built distribution"; return; }
  nbd_available || { result SKIP reboot "'pcache plugins' lists no nbd front-end"; return; }
  local state=$DAX_OUT/nbd-flushed-reboot.jsonl
  rm -f "$state"
  start_pcache "$DAX_OUT/pcache-run-reboot-1.log" || { result FAIL reboot-start "pcache did not start"; return; }
  load_until_flushed 0 "$state" "$DAX_OUT/nbd-load-reboot-1.log" || { result FAIL reboot-load "no flushed writes"; return; }
  sleep 3
  note "power cut (sysrq b) with pcache serving and unflushed writes in flight: $(tail -1 "$DAX_OUT/nbd-load-reboot-1.log")"
  result PASS power-cut "$(head -1 "$DAX_OUT/nbd-load-reboot-1.log") extents flushed, then sysrq b with writes in flight"
  echo "$(date +%s)" > "$DAX_OUT/reboot-1.cut"
  sync -f "$DAX_OUT/reboot-1.cut" 2>/dev/null
  echo 1 > /proc/sys/kernel/sysrq
  echo b > /proc/sysrq-trigger
  sleep 30
}

guest_reboot_2() {
  for i in $(seq 100); do [ -b /dev/pmem0 ] && break; sleep 0.1; done
  mkdir -p /mnt/pmem
  if mount -o dax /dev/pmem0 /mnt/pmem; then
    result PASS remount-dax "$(grep ' /mnt/pmem ' /proc/self/mountinfo)"
  else
    result FAIL remount-dax "$(dmesg | tail -5 | tr '\n' ' ')"; return
  fi
  ls -ls /mnt/pmem
  prepare_dist || { result SKIP reboot "no built distribution"; return; }
  start_pcache "$DAX_OUT/pcache-run-reboot-2.log" || { result FAIL reboot-restart "pcache did not start"; return; }
  verify_flushed reboot-verify "$DAX_OUT/nbd-flushed-reboot.jsonl"
  kill -9 $PCACHE_PID; wait $PCACHE_PID 2>/dev/null
  umount /mnt/pmem
}

if [ -n "${VMTEST_GUEST:-}" ]; then
  mkdir -p "$DAX_OUT"
  case "${1:-}" in
    guest-fsdax) PHASE=fsdax; guest_fsdax;;
    guest-devdax) PHASE=devdax; guest_devdax;;
    guest-reboot-1) PHASE=reboot; guest_reboot_1;;
    guest-reboot-2) PHASE=reboot; guest_reboot_2;;
    *) echo "dax-vm-test: unknown guest step ${1:-}" >&2; exit 2;;
  esac
  exit 0
fi

# ------------------------------------------------------------------------------------------------
# host side
# ------------------------------------------------------------------------------------------------

VMTEST=${VMTEST_DIR:-$ROOT/../shared/vmtest}
if [ ! -x "$VMTEST/run-in-vm.sh" ]; then
  echo "SKIP dax-vm-test: no VM harness at $VMTEST (set VMTEST_DIR)"; exit 2
fi
if [ ! -d "$MODULE/target/test-classes" ] || ! ls "$MODULE"/target/pcache-media-dax-*.jar > /dev/null 2>&1; then
  echo "SKIP dax-vm-test: build first: ./mvnw -B -o install -pl pcache-media-dax"; exit 2
fi
"$VMTEST/setup.sh" > /dev/null || { echo "SKIP dax-vm-test: $VMTEST/setup.sh failed"; exit 2; }
mkdir -p "$DAX_OUT"
PHASES=("$@")
[ ${#PHASES[@]} -gt 0 ] || PHASES=(fsdax devdax reboot)
rm -f "$DAX_OUT/results.txt"
for p in "${PHASES[@]}"; do rm -f "$DAX_OUT/results-$p.txt" "$DAX_OUT/timings-$p.txt"; done
V=("$VMTEST/run-in-vm.sh" --rw "$DAX_OUT" --env "DAX_OUT=$DAX_OUT" --env "JAVA_HOME=$JAVA_HOME" --env "NBD_ROUNDS=$NBD_ROUNDS"
  --env "MAVEN_ARGS=${MAVEN_ARGS:-}")

phase() { # NAME LOG RUN-IN-VM-ARGS... -- STEP
  local name=$1 log=$2; shift 2
  local start=$(date +%s)
  echo "== $name: $*" | tee -a "$DAX_OUT/results.txt"
  "${V[@]}" "$@" > "$log" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $(( $(date +%s) - start ))s, log $log" | tee -a "$DAX_OUT/results.txt"
  return $rc
}

for p in "${PHASES[@]}"; do
  case $p in
    fsdax)
      phase fsdax "$DAX_OUT/fsdax.log" --pmem 1G --timeout 5400 -- "$HERE/dax-vm-test.sh" guest-fsdax ;;
    devdax)
      rm -f "$DAX_OUT/nvdimm-devdax.img"
      phase devdax "$DAX_OUT/devdax.log" --nvdimm "$DAX_OUT/nvdimm-devdax.img:128M" --timeout 3600 \
        -- "$HERE/dax-vm-test.sh" guest-devdax
      rm -f "$DAX_OUT/nvdimm-devdax.img" ;;
    reboot)
      rm -f "$DAX_OUT/nvdimm-reboot.img" "$DAX_OUT/reboot-1.cut"
      phase reboot-1 "$DAX_OUT/reboot-1.log" --nvdimm "$DAX_OUT/nvdimm-reboot.img:1G" --timeout 2400 \
        -- "$HERE/dax-vm-test.sh" guest-reboot-1
      if [ -e "$DAX_OUT/reboot-1.cut" ]; then
        phase reboot-2 "$DAX_OUT/reboot-2.log" --nvdimm "$DAX_OUT/nvdimm-reboot.img:1G" --timeout 2400 \
          -- "$HERE/dax-vm-test.sh" guest-reboot-2
      fi
      rm -f "$DAX_OUT/nvdimm-reboot.img" ;;
    *) echo "unknown phase $p (fsdax, devdax, reboot)"; exit 2 ;;
  esac
  cat "$DAX_OUT/results-$p.txt" >> "$DAX_OUT/results.txt" 2>/dev/null
  [ -e "$DAX_OUT/results-$p.txt" ] || echo "FAIL $p: the guest reported nothing (see $DAX_OUT/$p*.log)" >> "$DAX_OUT/results.txt"
done
echo "==== results ($DAX_OUT/results.txt)"
grep -E '^(PASS|FAIL|SKIP)' "$DAX_OUT/results.txt"
grep -q '^FAIL' "$DAX_OUT/results.txt" && exit 1
exit 0
