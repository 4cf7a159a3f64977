#!/bin/bash
# nbd-vm-test.sh - pcache's NBD front-end under the kernel's NBD client, end to end, in the
# vmtest guest (../shared/vmtest: Debian's 6.1 kernel under qemu TCG, the host's root file system
# as the guest's root, read-only with a tmpfs overlay).
#
# On the host:   pcache-frontend-nbd/src/test/vm/nbd-vm-test.sh
#   Needs the harness (../shared/vmtest next to the repository, or VMTEST_DIR; its setup.sh is
#   run once, a no-op when everything is in place) and a built distribution: the unpacked
#   distribution/target/pcache-VERSION/ (./mvnw -B -o -q install -DskipTests), or else the
#   tarball next to it, which is unpacked into NBD_VM_OUT. NBD_VM_DIST=DIR picks another one.
#   Logs land in NBD_VM_OUT (default pcache-frontend-nbd/target/nbd-vm).
# Exit status: 0 when nothing failed, 1 when something did, 2 when the harness or the build is
# missing (with a SKIP line saying which).
#
# In the guest (VMTEST_GUEST=1, started by the host part), modprobe nbd, then
#   pcache run listening on TCP 127.0.0.1:10809 and on a Unix socket (cache: a file on tmpfs,
#   backing: a 256 MiB image file)
#   phase 1 (clean stop), the kernel client on the Unix socket:
#     nbd-client; mkfs.ext4 /dev/nbd0; mount; files with random content (sha256 recorded); sync;
#     umount; nbd-client -d; SIGTERM (clean shutdown logged); restart; reconnect;
#     fsck.ext4 -n -f clean; mount; every file identical
#   phase 2 (kill -9), the kernel client on TCP:
#     more files, sync, then a writer still writing unsynced files; kill -9 of pcache with the
#     file system mounted; umount of the dead device (I/O errors expected); nbd-client -d;
#     restart (the log names the replayed ksets); reconnect; mount + umount (journal replay);
#     fsck.ext4 -n -f clean; every file synced before the kill identical; SIGTERM
#
# JVM start-up under TCG takes a minute or more, most of it loading and linking classes, so the
# host part first trains an AOT cache with a short `pcache run` on the host (.ci/vm-aot-cache.sh,
# about 20 s) and the guest's pcache uses it, which about halves each start in the guest. It
# changes where classes come from, not what runs; NBD_VM_AOT=0 turns it off.
# Every check prints PASS or FAIL (NOTE lines record behaviour and timings); the summary is in
# NBD_VM_OUT/summary.txt. Timings are TCG timings: behaviour, never performance.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODULE=$(cd "$HERE/../../.." && pwd)
REPO=$(cd "$MODULE/.." && pwd)
OUT=${NBD_VM_OUT:-$MODULE/target/nbd-vm}

# ------------------------------------------------------------------------------------------------
# Host side: find the harness and the distribution, start the guest with this script.
if [ -z "${VMTEST_GUEST:-}" ]; then
  T0=$(date +%s)
  VMTEST_DIR=${VMTEST_DIR:-$REPO/../shared/vmtest}
  if [ ! -x "$VMTEST_DIR/run-in-vm.sh" ]; then
    echo "SKIP: nbd VM test: no vmtest harness at $VMTEST_DIR (set VMTEST_DIR)"
    exit 2
  fi
  if ! "$VMTEST_DIR/setup.sh" > /dev/null 2>&1; then
    echo "SKIP: nbd VM test: $VMTEST_DIR/setup.sh failed (root needed for its packages?)"
    exit 2
  fi
  mkdir -p "$OUT"
  rm -rf "$OUT"/*.log "$OUT"/summary.txt "$OUT"/unpacked
  DIST=${NBD_VM_DIST:-}
  if [ -z "$DIST" ]; then
    DIST=$(ls -d "$REPO"/distribution/target/pcache-[0-9]*/ 2>/dev/null | head -1)
    DIST=${DIST%/}
  fi
  if [ -z "$DIST" ]; then
    TARBALL=$(ls "$REPO"/distribution/target/pcache-[0-9]*.tar.gz 2>/dev/null | head -1)
    if [ -n "$TARBALL" ]; then
      mkdir -p "$OUT/unpacked" && tar -xzf "$TARBALL" -C "$OUT/unpacked"
      DIST=$(ls -d "$OUT"/unpacked/pcache-[0-9]*/ 2>/dev/null | head -1)
      DIST=${DIST%/}
    fi
  fi
  if [ -z "$DIST" ] || [ ! -x "$DIST/bin/pcache" ] || ! ls "$DIST"/lib/pcache-frontend-nbd-*.jar > /dev/null 2>&1; then
    echo "SKIP: nbd VM test: no distribution with the nbd front-end under $REPO/distribution/target; build it with"
    echo "      ./mvnw -B -o -q install -DskipTests"
    exit 2
  fi
  echo "nbd VM test: distribution $DIST, logs in $OUT"
  JAVA_OPTS=
  if [ "${NBD_VM_AOT:-1}" != 0 ] && [ -x "$REPO/.ci/vm-aot-cache.sh" ]; then
    s=$(date +%s)
    JAVA_OPTS=$("$REPO/.ci/vm-aot-cache.sh" "$DIST" "$OUT")
    [ -n "$JAVA_OPTS" ] && echo "nbd VM test: AOT cache for the guest's JVM trained on the host in $(( $(date +%s) - s )) s"
  fi
  "$VMTEST_DIR/run-in-vm.sh" --mem 3G --timeout "${NBD_VM_TIMEOUT:-1800}" --rw "$OUT" \
    --env "NBD_VM_OUT=$OUT" --env "NBD_VM_DIST=$DIST" \
    --env "PCACHE_JAVA_OPTS=$JAVA_OPTS" -- "$HERE/nbd-vm-test.sh"
  rc=$?
  case $rc in
    0) verdict="passed" ;;
    124) verdict="TIMEOUT (NBD_VM_TIMEOUT=${NBD_VM_TIMEOUT:-1800} s)"; rc=1 ;;
    125) verdict="the guest failed before the test reported (see the console above)"; rc=1 ;;
    *) verdict="FAILED (exit $rc)"; rc=1 ;;
  esac
  echo "nbd VM test: $verdict in $(( $(date +%s) - T0 )) s on the host (boot included), summary $OUT/summary.txt"
  exit $rc
