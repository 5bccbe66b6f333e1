# Checks of the energy and queue modules that run unchanged on the MicroPython VM and on
# CPython (the firmware imported as package `fw`). Each returns a dict of findings; the
# pytest side asserts on them.

import json

from fw.energy import CheckpointPolicy, Integrator, StateStore
from fw.outbox import FRAME_SIZE, Outbox, pack_reading, unpack_reading
from ramflash import PowerCut, RamFlash


def _clone(fl):
    c = RamFlash()
    for p in fl.files:
        c.files[p] = bytearray(fl.files[p])
    for d in fl.dirs:
        c.dirs[d] = True
    return c


def _load(fl):
    st = StateStore("/st.a", "/st.b", fl.open)
    return st.load()


def power_cut_checkpoint():
    """Cut the power at every step (open, each byte) of three successive checkpoint
    writes; after each cut the restored counters must be the last completed checkpoint
    or the one being written: never older (backwards), never anything else (forwards)."""
    values = [[1000, 2000], [1500, 2600], [1800, 2600], [2400, 3100]]
    base = RamFlash()
    st = StateStore("/st.a", "/st.b", base.open)
    st.load()
    st.write({"mwh": values[0], "boot": 1})
    # Count the steps of the three later writes.
    probe = _clone(base)
    st = StateStore("/st.a", "/st.b", probe.open)
    st.load()
    probe.steps = 0
    for v in values[1:]:
        st.write({"mwh": v, "boot": 1})
    total = probe.steps
    cuts = 0
    outcomes = {"old": 0, "new": 0}
    bad = []
    for k in range(total + 1):
        fl = _clone(base)
        st = StateStore("/st.a", "/st.b", fl.open)
        st.load()
        fl.budget = k
        done = 0
        try:
            for v in values[1:]:
                st.write({"mwh": v, "boot": 1})
                done += 1
        except PowerCut:
            cuts += 1
        fl.budget = -1
        got = _load(fl)["mwh"]
        completed = values[done]
        writing = values[done + 1] if done + 1 < len(values) else completed
        if got == completed:
            outcomes["old"] += 1
        elif got == writing:
            outcomes["new"] += 1
        else:
            bad.append([k, got, completed, writing])
        # And the meter goes on: the next write after the reboot lands and is read back.
        st2 = StateStore("/st.a", "/st.b", fl.open)
        st2.load()
        st2.write({"mwh": [9999, 9999], "boot": 2})
        if _load(fl)["mwh"] != [9999, 9999]:
            bad.append([k, "no recovery"])
    return {"steps": total, "cuts": cuts, "outcomes": outcomes, "bad": bad}


def integrator():
    it = Integrator(2)
    t = 0
    for _ in range(361):             # 1000 W and 0 W for one hour, 10 s steps
        it.add([1000.0, 0.0], t)
        t += 10000
    one_hour = list(it.mwh)
    it = Integrator(1)
    it.add([0.0], 0)
    it.add([3600.0], 3600000)         # a ramp 0 -> 3600 W over 1 h: 1800 Wh
    ramp = it.mwh[0]
    it = Integrator(1, [5000])
    seen = [5000]
    t = 0
    for p in (100.0, -300.0, -50.0, 0.0, 20.0, -1.0, 7.5):
        it.add([p], t)
        t += 2000
        seen.append(it.mwh[0])
    never_down = all(seen[i + 1] >= seen[i] for i in range(len(seen) - 1))
    # Tiny powers still add up thanks to the carry: 0.5 W for 10 h = 5 Wh.
    it = Integrator(1)
    t = 0
    for _ in range(3601):
        it.add([0.5], t)
        t += 10000
    pol = CheckpointPolicy()
    pol.saved([0], 0)
    policy = [pol.due([19999], 200000), pol.due([20000], 100000), pol.due([20000], 120000),
              pol.due([1], 3600000), pol.due([0], 99999999)]
    return {"one_hour": one_hour, "ramp": ramp, "never_down": never_down,
            "tiny": it.mwh[0], "policy": policy}


