#!/usr/bin/python3
"""Write load and check for `pcache run` over NBD, used by dax-vm-test.sh (needs python3-libnbd).

  nbd-load.py write URI STATE ROUND   flushed writes, then unflushed writes until the server dies
  nbd-load.py verify URI STATE        every flushed write recorded in STATE must read back

write: 24 extents of 4 KiB to 1 MiB at random 4 KiB-aligned offsets in the 96 MiB window of
ROUND, random content, a flush after every 3 extents; each extent is appended to STATE (one JSON
line: offset, length, sha256, seed) only once the flush that covers it has returned. Then it
prints FLUSHED N and keeps writing random data, never flushed, to the window at 800 MiB until the
connection breaks (the script kills the server meanwhile). A later round may overwrite an
earlier round's extent only within its own window, so every recorded extent stays the latest
content of its range.
"""
import hashlib
import json
import random
import sys

import nbd

WINDOW = 96 << 20
UNFLUSHED_BASE = 800 << 20


def connect(uri):
    h = nbd.NBD()
    h.connect_uri(uri)
    return h


def payload(seed, length):
    return random.Random(seed).randbytes(length)


def write(uri, state, rnd):
    h = connect(uri)
    rng = random.Random(1000 + rnd)
    base = rnd * WINDOW
    pending = []
    done = 0
    taken = []
    for i in range(24):
        length = rng.choice([4096, 16384, 65536, 262144, 1 << 20])
        while True:
            offset = base + rng.randrange(0, (WINDOW - length) // 4096) * 4096
            if all(offset + length <= o or o + l <= offset for o, l in taken):
                break
        taken.append((offset, length))
        seed = rnd * 1000 + i
        data = payload(seed, length)
        h.pwrite(data, offset)
        pending.append({"offset": offset, "length": length, "sha256": hashlib.sha256(data).hexdigest(),
                        "seed": seed, "round": rnd})
        if len(pending) == 3:
            h.flush()
            with open(state, "a") as f:
                for p in pending:
                    f.write(json.dumps(p) + "\n")
                f.flush()
            done += len(pending)
            pending = []
    print("FLUSHED %d" % done, flush=True)
    n = 0
    try:
        while True:
            offset = UNFLUSHED_BASE + (n % 1024) * 65536
            h.pwrite(random.Random(n).randbytes(65536), offset)
            n += 1
            if n % 64 == 0:
                print("UNFLUSHED %d" % n, flush=True)
    except Exception as e:  # the server was killed: expected
        print("UNFLUSHED %d then: %s" % (n, e), flush=True)


def verify(uri, state):
    h = connect(uri)
    records = [json.loads(line) for line in open(state)]
    bad = 0
    for r in records:
        data = h.pread(r["length"], r["offset"])
        if hashlib.sha256(data).hexdigest() != r["sha256"]:
            bad += 1
            print("MISMATCH round %d offset %d length %d" % (r["round"], r["offset"], r["length"]), flush=True)
    print("VERIFIED %d of %d flushed extents (%d bytes)" % (len(records) - bad, len(records),
                                                          sum(r["length"] for r in records)), flush=True)
    h.shutdown()
    return 0 if bad == 0 and records else 1


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "verify":
        sys.exit(verify(sys.argv[2], sys.argv[3]))
    else:
        sys.exit("usage: nbd-load.py write URI STATE ROUND | verify URI STATE")