fi

# ------------------------------------------------------------------------------------------------
# Guest side.
DIST=${NBD_VM_DIST:?}
PCACHE=$DIST/bin/pcache
FAILS=0
SUMMARY=$OUT/summary.txt
T0=$(date +%s)
pass() { echo "PASS: $*" | tee -a "$SUMMARY"; }
fail() { echo "FAIL: $*" | tee -a "$SUMMARY"; FAILS=$((FAILS + 1)); }
note() { echo "NOTE: $*" | tee -a "$SUMMARY"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what (rc=$?: $*)"; fi; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
finish() {
  note "total $(elapsed "$T0") in the guest (TCG: timings are not performance figures)"
  echo "---- summary ($FAILS failed) ----"
  cat "$SUMMARY"
  [ "$FAILS" -eq 0 ] && [ "${1:-0}" -eq 0 ]
  exit $?
}
abort() { fail "$*: cannot continue"; finish 1; }

CACHE_IMG=/dev/shm/cache.img    # tmpfs: survives pcache's restarts, not the guest
BACKING_IMG=/tmp/backing.img
SOCKET=/tmp/pcache.sock
PORT=10809
NBD=/dev/nbd0
MNT=/mnt/n
MANIFEST_A=/tmp/manifest-a      # phase 1's files
MANIFEST_B=/tmp/manifest-b      # phase 2's files, synced before the kill
mkdir -p "$MNT"
truncate -s 256M "$BACKING_IMG"

PID=
RUN=0
TCP_URI=nbd://127.0.0.1:$PORT/pcache
UNIX_URI="nbd+unix:///pcache?socket=$SOCKET"
# Starts pcache listening on TCP and on the Unix socket; waits until both answer NBD.
start_pcache() {
  local log s
  RUN=$((RUN + 1))
  log=$OUT/pcache-$RUN.log
  s=$(date +%s)
  "$PCACHE" run --frontend nbd --cache "file:$CACHE_IMG" --cache.size 512M --backing "file:$BACKING_IMG" \
    --listen "127.0.0.1:$PORT" --nbd.socket "$SOCKET" > "$log" 2>&1 &
  PID=$!
  for _ in $(seq 2400); do
    nbdinfo --size "$TCP_URI" > /dev/null 2>&1 && nbdinfo --size "$UNIX_URI" > /dev/null 2>&1 && {
      pass "start $RUN: pcache serves $TCP_URI and $UNIX_URI after $(elapsed "$s") ($(grep -o -m1 -E 'formatted[^;,]*|replayed [0-9]* ksets, [0-9]* keys' "$log" | head -1))"
      return 0
    }
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.25
  done
  fail "start $RUN: pcache does not serve both $TCP_URI and $UNIX_URI (log $log):"
  tail -5 "$log"
  return 1
}

# SIGTERM and wait; checks the exit status and the clean-shutdown line.
stop_pcache() {
  local s rc
  s=$(date +%s)
  kill -TERM "$PID"
  for _ in $(seq 480); do kill -0 "$PID" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$PID" 2>/dev/null; then
    fail "stop $RUN: pcache still runs 120 s after SIGTERM; killing it"
    kill -9 "$PID"
  fi
  wait "$PID"; rc=$?
  # 143 = 128 + SIGTERM: the JVM's status after its shutdown hooks ran on a signal
  if { [ $rc -eq 0 ] || [ $rc -eq 143 ]; } && grep -q 'stopped; status' "$OUT/pcache-$RUN.log"; then
    pass "stop $RUN: SIGTERM, exit $rc and a clean shutdown in $(elapsed "$s"): $(grep -o -m1 'stopped; status.*' "$OUT/pcache-$RUN.log")"
  else
    fail "stop $RUN: SIGTERM: exit $rc, log ends: $(tail -3 "$OUT/pcache-$RUN.log" | tr '\n' ' ')"
  fi
  grep -E "WARN|ERROR|Exception" "$OUT/pcache-$RUN.log" | head -5
}

# nbd-client on $1 (unix:PATH or host:port); waits until the kernel reports the size.
connect() {
  local listen=$1 s out
  s=$(date +%s)
  case $listen in
    unix:*) out=$(nbd-client -unix "${listen#unix:}" -N pcache "$NBD" -b 4096 2>&1) ;;
    *) out=$(nbd-client "${listen%:*}" "${listen##*:}" -N pcache "$NBD" -b 4096 2>&1) ;;
  esac
  local rc=$?
  for _ in $(seq 40); do [ "$(blockdev --getsize64 "$NBD" 2>/dev/null)" = 268435456 ] && break; sleep 0.25; done
  if [ $rc -eq 0 ] && [ "$(blockdev --getsize64 "$NBD" 2>/dev/null)" = 268435456 ]; then
    pass "nbd-client $listen -> $NBD (256 MiB) in $(elapsed "$s")"
    return 0
  fi
  fail "nbd-client $listen -> $NBD: rc=$rc, size $(blockdev --getsize64 "$NBD" 2>&1): $(echo "$out" | tr '\n' ' ')"
  return 1
}

