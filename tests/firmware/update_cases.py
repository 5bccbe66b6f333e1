# The update decisions and the archive installer (fw.update), run the same on CPython and
# on the MicroPython VM: boots of a trial version, confirm, the trial window, commands,
# and archives streamed into an in-memory flash whole, corrupted, cut short or hostile.

import json

from fw import update
from ramflash import RamFlash


def archive(files):
    out = update.ARCHIVE_MAGIC
    for name, data in files:
        out += ("%s %d\n" % (name, len(data))).encode() + data
    return out


def sha_hex(data):
    import hashlib
    d = hashlib.sha256(data).digest()
    return "".join("%02x" % b for b in d)


def install(data, chunk, size=None, sha=None):
    fl = RamFlash()
    cmd = {"version": "1.0", "size": len(data) if size is None else size,
           "sha256": sha_hex(data) if sha is None else sha}
    inst = update.Installer("/data/ota/b", cmd, fl.open, fl)
    ok = True
    for i in range(0, len(data), chunk):
        if not inst.feed(data[i:i + chunk]):
            ok = False
            break
    reason = inst.finish()
    files = sorted(k for k in fl.files if k.startswith("/data/ota/b/"))
    return [ok, reason, files, [len(fl.files[k]) for k in files]]


def boots(state, outcomes):
    """Run boots: each outcome is "crash" (never confirms) or "online" (confirms)."""
    out = []
    for o in outcomes:
        slot, state = update.at_boot(state)
        if o == "online":
            st = update.confirm(state)
            if st is not None:
                state = st
        out.append([slot, state.get("active"), state.get("trial"), state.get("tries", 0),
                    state.get("last")])
    return out, state


def run():
    r = {}
    start = {"active": "a", "active_version": "1.0"}
    st = update.installed(start, update.other_slot(start), "2.0")
    r["installed"] = [st["trial"], st["trial_version"], st["last"]]
    r["crash_twice"], rolled = boots(st, ["crash", "crash", "crash", "online"])
    r["crash_twice_failed"] = rolled.get("failed_version")
    r["online_at_once"], _ = boots(st, ["online", "crash"])
    r["online_second"], _ = boots(st, ["crash", "online"])
    r["factory_first"], _ = boots(update.installed({}, update.other_slot({}), "2.0"),
                                  ["crash", "crash", "crash"])
    hung = update.expire(update.at_boot(st)[1])
    r["hung"] = [update.at_boot(hung)[0], update.at_boot(hung)[1]["last"]]
    r["expire_idle"] = update.expire(start)
    r["confirm_idle"] = update.confirm(start)
    good = {"v": 1, "version": "2.0", "url": "https://x.org/api/firmware/2.0/archive",
            "sha256": "ab" * 32, "size": 1000, "sig": "cd" * 64}
    cmds = [good]
    for k, v in (("url", "http://x.org/a"), ("size", 0), ("size", 2 * 1024 * 1024),
                 ("sha256", "AB" * 32), ("sig", "cd" * 63), ("version", "2 0"), ("v", 2),
                 ("version", "x" * 25)):
        c = dict(good)
        c[k] = v
        cmds.append(c)
    r["parse"] = [update.parse_command(json.dumps(c)) is not None for c in cmds]
    r["parse_junk"] = [update.parse_command(b""), update.parse_command(b"[1]")]
    r["wanted"] = [update.wanted(good, "1.0", start), update.wanted(good, "2.0", start),
                   update.wanted(good, "1.0", update.refused(start, "2.0", "bad_hash")),
                   update.wanted(good, "1.0", update.refused(start, "2.0", "download_failed")),
                   update.wanted(good, "1.0", st)]
    r["status"] = [update.status_fields({}), update.status_fields(st),
                   update.status_fields(update.refused(start, "2.0", "bad_hash")),
                   update.status_fields(rolled)]
    files = [("citizenwatt/__init__.mpy", b"M" * 10),
             ("citizenwatt/firmware/meter.mpy", bytes(range(256)) * 9),
             ("citizenwatt/firmware/empty.mpy", b"")]
    data = archive(files)
    r["whole"] = [install(data, 1), install(data, 100), install(data, 4096)]
    bad = bytearray(data)
    bad[200] ^= 1
    r["corrupt"] = install(bytes(bad), 64, sha=sha_hex(data))
    r["short"] = install(data[:-5], 64, size=len(data), sha=sha_hex(data))
    r["long"] = install(data + b"x", 64, size=len(data), sha=sha_hex(data))
    r["traversal"] = install(archive([("../boot.py", b"x")]), 64)
    r["absolute"] = install(archive([("/main.py", b"x")]), 64)
    r["not_archive"] = install(b"PK\x03\x04" + bytes(50), 64)
    return r
