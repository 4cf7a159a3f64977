#!/usr/bin/env bash
# NBD side-by-side benchmark (issue 4): fio's nbd engine, 4 KiB random read (cache hits), random
# write, and random write with a FLUSH after every write, at QD1 and QD32, against pcache and, in the
# same run on the same machine, nbdkit memory (the NBD transport's ceiling here) and nbdkit file on
# the same disk-backed image, with and without its cache filter.
#
#   pcache-benchmarks/scripts/nbd-bench.sh [RUNTIME_SECONDS] [REPEATS]   > results.md
#
# Two pcache configurations: "pcache" with the defaults (writeback at once, as dm-pcache) on a 1 GiB
# cache, and "pcache-absorb" on a 16 GiB cache with writeback.dirty-percent 70 (writeback holds
# back while busy until 70 % of the cache is dirty, and writes everything back once idle), which
# absorbs every case of this script without writeback competing for the two cores; between cases
# it writes back while the script waits for the server to go idle.
#
# NBD_BENCH_SERVERS="nbdkit-memory pcache" runs only those servers (the first is the reference the
# ratios are computed against; keep nbdkit-memory first); NBD_BENCH_CASES="randwrite 32,randwrite-flush 32"
# only those cases; NBD_BENCH_PCACHE_FLAGS="--nbd.poll-us 0" adds flags to both pcache command lines.
#
# Needs: a built distribution (./mvnw -B -q install -DskipTests), fio, nbdkit, python3.
# pcache's cache media is a tmpfs file (emulated persistent memory); every backing image is a
# sparse file on the disk (/var/tmp). Each case runs REPEATS times (default 3); the table shows
# medians. Before each case the script waits until the server is idle (under 5 % of a CPU for a
# second), so that pcache's writeback of the prefill or of the previous case runs before, not
# during, the measurement; within a write case it runs as it would. The machine is noisy: compare
# the ratios, not the absolute numbers.
set -euo pipefail
RUNTIME=${1:-10}
REPEATS=${2:-3}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
PCACHE=$(ls -d "$REPO"/distribution/target/pcache-[0-9]*/ | head -n 1)
WORK=$(mktemp -d /var/tmp/pcache-nbd-bench.XXXXXX)
SHM=/dev/shm/pcache-nbd-bench-$$.img
PORT=10870
SPAN=256M
SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK" "$SHM"
}
trap cleanup EXIT

start() { # NAME: starts the server, sets SERVER_PID, waits until it answers
  local name=$1
  case $name in
    pcache | pcache-absorb)
      local sizing=(--cache.size 1G)
      [[ $name == pcache-absorb ]] && sizing=(--cache.size 16G --writeback.dirty-percent 70 --gc.threshold.percent 85)
      "$PCACHE/bin/pcache" run --data-dir "$WORK" --cache "file:$SHM" "${sizing[@]}" \
        --backing "file:$WORK/pcache-backing.img" --backing.size 4G --listen "127.0.0.1:$PORT" \
        ${NBD_BENCH_PCACHE_FLAGS:-} >"$WORK/pcache.log" 2>&1 & ;;
    nbdkit-memory) nbdkit -f -p "$PORT" -i 127.0.0.1 memory 4G & ;;
    nbdkit-file) truncate -s 4G "$WORK/file.img"; nbdkit -f -p "$PORT" -i 127.0.0.1 file "$WORK/file.img" & ;;
    nbdkit-file-cache) truncate -s 4G "$WORK/file.img"; nbdkit -f -p "$PORT" -i 127.0.0.1 --filter=cache file "$WORK/file.img" & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 900); do # formatting a 16 GiB cache on tmpfs takes a while
    nbdinfo --size "nbd://127.0.0.1:$PORT/" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server $name did not start" >&2
  cat "$WORK/pcache.log" >&2 2>/dev/null || true
  exit 1
}

