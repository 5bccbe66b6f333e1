# An in-memory flash for tests, on MicroPython and CPython: open/listdir/remove/mkdir over a
# dict of path -> bytearray, with a power cut that can strike after any number of bytes or
# file operations (what was written up to then stays, the rest never happens).


class PowerCut(Exception):
    pass


class RamFlash:
    def __init__(self):
        self.files = {}
        self.dirs = {"": True}
        self.budget = -1  # steps left before the power cut; -1 = never
        self.steps = 0    # steps taken (opens, truncations, bytes written, removes)
        self.writes = 0   # file opens for writing: the flash-wear figure
        self.limit = -1   # bytes the flash holds; -1 = no limit (then OSError 28, ENOSPC)

    def _step(self):
        if self.budget == 0:
            raise PowerCut()
        if self.budget > 0:
            self.budget -= 1
        self.steps += 1

    def open(self, path, mode="r"):
        if "w" in mode or "a" in mode:
            self.writes += 1
            self._step()
            if "w" in mode or path not in self.files:
                self.files[path] = bytearray()
            return _File(self, path, len(self.files[path]), True, "b" in mode)
        if path not in self.files:
            raise OSError(2)
        return _File(self, path, 0, False, "b" in mode)

    def listdir(self, path):
        prefix = path.rstrip("/") + "/"
        out = []
        for p in list(self.files) + list(self.dirs):  # files, and folders as littlefs lists them
            if p.startswith(prefix):
                name = p[len(prefix):].split("/")[0]
                if name and name not in out:
                    out.append(name)
        return out

    def remove(self, path):
        if path not in self.files:
            raise OSError(2)
        self._step()
        del self.files[path]

    def rename(self, old, new):
        if old not in self.files:
            raise OSError(2)
        self._step()
        self.files[new] = self.files.pop(old)

    def rmdir(self, path):
        self.dirs.pop(path, None)

    def mkdir(self, path):
        if path in self.dirs:
            raise OSError(17)
        self.dirs[path] = True

    def size(self):
        n = 0
        for p in self.files:
            n += len(self.files[p])
        return n


class _File:
    def __init__(self, fl, path, pos, writable, binary):
        self.fl = fl
        self.path = path
        self.pos = pos
        self.writable = writable
        self.binary = binary

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        buf = self.fl.files[self.path]
        room = -1 if self.fl.limit < 0 else self.fl.limit - self.fl.size()
        for b in bytes(data):
            if room == 0:
                raise OSError(28)  # ENOSPC: what fitted stays written, as on littlefs
            self.fl._step()
            buf.append(b)
            room -= 1
        return len(data)

    def read(self, n=-1):
        buf = self.fl.files[self.path]
        end = len(buf) if n is None or n < 0 else min(len(buf), self.pos + n)
        data = bytes(buf[self.pos:end])
        self.pos = end
        return data if self.binary else data.decode()

    def seek(self, pos, whence=0):
        self.pos = pos
        return pos

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False
