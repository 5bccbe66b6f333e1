# Citizen Watt store-and-forward: readings the broker has not acknowledged wait on flash,
# oldest first, in segment files of fixed-size binary records, and are replayed with their
# original sequence numbers and timestamps. When full, the oldest segment is dropped and
# the readings lost are counted (reported in the status as "dropped").
#
# Layout under root: NNNNNNNN.q segment files (records appended), "head" (replay cursor).
# Record: <len u16><adler32 u32><payload>; a torn tail (power cut mid-append) ends the scan.

import os
import struct

from .energy import adler32

FRAME = "<HI"
FRAME_SIZE = 6
# Reading: boot, seq, ts (0 = unsynced), up_ms, interval_s, channel count.
HEAD = "<IIIQfB"
HEAD_SIZE = struct.calcsize(HEAD)
# Channel: id, flags (1 apparent, 2 has voltage, 4 export counter follows), energy mWh,
# power W, Irms A, Vrms V, pf x 10000; with flag 4, then the export mWh. Records written
# before the export counter existed have no flag 4 and read back as they were.
CHAN = "<BBQfffh"
CHAN_SIZE = struct.calcsize(CHAN)
EXPORT = "<Q"
EXPORT_SIZE = 8
HAS_EXPORT = 4


def pack_reading(r):
    """Binary form of a reading tuple (boot, seq, ts, up_ms, interval_s, chans); chans:
    list of (id, energy_mwh, power_w, irms_a, vrms_v or None, pf or None[, export_mwh or
    None]), the export counter only on a bidirectional channel."""
    boot, seq, ts, up_ms, interval_s, chans = r
    size = HEAD_SIZE
    for c in chans:
        size += CHAN_SIZE + (EXPORT_SIZE if len(c) > 6 and c[6] is not None else 0)
    buf = bytearray(size)
    struct.pack_into(HEAD, buf, 0, boot, seq, ts or 0, up_ms, interval_s, len(chans))
    o = HEAD_SIZE
    for c in chans:
        has_v = c[4] is not None
        has_x = len(c) > 6 and c[6] is not None
        flags = (2 if has_v else 1) | (HAS_EXPORT if has_x else 0)
        struct.pack_into(CHAN, buf, o, c[0], flags, c[1], c[2], c[3],
                         c[4] if has_v else 0.0,
                         int(round(c[5] * 10000)) if has_v and c[5] is not None else 0)
        o += CHAN_SIZE
        if has_x:
            struct.pack_into(EXPORT, buf, o, c[6])
            o += EXPORT_SIZE
    return bytes(buf)


def unpack_reading(data):
    """The reading tuple of pack_reading; each channel with 7 fields, export_mwh None when
    the record has no export counter."""
    boot, seq, ts, up_ms, interval_s, n = struct.unpack_from(HEAD, data, 0)
    chans = []
    o = HEAD_SIZE
    for _ in range(n):
        cid, flags, mwh, p, i, v, pf = struct.unpack_from(CHAN, data, o)
        o += CHAN_SIZE
        x = None
        if flags & HAS_EXPORT:
            x = struct.unpack_from(EXPORT, data, o)[0]
            o += EXPORT_SIZE
        if flags & 2:
            chans.append((cid, mwh, p, i, v, pf / 10000, x))
        else:
            chans.append((cid, mwh, p, i, None, None, x))
    # f32 keeps ~7 digits: 10.000001 s is 10 s as sent.
    return (boot, seq, ts or None, up_ms, round(interval_s, 3), chans)