stop() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  rm -f "$SHM" "$WORK"/*.img
}

fio_run() { # RW QD EXTRA... -> prints "iops p50_us p99_us"
  local rw=$1 qd=$2
  shift 2
  fio --name=b --ioengine=nbd --uri="nbd://127.0.0.1:$PORT/" --rw="$rw" --bs=4k --iodepth="$qd" \
    --size="$SPAN" --time_based --runtime="$RUNTIME" --ramp_time=1 --randrepeat=0 --norandommap \
    --output-format=json "$@" 2>/dev/null |
    python3 -c '
import json, sys
text = sys.stdin.read()
j = json.loads(text[text.index("{"):])["jobs"][0]  # fio prints "connected to NBD server" first
op = "read" if j["read"]["io_bytes"] > 0 else "write"
d = j[op]
pct = d["clat_ns"]["percentile"]
print("%.0f %.1f %.1f" % (d["iops"], pct["50.000000"] / 1000, pct["99.000000"] / 1000))'
}

cpu_ticks() { # CPU ticks used so far by the server and its children
  local total=0 p
  for p in $SERVER_PID $(pgrep -P "$SERVER_PID"); do
    [[ -r /proc/$p/stat ]] && total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$total"
}

settle() { # waits (180 s at most) until the server used under 5 % of a CPU for a second
  local before after
  for _ in $(seq 180); do
    before=$(cpu_ticks)
    sleep 1
    after=$(cpu_ticks)
    (( (after - before) * 100 < 5 * $(getconf CLK_TCK) )) && return 0
  done
  echo "$1: still busy after 180 s" >&2
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A RESULT
read -r -a SERVERS <<<"${NBD_BENCH_SERVERS:-nbdkit-memory pcache pcache-absorb nbdkit-file nbdkit-file-cache}"
CASES=("randread 1" "randread 32" "randwrite 1" "randwrite 32" "randwrite-flush 1" "randwrite-flush 32")
if [[ -n ${NBD_BENCH_CASES:-} ]]; then IFS=, read -r -a CASES <<<"$NBD_BENCH_CASES"; fi
for server in "${SERVERS[@]}"; do
  start "$server"
  # Prefill the span, so that reads are hits and writes overwrite.
  fio --name=fill --ioengine=nbd --uri="nbd://127.0.0.1:$PORT/" --rw=write --bs=1M --iodepth=8 --size="$SPAN" \
    >/dev/null 2>&1
  for c in "${CASES[@]}"; do
    read -r workload qd <<<"$c"
    extra=()
    rw=$workload
    if [[ $workload == randwrite-flush ]]; then rw=randwrite; extra=(--fsync=1); fi
    settle "$server"  # writeback of the prefill or of the previous case is not charged to this one
    iops=(); p50=(); p99=()
    for _ in $(seq "$REPEATS"); do
      read -r i a b < <(fio_run "$rw" "$qd" "${extra[@]}")
      iops+=("$i"); p50+=("$a"); p99+=("$b")
    done
    RESULT[$server,$c]="$(printf '%s\n' "${iops[@]}" | median) $(printf '%s\n' "${p50[@]}" | median) $(printf '%s\n' "${p99[@]}" | median)"
    echo "$server $c: ${RESULT[$server,$c]}" >&2
  done
  stop
done

echo "| workload | QD | server | IOPS | p50 µs | p99 µs | IOPS vs nbdkit memory | p50 vs nbdkit memory | p99 vs nbdkit memory |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in "${CASES[@]}"; do
  read -r workload qd <<<"$c"
  read -r mi mp50 mp99 <<<"${RESULT[nbdkit-memory,$c]}"
  for server in "${SERVERS[@]}"; do
    read -r i p50 p99 <<<"${RESULT[$server,$c]}"
    ratio=$(python3 -c "print('%.2f' % ($i / $mi if $mi else 0))")
    lat=$(python3 -c "print('%.2f' % ($p50 / $mp50 if $mp50 else 0))")
    lat99=$(python3 -c "print('%.2f' % ($p99 / $mp99 if $mp99 else 0))")
    echo "| $workload | $qd | $server | $i | $p50 | $p99 | ${ratio}x | ${lat}x | ${lat99}x |"
  done
done
