"""A pickle reader for ``weights_only`` loading: data and allowed globals only, never arbitrary code.

:class:`WeightsUnpickler` interprets a pickle stream opcode by opcode, as
PyTorch's weights-only unpickler does, instead of handing it to :mod:`pickle`:

- a global (``GLOBAL``, ``STACK_GLOBAL``) resolves only through
  :func:`distgrad.safe_globals.resolve`, which imports nothing of the file's choosing;
- ``REDUCE`` calls, and ``NEWOBJ`` creates, only objects that came from an allowed
  global; ``BUILD`` sets state only on instances of allowed classes (and
  ``OrderedDict``, whose ``_metadata`` a state dict carries);
- ``APPEND``/``SETITEM``/``ADDITEMS`` act only on real lists, dicts and sets, or on
  instances of allowed classes;
- the memo is a dict, every length is checked against the bytes that remain, and
  any malformed stream ends in ``pickle.UnpicklingError`` naming the opcode and
  offset.

It reads protocols 1 to 5 (``torch.save`` writes 2).  The protocol-0 text
opcodes, ``INST``/``OBJ``, the copyreg extension opcodes and out-of-band buffers
are refused by name.

Example::

    >>> import io, pickle, collections
    >>> data = pickle.dumps(collections.OrderedDict(a=[1, 2.5, "x", None]), protocol=2)
    >>> WeightsUnpickler(io.BytesIO(data)).load()
    OrderedDict([('a', [1, 2.5, 'x', None])])
"""
import _compat_pickle
import collections
import pickle
import struct

from distgrad import safe_globals

MAX_LINE = 4096  # a GLOBAL's module or name line longer than this is refused


def _error(msg):
    return pickle.UnpicklingError(f"Weights only load failed: {msg}")


