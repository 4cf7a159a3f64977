#!/bin/bash
# ublk-vm-test.sh - pcache's ublk front-end end to end, in the vmtest guest (Linux 6.1 + ublk_drv).
#
# On the host:   pcache-frontend-ublk/src/test/vm/ublk-vm-test.sh
#   Needs the harness (../shared/vmtest, or VMTEST_DIR; run its setup.sh once) and the full
#   distribution built once:  ./mvnw -B -o -q install -DskipTests -pl pcache-frontend-ublk,distribution
#   (later, rebuilding this module is enough). The test runs a snapshot of the distribution in
#   UBLK_VM_OUT/dist with this module's freshest jar, so a rebuild meanwhile cannot disturb it.
#   Logs land in UBLK_VM_OUT (default pcache-frontend-ublk/target/ublk-vm).
# Exit status: 0 when nothing failed, 1 when something did, 2 when the harness or the build is
# missing (with a SKIP line saying which).
# In the guest (VMTEST_GUEST=1, started by the host part): loads ublk_drv, then
#   1. a clear one-line refusal while the driver is not loaded
#   2. pcache run --frontend ublk: /dev/ublkbN appears
#   3. mkfs.ext4, mount, write files, drop caches, read them back (sha256)
#   4. fio --ioengine=io_uring --direct=1 --verify=crc32c on a file in that file system
#   5. umount, SIGTERM: /dev/ublkbN and /dev/ublkcN are deleted
#   6. restart, fsck -n, the files are still there
#   7. raw direct writes with fsync (flushed), then a raw writer killed mid-way by kill -9 of pcache
#   8. restart: the dead device is deleted and re-created; flushed data intact; the unflushed
#      region holds only old or new sectors, no garbage; fsck -n and the files again
#   9. SIGTERM with the file system still mounted: the disk goes away at once, pcache waits for
#      the umount, then deletes the device and exits
# Starts 2 and 3 use two queues of depth 32 (the guest has two CPUs).
# Every check prints PASS or FAIL (NOTE lines record behaviour); the summary is in $UBLK_VM_OUT.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODULE=$(cd "$HERE/../../.." && pwd)
REPO=$(cd "$MODULE/.." && pwd)
OUT=${UBLK_VM_OUT:-$MODULE/target/ublk-vm}