def reading(boot, seq, mwh):
    return (boot, seq, 1790000000 + seq * 10, seq * 10000, 10.0,
            [(0, mwh, 412.5, 1.87, 231.2, 0.95), (1, mwh // 3, 12.0, 0.05, None, None)])


def outbox_fifo():
    """Capacity, drop-oldest with a count, replay oldest first with the original fields."""
    fl = RamFlash()
    ob = Outbox("/q", 300, per_segment=64, opener=fl.open, fs=fl)
    for s in range(500):
        ob.push(pack_reading(reading(3, s, 1000 + s)))
    queued = len(ob)
    dropped = ob.dropped
    rec_bytes = len(pack_reading(reading(3, 0, 1)))
    flash_bytes = fl.size()
    # Reboot: the queue is found again on flash.
    ob = Outbox("/q", 300, per_segment=64, opener=fl.open, fs=fl)
    after_boot = len(ob)
    seqs = []
    first = None
    while True:
        data = ob.peek()
        if data is None:
            break
        r = unpack_reading(data)
        if first is None:
            first = r
        seqs.append(r[1])
        ob.pop()
    in_order = all(seqs[i + 1] == seqs[i] + 1 for i in range(len(seqs) - 1))
    return {"queued": queued, "dropped": dropped, "after_boot": after_boot,
            "replayed": len(seqs), "first_seq": seqs[0], "last_seq": seqs[-1],
            "in_order": in_order, "first": [first[0], first[1], first[2], first[3], first[4],
                                             [list(c) for c in first[5]]],
            "rec_bytes": rec_bytes, "flash_bytes": flash_bytes, "left": len(ob),
            "files": len(fl.files)}


def outbox_power_cut():
    """A cut in the middle of an append (torn tail) and in the middle of a replay: after
    the reboot nothing acknowledged is lost, the order holds, duplicates stay few."""
    fl = RamFlash()
    ob = Outbox("/q", 1000, per_segment=32, opener=fl.open, fs=fl)
    for s in range(50):
        ob.push(pack_reading(reading(1, s, s)))
    fl.budget = 20                    # dies 20 bytes into record 50
    try:
        ob.push(pack_reading(reading(1, 50, 50)))
    except PowerCut:
        pass
    fl.budget = -1
    ob = Outbox("/q", 1000, per_segment=32, opener=fl.open, fs=fl)
    n_after_cut = len(ob)
    for s in range(51, 60):
        ob.push(pack_reading(reading(1, s, s)))
    # Replay 23, then the power goes.
    for _ in range(23):
        ob.pop()
    ob = Outbox("/q", 1000, per_segment=32, opener=fl.open, fs=fl)
    last = ob.last()                  # the energy floor a booting meter reads
    seqs = []
    while True:
        data = ob.peek()
        if data is None:
            break
        seqs.append(unpack_reading(data)[1])
        ob.pop()
    return {"n_after_cut": n_after_cut, "replayed_first": seqs[0], "replayed_last": seqs[-1],
            "replayed": len(seqs), "in_order": all(seqs[i + 1] > seqs[i] for i in range(len(seqs) - 1)),
            "last_seq": unpack_reading(last)[1] if last else None}


CHECKS = ("power_cut_checkpoint", "integrator", "outbox_fifo", "outbox_power_cut",
          "outbox_flash_full")


def outbox_flash_full():
    """The flash fills up while offline: the oldest records make room (counted as dropped),
    the meter gets no error, and the queue replays in order, also after a reboot."""
    fl = RamFlash()
    rec = FRAME_SIZE + len(pack_reading(reading(3, 0, 1)))
    fl.limit = rec * 100 + rec // 2          # room for 100 records, then ENOSPC mid-record
    ob = Outbox("/q", 1000, per_segment=32, opener=fl.open, fs=fl)
    errors = 0
    for s in range(300):
        try:
            ob.push(pack_reading(reading(3, s, 1000 + s)))
        except OSError:
            errors += 1
    queued = len(ob)
    dropped = ob.dropped
    after_boot = len(Outbox("/q", 1000, per_segment=32, opener=fl.open, fs=fl))
    seqs = []
    while True:
        d = ob.peek()
        if d is None:
            break
        seqs.append(unpack_reading(d)[1])
        ob.pop()
    return {"errors": errors, "queued": queued, "dropped": dropped, "after_boot": after_boot,
            "seqs": seqs}


def main(names):
    for name in names:
        r = globals()[name]()
        r["check"] = name
        print(json.dumps(r))
