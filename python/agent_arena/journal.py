"""The decision journal: every hello, register_tools, observe, action and tool_result, on disk.

Contract for the server (the hook):

- ``Journal(JournalConfig(path=...))`` never raises and never touches the disk on the caller's
  thread; ``path=None`` gives a journal that drops everything (``enabled`` is False).
- ``journal.record(kind, fields)`` is non-blocking and never raises: ``fields`` is packed to
  msgpack at once (a snapshot; the caller may mutate its objects afterwards) and queued for a
  background thread that appends it to the file. Values msgpack cannot encode are converted
  (dataclasses -> maps, tuples/sets -> lists, anything else -> ``str``). A full queue, an
  unpackable record or a file that cannot be written (permissions, disk full) drops records;
  the first such problem is logged once (``agent_arena.journal``), ``stats`` counts them.
- ``journal.close()`` writes what is queued, fsyncs unless ``fsync="never"`` and closes the
  file; blocking (call it from a thread, or ``await journal.aclose()`` in async code).

Each record is one msgpack map ``{"kind", "t" (unix seconds), "seq", **fields}``. The kinds and
the fields the server is asked to put in them (other fields are kept as they come):

    hello          session, client, v, tools (the session's full tool specs after the hello)
    register_tools session, tools (full specs after registration), replace
    observe        session, agent_id, tick, id, observation, tools (allowed names | None),
                   profile, deadline_ms
    action         session, agent_id, tick, id, backend, model, profile, tools (allowed names |
                   None), messages (the exact messages of the first request sent to the
                   backend, i.e. ``Outcome.request.messages``: what the model saw, tool list
                   included), prompt (those messages as parts: {system, tools (the block the
                   strategy appended to the system text, or None), thought, examples (example
                   turns), memory (lines), observation (rendered), possible (the masks line, or
                   None)}: prompt/parts.py; absent in older journals), sampling (dict),
                   raw_text, strategy, thought, call ({tool, arguments}; the fallback call when
                   one was sent), status, reason, latency_ms, usage ({prompt_tokens,
                   completion_tokens, attempts})
    tool_result    session, agent_id, tick, tool, ok, result, reward (optional number)

Every file starts with a ``{"kind": "journal", "format": 1, ...}`` record. Files rotate by size:
the live file is ``path``; when a write would take it past ``max_bytes`` it is renamed to
``path.N`` (N = 1, 2, ...: older first) and a new ``path`` begins. A journal opened over an
existing ``path`` moves that file aside the same way, so a record torn by a crash is always the
last one of its file. ``read_journal(path)`` yields the records of all files in order and stops
a file cleanly at a torn last record.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgpack

from agent_arena.config.fields import check_bounds, setting

log = logging.getLogger("agent_arena.journal")

FORMAT = 1
KINDS = ("hello", "register_tools", "observe", "action", "tool_result")
FSYNC_POLICIES = ("never", "rotate", "always")


@dataclass
class JournalConfig:
    """``server.journal``: off unless ``path`` is set."""

    path: str | None = setting(None, "live journal file; rotated files are path.1, path.2, ... "
                                     "(null: off)")
    max_bytes: int = setting(256 << 20, "rotate when a write would pass this (0: never rotate)",
                             ge=0)
    fsync: str = setting("never", "rotate: at rotation and close; always: after each "
                                  "batch", choices=FSYNC_POLICIES)
    queue_records: int = setting(100_000, "records waiting for the writer; more are dropped "
                                          "(counted)", ge=0)

    def __post_init__(self) -> None:
        check_bounds(self, "server.journal")


def _plain(value: Any) -> Any:
    """msgpack ``default``: what the server hands us is mostly maps, lists and dataclasses."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return str(value)


_STOP = object()