class Outbox:
    """A bounded FIFO of byte records on flash; keeps at least `capacity` records."""

    def __init__(self, root, capacity, per_segment=256, opener=open, fs=os):
        self.root = root
        self.capacity = capacity
        self.per_segment = per_segment
        self._open = opener
        self._fs = fs
        self.dropped = 0
        self._segs = []      # [segment number, record count], oldest first
        self._head_off = 0   # byte offset of the next record to replay in the first segment
        self._head_idx = 0   # its index within that segment
        self._pops = 0
        try:
            fs.mkdir(root)
        except OSError:
            pass
        names = []
        for name in fs.listdir(root):
            if name.endswith(".q"):
                names.append(name)
        names.sort()
        for name in names:
            self._segs.append([int(name[:-2]), len(self._scan(int(name[:-2])))])
        # Appends always go to a fresh segment after a boot: a torn tail stays behind.
        self._new_segment()
        self._read_head()

    def _path(self, num):
        return "%s/%08d.q" % (self.root, num)

    def _scan(self, num):
        """Offsets of the valid records of a segment, stopping at a torn tail."""
        offs = []  # type: list
        try:
            with self._open(self._path(num), "rb") as f:
                data = f.read()
        except OSError:
            return offs
        o = 0
        while o + FRAME_SIZE <= len(data):
            n, check = struct.unpack_from(FRAME, data, o)
            end = o + FRAME_SIZE + n
            if end > len(data) or adler32(memoryview(data)[o + FRAME_SIZE:end]) != check:
                break
            offs.append(o)
            o = end
        return offs

    def _new_segment(self):
        num = self._segs[-1][0] + 1 if self._segs else 1
        self._segs.append([num, 0])

    def _read_head(self):
        try:
            with self._open(self.root + "/head", "rb") as f:
                num, idx, off = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return
        if self._segs and self._segs[0][0] == num and idx <= self._segs[0][1]:
            self._head_idx = idx
            self._head_off = off

    def _write_head(self):
        # A cursor that cannot be written (flash full) only means replaying duplicates
        # after a reboot, which the collector ignores (it keys readings on boot and seq).
        try:
            with self._open(self.root + "/head", "wb") as f:
                f.write(("%d %d %d" % (self._segs[0][0], self._head_idx,
                                       self._head_off)).encode())
        except OSError:
            pass

    def __len__(self):
        n = 0
        for s in self._segs:
            n += s[1]
        return n - self._head_idx

    def push(self, payload):
        """Append one record; drop the oldest segment while the rest holds capacity.

        A flash that fills up before the queue does (OSError: ENOSPC) lowers the capacity
        to a segment under what it held, so a segment's worth of flash stays free for the
        energy checkpoint; the oldest records go (counted in dropped) and the append is
        tried once more. The meter never sees the error."""
        try:
            self._append(payload)
        except OSError:
            if self._segs[-1][1]:
                self._new_segment()  # a half-written record stays behind as a torn tail
            self.make_room()
            try:
                self._append(payload)
            except OSError:
                self.dropped += 1
                return
        self._bound()

    def make_room(self):
        """The flash is full: hold a segment less than now, from now on (the oldest
        readings go, counted in dropped), so that the freed segment stays free."""
        self.capacity = max(1, len(self) - self.per_segment)
        self._bound()

    def _append(self, payload):
        seg = self._segs[-1]
        if seg[1] >= self.per_segment:
            self._new_segment()
            seg = self._segs[-1]
        with self._open(self._path(seg[0]), "ab") as f:
            f.write(struct.pack(FRAME, len(payload), adler32(payload)) + payload)
        seg[1] += 1

    def _bound(self):
        while len(self._segs) > 1 and len(self) - (self._segs[0][1] - self._head_idx) >= self.capacity:
            self.dropped += self._segs[0][1] - self._head_idx
            self._drop_first()

    def _drop_first(self):
        num = self._segs.pop(0)[0]
        self._head_idx = 0
        self._head_off = 0
        try:
            self._fs.remove(self._path(num))
        except OSError:
            pass
        if not self._segs:
            self._new_segment()

    def peek(self):
        """The oldest record not yet acknowledged, or None."""
        while self._segs and self._head_idx >= self._segs[0][1]:
            if len(self._segs) == 1:
                return None
            self._drop_first()
            self._write_head()
        if not self._segs:
            return None
        with self._open(self._path(self._segs[0][0]), "rb") as f:
            f.seek(self._head_off)
            n, check = struct.unpack(FRAME, f.read(FRAME_SIZE))
            data = f.read(n)
        if len(data) != n or adler32(data) != check:
            # Unreadable: count it lost rather than block the queue forever.
            self.dropped += self._segs[0][1] - self._head_idx
            self._segs[0][1] = self._head_idx
            return self.peek()
        return data

    def pop(self):
        """Forget the record peek() returned (the broker acknowledged it)."""
        data = self.peek()
        if data is None:
            return
        self._head_idx += 1
        self._head_off += FRAME_SIZE + len(data)
        self._pops += 1
        if self._head_idx >= self._segs[0][1] and len(self._segs) > 1:
            self._drop_first()
            self._write_head()
        elif self._pops % 16 == 0:
            # Persist the cursor now and then: a power cut replays at most 16 duplicates,
            # which the collector ignores (it keys readings on boot and seq).
            self._write_head()

    def last(self):
        """The newest record (the energy floor at boot), or None."""
        for k in range(len(self._segs) - 1, -1, -1):
            # Replayed records count too: the broker acknowledged them, they are a floor.
            offs = self._scan(self._segs[k][0])
            if offs:
                with self._open(self._path(self._segs[k][0]), "rb") as f:
                    f.seek(offs[-1])
                    n, _ = struct.unpack(FRAME, f.read(FRAME_SIZE))
                    return f.read(n)
        return None