disconnect() {
  local out
  out=$(nbd-client -d "$NBD" 2>&1)
  check "nbd-client -d $NBD${1:+ ($1)}" test $? -eq 0 || echo "$out"
  for _ in $(seq 40); do [ "$(blockdev --getsize64 "$NBD" 2>/dev/null)" = 0 ] && break; sleep 0.25; done
}

# Files with random content under $MNT/$1, checksums appended to $2.
write_files() {
  local dir=$1 manifest=$2 i
  mkdir -p "$MNT/$dir/sub"
  head -c 3M /dev/urandom > "$MNT/$dir/big.bin"
  head -c 512K /dev/urandom > "$MNT/$dir/half.bin"
  for i in $(seq 12); do head -c $((i * 1500 + 7)) /dev/urandom > "$MNT/$dir/sub/small-$i"; done
  seq 50000 > "$MNT/$dir/numbers.txt"
  (cd "$MNT" && find "$dir" -type f -print0 | sort -z | xargs -0 sha256sum) >> "$manifest"
}

files_identical() { # MANIFEST
  (cd "$MNT" && sha256sum --quiet -c "$1")
}

fsck_clean() { # LABEL
  local s rc
  s=$(date +%s)
  fsck.ext4 -n -f "$NBD" > "$OUT/fsck-$1.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    pass "fsck.ext4 -n -f ($1): clean in $(elapsed "$s"): $(tail -1 "$OUT/fsck-$1.log")"
  else
    fail "fsck.ext4 -n -f ($1): exit $rc (log $OUT/fsck-$1.log): $(tail -5 "$OUT/fsck-$1.log" | tr '\n' ' ')"
  fi
}

# ---- set-up -------------------------------------------------------------------------------------
s=$(date +%s)
check "modprobe nbd nbds_max=2" modprobe nbd nbds_max=2
note "kernel $(uname -r), $(nproc) CPUs, $(nbd-client --version 2>&1 | head -1), $("$PCACHE" --version 2>&1 | head -1) ($(elapsed "$s"))"