# ------------------------------------------------------------------------------------------------
# Host side: start the guest with this script.
if [ -z "${VMTEST_GUEST:-}" ]; then
  VMTEST_DIR=${VMTEST_DIR:-$REPO/../shared/vmtest}
  if [ ! -x "$VMTEST_DIR/run-in-vm.sh" ]; then
    echo "SKIP: ublk VM test: no vmtest harness at $VMTEST_DIR (set VMTEST_DIR)"
    exit 2
  fi
  CACHE=${VMTEST_CACHE:-/var/tmp/vmtest-cache}
  if ! ls "$CACHE"/modroot/lib/modules/*/updates/ublk_drv.ko >/dev/null 2>&1; then
    echo "SKIP: ublk VM test: the guest's ublk_drv.ko is not built (run $VMTEST_DIR/setup.sh)"
    exit 2
  fi
  DIST=$(ls -d "$REPO"/distribution/target/pcache-[0-9]*/ 2>/dev/null | grep -v minimal | head -1)
  if [ -z "$DIST" ] || ! ls "$DIST"/lib/pcache-frontend-ublk-*.jar >/dev/null 2>&1; then
    echo "SKIP: ublk VM test: no distribution with the ublk jar under $REPO/distribution/target: build it with"
    echo "      ./mvnw -B -o -q install -DskipTests -pl pcache-frontend-ublk,distribution"
    exit 2
  fi
  mkdir -p "$OUT"
  rm -f "$OUT"/*.log "$OUT"/summary.txt
  # Snapshot the distribution (others may rebuild it during the run) with the freshest module jar;
  # 'pcache --version' resolves every module in lib/, so it proves the copy is whole.
  SNAP=$OUT/dist
  for attempt in 1 2 3 4 5 6; do
    rm -rf "$SNAP"
    cp -a "$DIST" "$SNAP"
    for jar in "$MODULE"/target/pcache-frontend-ublk-*.jar; do
      case $jar in *-sources.jar|*-tests.jar|*-javadoc.jar) continue ;; esac
      [ -f "$jar" ] && cp "$jar" "$SNAP/lib/"
    done
    "$SNAP/bin/pcache" --version >/dev/null 2>&1 && break
    [ $attempt = 6 ] && { echo "SKIP: ublk VM test: the distribution in $DIST does not start"; exit 2; }
    sleep 10
  done
  # An AOT cache trained on the host halves the JVM's start in the guest (see .ci/vm-aot-cache.sh);
  # UBLK_VM_AOT=0 turns it off.
  JAVA_OPTS=
  if [ "${UBLK_VM_AOT:-1}" != 0 ] && [ -x "$REPO/.ci/vm-aot-cache.sh" ]; then
    JAVA_OPTS=$("$REPO/.ci/vm-aot-cache.sh" "$SNAP" "$OUT")
  fi
  T0=$(date +%s)
  "$VMTEST_DIR/run-in-vm.sh" --mem 3G --timeout "${UBLK_VM_TIMEOUT:-1800}" --rw "$OUT" \
    --env "UBLK_VM_OUT=$OUT" --env "UBLK_VM_DIST=$SNAP" --env "PCACHE_JAVA_OPTS=$JAVA_OPTS" -- "$HERE/ublk-vm-test.sh"
  rc=$?
  echo "ublk VM test: exit $rc after $(( $(date +%s) - T0 )) s on the host (boot included), summary $OUT/summary.txt"
  exit $rc
fi

# ------------------------------------------------------------------------------------------------
# Guest side.
DIST=${UBLK_VM_DIST:?}
PCACHE=$DIST/bin/pcache
FAILS=0
SUMMARY=$OUT/summary.txt
T0=$(date +%s)
pass() { echo "PASS: $*" | tee -a "$SUMMARY"; }
fail() { echo "FAIL: $*" | tee -a "$SUMMARY"; FAILS=$((FAILS + 1)); }
note() { echo "NOTE: $*" | tee -a "$SUMMARY"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what (rc=$?: $*)"; fi; }
elapsed() { echo $(( $(date +%s) - $1 ))s; }

CACHE_IMG=/dev/shm/c.img
BACKING_IMG=/tmp/b.img
MNT=/mnt/u
FS_SIZE=192M            # the file system; the raw crash test writes beyond it
RAW_FLUSHED_MB=200      # 8 MiB written and fsynced here
RAW_UNFLUSHED_MB=216    # a writer killed mid-way here (up to 32 MiB)
truncate -s 256M "$BACKING_IMG"
mkdir -p "$MNT"

PID=
DEV=
RUN=0
# Starts pcache in the background and waits until it serves; sets PID and DEV.
start_pcache() {
  RUN=$((RUN + 1))
  local log=$OUT/pcache-$RUN.log s
  s=$(date +%s)
  "$PCACHE" run --frontend ublk --cache "file:$CACHE_IMG" --cache.size 512M --backing "file:$BACKING_IMG" \
    "$@" > "$log" 2>&1 &
  PID=$!
  DEV=
  for _ in $(seq 1200); do
    DEV=$(sed -n 's|.*via ublk: \(/dev/ublkb[0-9]*\).*|\1|p' "$log" | head -1)
    [ -n "$DEV" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.25
  done
  if [ -n "$DEV" ] && [ -b "$DEV" ]; then
    pass "start $RUN: pcache serves $DEV after $(elapsed "$s")"
    return 0
  fi
  fail "start $RUN: no ublk device (log $log):"
  tail -5 "$log"
  return 1
}

# SIGTERM (or $1) and wait; checks that the device nodes are gone.
stop_pcache() {
  local s rc id
  s=$(date +%s)
  id=${DEV#/dev/ublkb}
  kill -TERM "$PID"
  for _ in $(seq 480); do kill -0 "$PID" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$PID" 2>/dev/null; then
    fail "stop $RUN: pcache still runs 120 s after SIGTERM; killing it"
    kill -9 "$PID"
  fi
  wait "$PID"; rc=$?
  if [ ! -e "$DEV" ] && [ ! -e "/dev/ublkc$id" ]; then
    pass "stop $RUN: SIGTERM (exit $rc) deleted $DEV and /dev/ublkc$id in $(elapsed "$s")"
  else
    fail "stop $RUN: $DEV or /dev/ublkc$id still exists after SIGTERM: $(ls /dev/ublk* | tr '\n' ' ')"
  fi
  grep -E "WARN|ERROR|Exception" "$OUT/pcache-$RUN.log" | head -5
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# ---- 1. refusal without the driver --------------------------------------------------------------
if [ -e /dev/ublk-control ]; then
  note "ublk_drv already loaded: skipping the 'not loaded' check"
else
  msg=$("$PCACHE" run --frontend ublk --cache "file:$CACHE_IMG" --cache.size 512M --backing "file:$BACKING_IMG" 2>&1)
  rc=$?
  if [ $rc -ne 0 ] && echo "$msg" | grep -q "modprobe ublk_drv"; then
    pass "without ublk_drv: exit $rc, one line: $(echo "$msg" | tail -1)"
  else
    fail "without ublk_drv: rc=$rc: $msg"
  fi
fi
check "modprobe ublk_drv" modprobe ublk_drv
note "kernel $(uname -r), $(modinfo -F filename ublk_drv 2>/dev/null), $(nproc) CPUs"

# ---- 2. start ------------------------------------------------------------------------------------
start_pcache || { echo "cannot continue"; exit 1; }
grep -h "ublk device" "$OUT/pcache-1.log" | sed 's/^/  /'
check "size of $DEV is 256 MiB" test "$(blockdev --getsize64 "$DEV")" = 268435456
note "queue limits: logical $(cat /sys/block/${DEV#/dev/}/queue/logical_block_size)," \
  "physical $(cat /sys/block/${DEV#/dev/}/queue/physical_block_size)," \
  "max_sectors_kb $(cat /sys/block/${DEV#/dev/}/queue/max_sectors_kb)," \
  "write_cache '$(cat /sys/block/${DEV#/dev/}/queue/write_cache)'," \
  "fua $(cat /sys/block/${DEV#/dev/}/queue/fua 2>/dev/null)," \
  "discard_max $(cat /sys/block/${DEV#/dev/}/queue/discard_max_bytes)," \
  "write_zeroes_max $(cat /sys/block/${DEV#/dev/}/queue/write_zeroes_max_bytes)"

# ---- 3. file system ------------------------------------------------------------------------------
s=$(date +%s)
mkfs.ext4 -q -F "$DEV" "$FS_SIZE"
check "mkfs.ext4 on $DEV ($FS_SIZE, with discard) in $(elapsed "$s")" test $? -eq 0
check "mount $DEV" mount "$DEV" "$MNT"
s=$(date +%s)
mkdir -p "$MNT/dir/sub"
head -c 5M /dev/urandom > "$MNT/big.bin"
head -c 1M /dev/urandom > "$MNT/dir/one.bin"
for i in $(seq 20); do head -c $((i * 1000)) /dev/urandom > "$MNT/dir/sub/small-$i"; done
seq 100000 > "$MNT/dir/numbers.txt"
(cd "$MNT" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > /tmp/manifest
sync
drop_caches
if (cd "$MNT" && sha256sum --quiet -c /tmp/manifest); then
  pass "wrote $(wc -l < /tmp/manifest) files, dropped caches, read them back identical ($(elapsed "$s"))"
else
  fail "files read back differ"
fi

# ---- 4. fio --------------------------------------------------------------------------------------
s=$(date +%s)
fio --name=verify --filename="$MNT/fio.dat" --size=16M --rw=randwrite --bs=4k --iodepth=16 \
  --ioengine=io_uring --direct=1 --verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting \
  > "$OUT/fio-verify.log" 2>&1
rc=$?
grep -E "IOPS|err=|verify" "$OUT/fio-verify.log" | sed 's/^/  /' | head -6
if [ $rc -eq 0 ] && ! grep -q "verify: bad" "$OUT/fio-verify.log"; then
  pass "fio randwrite 16 MiB 4k qd16 io_uring direct + crc32c verify ($(elapsed "$s"))"
else
  fail "fio verify (rc=$rc, see $OUT/fio-verify.log)"
fi
s=$(date +%s)
fio --name=mixed --filename="$MNT/fio.dat" --size=16M --rw=randrw --rwmixread=70 --bs=16k --iodepth=32 \
  --ioengine=io_uring --direct=1 --runtime=10 --time_based --group_reporting > "$OUT/fio-mixed.log" 2>&1
rc=$?
grep -E "IOPS|err=" "$OUT/fio-mixed.log" | sed 's/^/  /' | head -4
check "fio randrw 70/30 16k qd32 for 10 s without errors" test $rc -eq 0
rm -f "$MNT/fio.dat"
check "umount" umount "$MNT"

# ---- 5. stop -------------------------------------------------------------------------------------
stop_pcache

# ---- 6. restart, fsck, files ---------------------------------------------------------------------
start_pcache --ublk.queues 2 --ublk.queue-depth 32 || { echo "cannot continue"; exit 1; }
grep -h "ublk device" "$OUT/pcache-$RUN.log" | sed 's/^/  /'
check "two hardware queues" test "$(ls /sys/block/${DEV#/dev/}/mq | wc -l)" = 2
s=$(date +%s)
fsck.ext4 -n -f "$DEV" > "$OUT/fsck-1.log" 2>&1
check "fsck.ext4 -n -f after restart ($(elapsed "$s"))" test $? -eq 0
mount "$DEV" "$MNT" && (cd "$MNT" && sha256sum --quiet -c /tmp/manifest)
check "after restart the $(wc -l < /tmp/manifest) files are identical" test $? -eq 0
umount "$MNT"

# ---- 7. kill -9 during writes --------------------------------------------------------------------
head -c 8M /dev/urandom > /tmp/flushed
head -c 32M /dev/urandom > /tmp/unflushed
dd if=/tmp/flushed of="$DEV" bs=1M seek=$RAW_FLUSHED_MB oflag=direct conv=fsync status=none
check "8 MiB written raw at $RAW_FLUSHED_MB MiB with fsync (FLUSH)" test $? -eq 0
dd if=/tmp/unflushed of="$DEV" bs=64k seek=$((RAW_UNFLUSHED_MB * 16)) oflag=direct status=none \
  2> "$OUT/dd-killed.log" &
DD=$!
sleep 2
OLD_PID=$PID
kill -9 "$PID"
s=$(date +%s)
wait "$PID" 2>/dev/null
note "kill -9 of pcache (pid $OLD_PID) during a raw write: process gone after $(elapsed "$s")"
wait "$DD"; ddrc=$?
note "the killed writer ended with rc=$ddrc: $(head -c 200 "$OUT/dd-killed.log" | tr '\n' ' ')"
note "device nodes after the crash: $(ls /dev/ublk* 2>/dev/null | tr '\n' ' ')"

# ---- 8. restart after the crash ------------------------------------------------------------------
start_pcache --ublk.queues 2 --ublk.queue-depth 32 || { echo "cannot continue"; exit 1; }
if grep -q "deleting the dead ublk device" "$OUT/pcache-$RUN.log"; then
  pass "restart after kill -9 deleted the dead device: $(grep -o 'deleting the dead ublk device [0-9]* ([^)]*)' "$OUT/pcache-$RUN.log" | head -1)"
else
  note "restart after kill -9 found no dead device to delete"
fi
dd if="$DEV" of=/tmp/flushed.back bs=1M skip=$RAW_FLUSHED_MB count=8 iflag=direct status=none
check "flushed data survived kill -9 (8 MiB identical)" cmp -s /tmp/flushed /tmp/flushed.back
dd if="$DEV" of=/tmp/unflushed.back bs=1M skip=$RAW_UNFLUSHED_MB count=32 iflag=direct status=none
verdict=$(python3 - /tmp/unflushed /tmp/unflushed.back <<'PY'
import sys
new = open(sys.argv[1], 'rb').read()
got = open(sys.argv[2], 'rb').read()
zero = bytes(512)
n_new = n_old = n_bad = 0
for i in range(0, len(got), 512):
    s = got[i:i + 512]
    if s == new[i:i + 512]:
        n_new += 1
    elif s == zero:
        n_old += 1
    else:
        n_bad += 1
print(n_new, n_old, n_bad)
PY
)
read -r n_new n_old n_bad <<< "$verdict"
if [ "${n_bad:-1}" = 0 ]; then
  pass "unflushed region after kill -9: $n_new sectors new, $n_old old, none garbage"
else
  fail "unflushed region after kill -9: $n_bad garbage sectors ($n_new new, $n_old old)"
fi
fsck.ext4 -n -f "$DEV" > "$OUT/fsck-2.log" 2>&1
check "fsck.ext4 -n -f after the crash" test $? -eq 0
mount "$DEV" "$MNT" && (cd "$MNT" && sha256sum --quiet -c /tmp/manifest)
check "after the crash the $(wc -l < /tmp/manifest) files are identical" test $? -eq 0
umount "$MNT"

# ---- 9. SIGTERM while mounted ---------------------------------------------------------------------
mount "$DEV" "$MNT" && head -c 1M /dev/urandom > "$MNT/unsynced.bin"
kill -TERM "$PID"
s=$(date +%s)
for _ in $(seq 120); do [ -e "$DEV" ] || break; sleep 0.25; done
sleep 3
if [ ! -e "$DEV" ] && kill -0 "$PID" 2>/dev/null; then
  pass "SIGTERM while mounted: $DEV removed after $(elapsed "$s"), pcache waits for the umount"
else
  fail "SIGTERM while mounted: device $(ls "$DEV" 2>&1), pcache $(kill -0 "$PID" 2>/dev/null && echo runs || echo exited)"
fi
timeout 120 umount "$MNT"
note "umount of the removed device: rc=$? ($(dmesg | grep -c 'ublkb') kernel lines mention ublkb; I/O errors expected)"
s=$(date +%s)
for _ in $(seq 240); do kill -0 "$PID" 2>/dev/null || break; sleep 0.25; done
if kill -0 "$PID" 2>/dev/null; then
  fail "pcache still runs 60 s after the umount"
  kill -9 "$PID"
else
  wait "$PID"
  check "after the umount pcache deleted the device and exited (in $(elapsed "$s"))" \
    test ! -e "/dev/ublkc${DEV#/dev/ublkb}"
fi
note "total $(elapsed "$T0") in the guest (TCG: timings are not performance figures)"
echo "---- summary ($FAILS failed) ----"
cat "$SUMMARY"
[ $FAILS -eq 0 ]
