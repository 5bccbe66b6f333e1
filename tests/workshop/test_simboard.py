"""The simulated board speaks the raw REPL as mpremote expects, and our Board link turns
every transport failure into a sentence."""

from __future__ import annotations

import hashlib
import os

import pytest
from mpremote.transport_serial import SerialTransport

from citizenwatt.workshop.board import Board
from citizenwatt.workshop.errors import WorkshopError


def test_mpremote_raw_repl_and_raw_paste(boards):
    sim = boards()
    t = SerialTransport(sim.port, timeout=5)
    try:
        t.enter_raw_repl()
        assert t.eval("6*7") == 42
        assert t.use_raw_paste is True  # raw-paste was accepted, not the fallback
        data = os.urandom(3000)
        t.fs_mkdir("/d")
        t.fs_writefile("/d/f.bin", data)
        assert sim.fs.read("/d/f.bin") == data
        assert t.fs_hashfile("/d/f.bin", "sha256") == hashlib.sha256(data).digest()
        assert bytes(t.fs_readfile("/d/f.bin")) == data
        assert [e.name for e in t.fs_listdir("/d")] == ["f.bin"]
        with pytest.raises(OSError) as e:
            t.fs_stat("/nope")
        assert e.value.errno == 2
    finally:
        t.close()


def test_plain_raw_repl_without_raw_paste(boards):
    sim = boards()
    t = SerialTransport(sim.port, timeout=5)
    t.use_raw_paste = False
    try:
        t.enter_raw_repl()
        assert t.eval("'%d' % (2**10)") == "1024"
        t.exec("x = 5")
        assert t.eval("x + 1") == 6  # globals persist between commands, like the board
    finally:
        t.close()


def test_board_errors_are_sentences(boards):
    sim = boards()
    with Board(sim.port) as b:
        with pytest.raises(WorkshopError) as e:
            b.exec("raise ValueError('boom')")
        assert e.value.key == "board.exec_failed" and "ValueError: boom" in str(e.value)
        assert b.read_file("/missing") is None
        assert b.sha256("/missing") is None
    with pytest.raises(WorkshopError) as e:
        Board("/dev/does-not-exist").open()
    assert e.value.key == "board.not_found"
    assert "Branchez la carte" in str(e.value)


def test_unplug_during_a_command_says_plug_back(boards):
    sim = boards()
    sim.on_exec = lambda code: "w(" in code  # pull the cable at the first data chunk
    with Board(sim.port) as b:
        with pytest.raises(WorkshopError) as e:
            b.write_file("/x.py", b"x" * 4000)
    assert e.value.key == "board.gone"
    assert "Rebranchez-la" in str(e.value) and "depuis le début" in str(e.value)


def test_busy_port_is_named(boards):
    import serial
    sim = boards()
    holder = serial.Serial(sim.port, exclusive=True)
    try:
        with pytest.raises(WorkshopError) as e:
            Board(sim.port).open()
        assert e.value.key == "board.busy"
    finally:
        holder.close()


def test_english_messages(boards, monkeypatch):
    monkeypatch.setenv("CITIZENWATT_LANG", "en")
    with pytest.raises(WorkshopError) as e:
        Board("/dev/does-not-exist").open()
    assert str(e.value).startswith("No board on /dev/does-not-exist")