# ---- phase 1: clean stop and restart, Unix socket -----------------------------------------------
P1=$(date +%s)
echo "==== phase 1: mkfs, files, umount, SIGTERM, restart, fsck, compare (unix socket)"
start_pcache || abort "start"
connect "unix:$SOCKET" || abort "phase 1"
s=$(date +%s)
mkfs.ext4 -q -F -b 4096 "$NBD" > "$OUT/mkfs.log" 2>&1
check "mkfs.ext4 $NBD in $(elapsed "$s")" test $? -eq 0
check "mount $NBD" mount "$NBD" "$MNT"
s=$(date +%s)
: > "$MANIFEST_A"
write_files a "$MANIFEST_A"
check "sync ($(wc -l < "$MANIFEST_A") files, $(du -sh "$MNT/a" | cut -f1) written in $(elapsed "$s"))" sync
check "umount" umount "$MNT"
disconnect "after umount"
stop_pcache
start_pcache || abort "phase 1 restart"
connect "unix:$SOCKET" || abort "phase 1 restart"
fsck_clean "after SIGTERM and restart"
mount "$NBD" "$MNT" && files_identical "$MANIFEST_A"
check "after SIGTERM and restart the $(wc -l < "$MANIFEST_A") files are identical" test $? -eq 0
note "phase 1 took $(elapsed "$P1")"

# ---- phase 2: kill -9 with the file system mounted, TCP ------------------------------------------
umount "$MNT"
disconnect "to switch to TCP"
P2=$(date +%s)
echo "==== phase 2: files, sync, kill -9 while mounted and writing, restart, fsck, compare (tcp)"
connect "127.0.0.1:$PORT" || abort "phase 2"
check "mount $NBD" mount "$NBD" "$MNT"
s=$(date +%s)
: > "$MANIFEST_B"
write_files b "$MANIFEST_B"
check "sync ($(wc -l < "$MANIFEST_B") more files in $(elapsed "$s"))" sync
# Unsynced writes in flight when pcache dies: they may or may not survive; the file system must.
( i=0; while [ $i -lt 200 ]; do head -c 256K /dev/urandom > "$MNT/unsynced-$i.bin" || break; i=$((i + 1)); done ) \
  2> "$OUT/unsynced-writer.log" &
WRITER=$!
sleep 2
OLD=$PID
kill -9 "$PID"
wait "$PID" 2>/dev/null
s=$(date +%s)
note "kill -9 of pcache (pid $OLD) with $MNT mounted and a writer running"
# The writer's current 'head' too, not only its subshell: left running, it keeps a file open on
# the mount and umount says "target is busy" (seen once under a loaded host).
pkill -P "$WRITER" 2>/dev/null
kill "$WRITER" 2>/dev/null
wait "$WRITER" 2>/dev/null
werr=$(head -1 "$OUT/unsynced-writer.log")
note "the writer of unsynced files: ${werr:-stopped by kill, no error seen}"
# The dead device: umount (the journal cannot be written: I/O errors expected), then disconnect.
for try in 1 2 3; do
  timeout 120 umount "$MNT" > "$OUT/umount-dead.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] && break
  note "umount try $try: $(cat "$OUT/umount-dead.log"); still open there: $(fuser -vm "$MNT" 2>&1 | tr -s ' \n' ' ')"
  pkill -f 'head -c 256K /dev/urandom' 2>/dev/null
  sleep 2
done
if [ $rc -eq 0 ]; then
  pass "umount of the file system on the dead $NBD in $(elapsed "$s") (kernel: $(dmesg | grep -c -E 'nbd0|I/O error') lines mention nbd0 or I/O errors)"
else
  fail "umount of the file system on the dead $NBD: rc=$rc $(cat "$OUT/umount-dead.log")"
  umount -l "$MNT" 2>/dev/null
fi
dmesg | grep -E 'nbd|EXT4' | tail -6 | sed 's/^/  kernel: /'
disconnect "of the dead connection"
start_pcache || abort "phase 2 restart"
connect "127.0.0.1:$PORT" || abort "phase 2 restart"
# Unmounted uncleanly: fsck -n does not replay the journal, so a first check may complain; the
# kernel replays it on mount, after which the file system must be clean.
fsck.ext4 -n "$NBD" > "$OUT/fsck-before-replay.log" 2>&1
note "fsck.ext4 -n before the journal replay: exit $? ($(grep -m1 -i 'journal' "$OUT/fsck-before-replay.log" || tail -1 "$OUT/fsck-before-replay.log"))"
s=$(date +%s)
mount "$NBD" "$MNT" && umount "$MNT"
check "mount + umount after kill -9 (journal replay) in $(elapsed "$s")" test $? -eq 0
fsck_clean "after kill -9 and restart"
mount "$NBD" "$MNT" && files_identical "$MANIFEST_A" && files_identical "$MANIFEST_B"
check "after kill -9 the $(cat "$MANIFEST_A" "$MANIFEST_B" | wc -l) files synced before the kill are identical" test $? -eq 0
note "$(ls "$MNT" | grep -c '^unsynced-') of the unsynced files written before the kill are present"
umount "$MNT"
disconnect "at the end"
stop_pcache
note "phase 2 took $(elapsed "$P2")"
finish 0