class WeightsUnpickler:
    """Reads one pickle from ``file`` (``read``/``readline``), resolving globals through the allowlist.

    ``persistent_load(pid)`` answers ``BINPERSID`` references (the checkpoint's
    storages); without it they are refused.
    """

    def __init__(self, file, persistent_load=None, encoding="utf-8"):
        self.file = file
        self.persistent_load = persistent_load
        self.encoding = encoding
        self.proto = 0

    # -- reading ----------------------------------------------------------------------------------------

    def _read(self, n):
        data = self.file.read(n)
        if len(data) != n:
            raise _error(f"pickle data was truncated (wanted {n} bytes, got {len(data)})")
        return data

    def _unpack(self, fmt):
        return struct.unpack(fmt, self._read(struct.calcsize(fmt)))[0]

    def _line(self):
        line = self.file.readline(MAX_LINE + 1)
        if not line.endswith(b"\n"):
            raise _error("a GLOBAL line is truncated or longer than 4096 bytes")
        return line[:-1].decode("utf-8")

    def _sized(self, fmt):
        n = self._unpack(fmt)
        if n < 0:
            raise _error(f"negative length {n}")
        return self._read(n)

    def _text(self, fmt):
        return self._sized(fmt).decode("utf-8", "surrogatepass")

    def _pop_mark(self):
        if not self.metastack:
            raise _error("MARK expected on the stack")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _pop(self):
        if not self.stack:
            raise _error("stack underflow")
        return self.stack.pop()

    def _top(self):
        if not self.stack:
            raise _error("stack underflow")
        return self.stack[-1]

    def _memo_get(self, i):
        if i not in self.memo:
            raise _error(f"memo key {i} is not defined")
        self.stack.append(self.memo[i])

    def _memo_put(self, i):
        self.memo[i] = self._top()

    # -- risky opcodes --------------------------------------------------------------------------------------

    def _global(self, module, name):
        if not isinstance(module, str) or not isinstance(name, str):
            raise _error("STACK_GLOBAL needs two strings")
        if self.proto < 3:  # Python 2 spellings, as pickle's fix_imports reads them
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        self.stack.append(safe_globals.resolve(module, name))

    def _reduce(self):
        args = self._pop()
        func = self._top()
        if not safe_globals.is_allowed_object(func):
            raise _error(f"REDUCE may only call allowed globals, got {type(func).__name__} {func!r:.60}")
        if not isinstance(args, tuple):
            raise _error(f"REDUCE arguments must be a tuple, got {type(args).__name__}")
        self.stack[-1] = func(*args)

    def _newobj(self, kwargs=None):
        args = self._pop()
        cls = self._pop()
        if not isinstance(cls, type) or not safe_globals.is_allowed_object(cls):
            raise _error(f"NEWOBJ may only create allowed classes, got {cls!r:.60}")
        if not isinstance(args, tuple) or not isinstance(kwargs or {}, dict):
            raise _error("NEWOBJ arguments must be a tuple (and a dict)")
        self.stack.append(cls.__new__(cls, *args, **(kwargs or {})))

    def _newobj_ex(self):
        kwargs = self._pop()
        if not isinstance(kwargs, dict):
            raise _error(f"NEWOBJ_EX keyword arguments must be a dict, got {type(kwargs).__name__}")
        self._newobj(kwargs)

    def _build(self):
        state = self._pop()
        inst = self._top()
        if type(inst) is collections.OrderedDict:
            if not isinstance(state, dict):
                raise _error("an OrderedDict's state must be a dict")
            inst.__dict__.update(state)
            return
        if not safe_globals.is_allowed_object(type(inst)):
            raise _error(f"BUILD may only set the state of instances of allowed classes, got {type(inst).__name__}")
        setstate = getattr(inst, "__setstate__", None)
        if setstate is not None:
            setstate(state)
            return
        slotstate = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slotstate = state
        for part in (state, slotstate):
            if part is not None and (not isinstance(part, dict) or not all(isinstance(k, str) for k in part)):
                raise _error(f"{type(inst).__name__}'s state must be dicts of attribute names")
        if state:
            inst.__dict__.update(state)
        for k, v in (slotstate or {}).items():
            setattr(inst, k, v)

    def _persid(self):
        pid = self._pop()
        if self.persistent_load is None:
            raise _error("the pickle refers to persistent objects, which this file format does not have")
        self.stack.append(self.persistent_load(pid))

    # -- containers -------------------------------------------------------------------------------------------

    def _target(self, kinds, op):
        obj = self._top()
        if type(obj) not in kinds and not safe_globals.is_allowed_object(type(obj)):
            raise _error(f"{op} may only fill a {' or '.join(k.__name__ for k in kinds)}, "
                         f"got {type(obj).__name__}")
        return obj

    def _append(self):
        item = self._pop()
        self._target((list,), "APPEND").append(item)

    def _appends(self):
        items = self._pop_mark()
        target = self._target((list,), "APPENDS")
        if type(target) is list:
            target.extend(items)
        else:
            for item in items:
                target.append(item)

    def _setitems(self, items, op):
        if len(items) % 2:
            raise _error(f"{op} needs key/value pairs")
        target = self._target((dict, collections.OrderedDict, collections.Counter), op)
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def _setitem(self):
        value = self._pop()
        key = self._pop()
        self._setitems([key, value], "SETITEM")

    def _dict(self):
        items = self._pop_mark()
        if len(items) % 2:
            raise _error("DICT needs key/value pairs")
        self.stack.append({items[i]: items[i + 1] for i in range(0, len(items), 2)})

    def _additems(self):
        items = self._pop_mark()
        target = self._top()
        if type(target) is not set:
            raise _error(f"ADDITEMS may only fill a set, got {type(target).__name__}")
        target.update(items)

    def _tuple(self, n):
        if len(self.stack) < n:
            raise _error("stack underflow")
        items = tuple(self.stack[len(self.stack) - n:])
        del self.stack[len(self.stack) - n:]
        self.stack.append(items)

    def _mark(self):
        self.metastack.append(self.stack)
        self.stack = []

    def _frame(self):
        self._unpack("<Q")  # framing is an I/O hint; the stream reads the same without it

    def _proto(self):
        self.proto = self._read(1)[0]
        if not 0 <= self.proto <= pickle.HIGHEST_PROTOCOL:
            raise _error(f"unsupported pickle protocol {self.proto}")

    def _string(self, fmt):
        raw = self._sized(fmt)
        if self.encoding == "bytes":
            self.stack.append(raw)
        else:
            self.stack.append(raw.decode(self.encoding))

    def _long(self, fmt):
        self.stack.append(int.from_bytes(self._sized(fmt), "little", signed=True))

    # -- the opcode table ------------------------------------------------------------------------------------

    def _table(self):
        push = self.stack_push
        return {
            pickle.PROTO: self._proto, pickle.FRAME: self._frame,
            pickle.MARK: self._mark, pickle.POP: self._pop, pickle.DUP: lambda: push(self._top()),
            pickle.POP_MARK: self._pop_mark,
            pickle.NONE: lambda: push(None), pickle.NEWTRUE: lambda: push(True),
            pickle.NEWFALSE: lambda: push(False),
            pickle.BININT: lambda: push(self._unpack("<i")), pickle.BININT1: lambda: push(self._read(1)[0]),
            pickle.BININT2: lambda: push(self._unpack("<H")),
            pickle.LONG1: lambda: self._long("<B"), pickle.LONG4: lambda: self._long("<i"),
            pickle.BINFLOAT: lambda: push(self._unpack(">d")),
            pickle.SHORT_BINSTRING: lambda: self._string("<B"), pickle.BINSTRING: lambda: self._string("<i"),
            pickle.SHORT_BINUNICODE: lambda: push(self._text("<B")),
            pickle.BINUNICODE: lambda: push(self._text("<I")), pickle.BINUNICODE8: lambda: push(self._text("<Q")),
            pickle.SHORT_BINBYTES: lambda: push(self._sized("<B")), pickle.BINBYTES: lambda: push(self._sized("<I")),
            pickle.BINBYTES8: lambda: push(self._sized("<Q")),
            pickle.BYTEARRAY8: lambda: push(bytearray(self._sized("<Q"))),
            pickle.EMPTY_TUPLE: lambda: push(()), pickle.TUPLE: lambda: push(tuple(self._pop_mark())),
            pickle.TUPLE1: lambda: self._tuple(1), pickle.TUPLE2: lambda: self._tuple(2),
            pickle.TUPLE3: lambda: self._tuple(3),
            pickle.EMPTY_LIST: lambda: push([]), pickle.LIST: lambda: push(self._pop_mark()),
            pickle.APPEND: self._append, pickle.APPENDS: self._appends,
            pickle.EMPTY_DICT: lambda: push({}), pickle.DICT: self._dict,
            pickle.SETITEM: self._setitem, pickle.SETITEMS: lambda: self._setitems(self._pop_mark(), "SETITEMS"),
            pickle.EMPTY_SET: lambda: push(set()), pickle.ADDITEMS: self._additems,
            pickle.FROZENSET: lambda: push(frozenset(self._pop_mark())),
            pickle.GLOBAL: lambda: self._global(self._line(), self._line()),
            pickle.STACK_GLOBAL: self._stack_global,
            pickle.REDUCE: self._reduce, pickle.NEWOBJ: self._newobj, pickle.NEWOBJ_EX: self._newobj_ex,
            pickle.BUILD: self._build, pickle.BINPERSID: self._persid,
            pickle.BINGET: lambda: self._memo_get(self._read(1)[0]),
            pickle.LONG_BINGET: lambda: self._memo_get(self._unpack("<I")),
            pickle.BINPUT: lambda: self._memo_put(self._read(1)[0]),
            pickle.LONG_BINPUT: lambda: self._memo_put(self._unpack("<I")),
            pickle.MEMOIZE: lambda: self._memo_put(len(self.memo)),
        }

    def stack_push(self, value):
        self.stack.append(value)

    def _stack_global(self):
        name = self._pop()
        module = self._pop()
        self._global(module, name)

    def load(self):
        """Read one pickle up to its STOP and return the object it builds.

        Example::

            >>> import io, pickle
            >>> WeightsUnpickler(io.BytesIO(pickle.dumps({1: (2, b"x")}, protocol=4))).load()
            {1: (2, b'x')}
        """
        self.stack, self.metastack, self.memo = [], [], {}
        table = self._table()
        while True:
            at = self.file.tell() if hasattr(self.file, "tell") else None
            op = self.file.read(1)
            if not op:
                raise _error("pickle data was truncated (no STOP opcode)")
            if op == pickle.STOP:
                if len(self.stack) != 1 or self.metastack:
                    raise _error("STOP with an unbalanced stack")
                return self.stack[0]
            handler = table.get(op)
            if handler is None:
                raise _error(f"unsupported pickle opcode {op!r} at offset {at}"
                             f" ({_NAMES.get(op, 'unknown')})")
            try:
                handler()
            except (pickle.UnpicklingError, NotImplementedError):
                raise
            except RecursionError:
                raise _error(f"structure too deeply nested at offset {at}") from None
            except RuntimeError as e:  # the loader's own errors (a damaged record, no CUDA) keep their type
                if type(e) is not RuntimeError:
                    raise _error(f"{_NAMES.get(op, op)} at offset {at} failed: {type(e).__name__}: {e}") from e
                raise
            except Exception as e:  # an allowed callable or container refused its arguments
                raise _error(f"{_NAMES.get(op, op)} at offset {at} failed: {type(e).__name__}: {e}") from e


_NAMES = {getattr(pickle, n): n for n in dir(pickle) if n.isupper() and isinstance(getattr(pickle, n), bytes)
          and len(getattr(pickle, n)) == 1}