class Journal:
    def __init__(self, config: JournalConfig | None = None) -> None:
        self.config = config or JournalConfig()
        self.path = Path(self.config.path) if self.config.path else None
        self.stats = {"recorded": 0, "written": 0, "dropped": 0, "bytes": 0, "rotations": 0}
        self.error: str | None = None  # first problem, once reported
        self._seq = 0
        self._lock = threading.Lock()  # record() may be called from several threads
        self._queue: queue.Queue[Any] = queue.Queue(max(1, self.config.queue_records))
        self._file: BinaryIO | None = None
        self._size = 0
        self._closed = False
        self._warned = False
        self._thread: threading.Thread | None = None
        if self.path is not None:
            self._thread = threading.Thread(target=self._run, name="agent-arena-journal",
                                            daemon=True)
            self._thread.start()

    @property
    def enabled(self) -> bool:
        return self._thread is not None and self.error is None and not self._closed

    # ---- caller side (event loop) --------------------------------------------------------------

    def record(self, kind: str, fields: Mapping[str, Any]) -> None:
        """Queue one record; never blocks, never raises."""
        if not self.enabled:
            if self._thread is not None:
                self.stats["dropped"] += 1
            return
        try:
            with self._lock:
                self._seq += 1
                seq = self._seq
            data = msgpack.packb({"kind": kind, "t": time.time(), "seq": seq, **fields},
                                 default=_plain, use_bin_type=True)
            self._queue.put_nowait(data)
            self.stats["recorded"] += 1
        except queue.Full:
            self._drop(f"journal queue full ({self.config.queue_records} records): the disk "
                       "is slower than the decisions; records are dropped until it catches up")
        except Exception as exc:  # an unpackable value: drop this record, keep the journal
            self._drop(f"cannot encode a {kind!r} record: {type(exc).__name__}: {exc}")

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything recorded so far is written (tests, readers); True if done."""
        if self._thread is None or not self._thread.is_alive():
            return True
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is queued, fsync (unless ``never``), close. Blocking; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def _drop(self, why: str) -> None:
        """A record lost while the journal still works: counted; the first one is logged."""
        self.stats["dropped"] += 1
        if not self._warned:
            self._warned = True
            log.error("journal %s: %s (further drops are only counted in stats)", self.path, why)

    # ---- writer thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._open()
        except OSError as exc:
            self._fail(f"cannot open for writing ({exc.strerror or exc}); the server keeps "
                       "running without a journal")
        stop = False
        while not stop:
            batch: list[bytes] = []
            events: list[threading.Event] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    events.append(item)
                else:
                    batch.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch and self.error is None:
                try:
                    self._write(batch)
                except OSError as exc:
                    self._fail(f"write failed ({exc.strerror or exc}); further records are "
                               "dropped, the server keeps running")
            if self.error is not None:
                self.stats["dropped"] += len(batch)
            for e in events:
                e.set()
        self._finish()

    def _fail(self, why: str) -> None:
        if self.error is None:
            self.error = why
            log.error("journal %s: %s", self.path, why)
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def _open(self) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file() and self.path.stat().st_size > 0:  # never a device
            self._rotate_existing()
        self._file = open(self.path, "ab")  # noqa: SIM115 - owned by the writer thread
        self._size = 0
        from agent_arena import __version__

        header = msgpack.packb({"kind": "journal", "format": FORMAT, "t": time.time(),
                                "seq": 0, "agent_arena": __version__, "pid": os.getpid()})
        self._file.write(header)
        self._file.flush()
        self._size = len(header)

    def _rotate_existing(self) -> None:
        assert self.path is not None
        numbers = [n for n, _ in segments(self.path) if n is not None]
        os.replace(self.path, f"{self.path}.{max(numbers, default=0) + 1}")
        self.stats["rotations"] += 1

    def _write(self, batch: list[bytes]) -> None:
        if self._file is None:
            self._open()
        assert self._file is not None
        limit = self.config.max_bytes
        for data in batch:
            if limit and self._size + len(data) > limit and self._size > 0:
                self._file.flush()
                if self.config.fsync != "never":
                    os.fsync(self._file.fileno())
                self._file.close()
                self._file = None
                self._rotate_existing()
                self._open()
                assert self._file is not None
            self._file.write(data)
            self._size += len(data)
            self.stats["written"] += 1
            self.stats["bytes"] += len(data)
        self._file.flush()
        if self.config.fsync == "always":
            os.fsync(self._file.fileno())

    def _finish(self) -> None:
        if self._file is None:
            return
        try:
            self._file.flush()
            if self.config.fsync != "never":
                os.fsync(self._file.fileno())
            self._file.close()
        except OSError as exc:
            self._fail(f"close failed ({exc.strerror or exc})")
        self._file = None


# ---- reading -------------------------------------------------------------------------------------

_SEGMENT = re.compile(r"\.(\d+)$")


def segments(path: str | os.PathLike[str]) -> list[tuple[int | None, Path]]:
    """The journal's files in write order: ``path.1``, ``path.2``, ..., then ``path``."""
    path = Path(path)
    numbered = []
    if path.parent.is_dir():
        for p in path.parent.glob(f"{glob_escape(path.name)}.*"):
            m = _SEGMENT.search(p.name)
            if m and p.name == f"{path.name}.{m.group(1)}":
                numbered.append((int(m.group(1)), p))
    out: list[tuple[int | None, Path]] = sorted(numbered)
    if path.is_file():
        out.append((None, path))
    return out


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


@dataclass
class ReadReport:
    files: int = 0
    records: int = 0
    torn_bytes: int = 0  # bytes after the last whole record of a file (a torn write)
    corrupt: int = 0  # files whose middle did not decode (read up to there)


def read_journal(path: str | os.PathLike[str], *, kinds: tuple[str, ...] | None = None,
                 report: ReadReport | None = None) -> Iterator[dict[str, Any]]:
    """Records of every file of the journal at ``path``, oldest first.

    A file ending in a torn record (a crash mid-write) is read up to its last whole record;
    a file that stops decoding in the middle is read up to there. Both are logged, counted in
    ``report`` and never raised: a journal is evidence, read as much of it as there is.
    """
    report = report if report is not None else ReadReport()
    files = segments(path)
    if not files:
        raise FileNotFoundError(f"no journal at {path}")
    for _, file in files:
        report.files += 1
        with open(file, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            unpacker = msgpack.Unpacker(f, raw=False, strict_map_key=False,
                                        max_buffer_size=256 << 20)
            good = 0  # end of the last whole record (tell() is not that after OutOfData)
            while True:
                try:
                    record = unpacker.unpack()
                    good = unpacker.tell()
                except msgpack.OutOfData:
                    torn = size - good
                    if torn:
                        report.torn_bytes += torn
                        log.warning("journal %s: ends with a torn record (%d bytes ignored)",
                                    file, torn)
                    break
                except (ValueError, msgpack.UnpackException) as exc:
                    report.corrupt += 1
                    log.warning("journal %s: undecodable data at byte %d (%s); rest of the "
                                "file ignored", file, good, exc)
                    break
                if not isinstance(record, dict):
                    continue
                if kinds is None or record.get("kind") in kinds:
                    report.records += 1
                    yield record
