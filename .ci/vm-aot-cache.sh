#!/bin/bash
# vm-aot-cache.sh - trains an AOT cache (JEP 483/514, -XX:AOTCacheOutput) for a distribution's
# JVM on the host, for the VM tests' guests.
#
# usage: .ci/vm-aot-cache.sh DIST OUTDIR
#   Starts DIST/bin/pcache run (nbd front-end, a 512 MiB cache file and a 256 MiB backing image
#   in OUTDIR, a Unix socket), writes, flushes and reads 1 MiB through it (nbdinfo, qemu-io),
#   stops it with SIGTERM and prints the JVM option that uses the cache
#   (-XX:AOTCache=OUTDIR/pcache.aot), or nothing when it could not make one. Exit status 0 either
#   way: the cache only makes the guest start faster.
#
# Why: under TCG a JVM start of `pcache run` takes a minute or more, most of it loading and
# linking classes; with the cache it takes about half as long. It changes where the classes
# come from, not what runs. The cache is valid only for the same java and the same module path,
# so train it on the directory the guest will run (the host's root is the guest's root).
set -u
DIST=${1:?usage: vm-aot-cache.sh DIST OUTDIR}
DIR=${2:?usage: vm-aot-cache.sh DIST OUTDIR}
mkdir -p "$DIR" || exit 0
AOT=$DIR/pcache.aot
rm -f "$AOT" "$AOT".config "$DIR"/aot-train.*
command -v nbdinfo > /dev/null || { echo "vm-aot-cache: no nbdinfo, no AOT cache" >&2; exit 0; }
SOCK=$DIR/aot-train.sock
URI="nbd+unix:///pcache?socket=$SOCK"
truncate -s 256M "$DIR/aot-train.backing"
PCACHE_JAVA_OPTS="-XX:AOTCacheOutput=$AOT" "$DIST/bin/pcache" run --frontend nbd \
  --cache "file:$DIR/aot-train.cache" --cache.size 512M --backing "file:$DIR/aot-train.backing" \
  --listen "unix:$SOCK" > "$DIR/aot-train.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  nbdinfo --size "$URI" > /dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.2
done
if command -v qemu-io > /dev/null; then
  qemu-io -f raw "$URI" -c 'write 0 1M' -c 'flush' -c 'read 0 1M' > /dev/null 2>&1
fi
kill -TERM $pid 2>/dev/null
wait $pid 2>/dev/null
rm -f "$DIR"/aot-train.cache "$DIR"/aot-train.backing "$SOCK"
if [ -s "$AOT" ]; then
  echo "-XX:AOTCache=$AOT"
else
  echo "vm-aot-cache: no AOT cache made (see $DIR/aot-train.log)" >&2
fi
exit 0
