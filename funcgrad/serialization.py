"""Checkpoints of params and optimizer state: ``save(path, tree)`` and ``load(path, like=None)``.

One ``.npz`` file (NumPy's zip of ``.npy`` arrays, written with ``allow_pickle=False``)
holds one array per leaf plus a JSON header: format version, each leaf's dtype,
shape and CRC-32, and a description of the tree's structure (dicts, lists, tuples,
None and NamedTuples by module and qualified name).  Loading runs no pickled code and
imports nothing: a NamedTuple class is looked up by name in the modules already
imported, and only accepted if it is a NamedTuple with the saved fields.

Writes are atomic: the file is written to a temporary file in the same directory
(``.NAME.<random>.tmp``), flushed and fsync-ed, then renamed over ``path`` with
``os.replace``, and the directory is fsync-ed; a crash at any point (even ``kill -9``)
leaves the previous checkpoint intact.  A truncated, corrupt or foreign file raises
:class:`CheckpointError` (a ``ValueError``) naming the file and what is wrong with it;
a ``like`` of another structure raises :class:`~funcgrad.errors.TreeStructureError`
naming the first differing path.

The header's format ``version`` says how the file is laid out.  Files of every version
up to :data:`VERSION` load; a file of a newer version raises :class:`CheckpointError`
saying to upgrade.  Fields a reader does not know are ignored, so adding one does not
need a new version; only a change that an older reader would misread does.
"""
import collections
import io
import json
import os
import secrets
import sys
import zlib

import numpy as np

from . import tree
from .errors import DTypeError, FuncgradError, ShapeError, TreeStructureError

__all__ = ["save", "load", "CheckpointError"]

FORMAT = "funcgrad-checkpoint"
VERSION = 1
_HEADER = "__funcgrad_header__"


class CheckpointError(FuncgradError, ValueError):
    """A checkpoint file is truncated, corrupt, or not a funcgrad checkpoint."""


# ----------------------------------------------------------------------------- structure description

def _describe(node):
    """JSON description of a pytree whose leaves were replaced by their indices, or None
    when it holds a node kind the format cannot name (a custom registered class)."""
    if type(node) is int:
        return {"t": "leaf", "i": node}
    if node is None:
        return {"t": "none"}
    if type(node) in (dict, collections.OrderedDict):
        keys = []
        for k in node:
            if type(k) not in (str, int):
                return None
            keys.append([type(k).__name__, k])
        children = [_describe(node[k]) for k in node]
        kind = "dict" if type(node) is dict else "odict"
        return None if None in children else {"t": kind, "keys": keys, "children": children}
    if type(node) in (list, tuple) or (isinstance(node, tuple) and hasattr(type(node), "_fields")):
        children = [_describe(c) for c in node]
        if None in children:
            return None
        if type(node) is list:
            return {"t": "list", "children": children}
        if type(node) is tuple:
            return {"t": "tuple", "children": children}
        cls = type(node)
        if "<locals>" in cls.__qualname__:
            return None
        return {"t": "namedtuple", "module": cls.__module__, "qualname": cls.__qualname__,
                "fields": list(cls._fields), "children": children}
    return None


def _namedtuple_class(module, qualname, fields):
    """The NamedTuple class a checkpoint names, looked up in modules already imported:
    loading a file never imports (runs) a module it names."""
    obj = sys.modules.get(module)
    try:
        if obj is None:
            raise ImportError(f"module {module!r} is not imported; import it before loading")
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise CheckpointError(f"the checkpoint names the NamedTuple {module}.{qualname}, which cannot be "
                              f"found ({e}); import its module first, or pass like= to load it into a "
                              "structure of your own") from None
    if not (isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")):
        raise CheckpointError(f"the checkpoint names {module}.{qualname} as a NamedTuple, but it is "
                              f"{type(obj).__name__}; refusing to build it")
    if list(obj._fields) != list(fields):
        raise CheckpointError(f"the NamedTuple {module}.{qualname} now has fields {list(obj._fields)}, the "
                              f"checkpoint has {list(fields)}")
    return obj


def _rebuild(desc, leaves):
    t = desc["t"]
    if t == "leaf":
        return leaves[desc["i"]]
    if t == "none":
        return None
    children = [_rebuild(c, leaves) for c in desc["children"]]
    if t in ("dict", "odict"):
        keys = [int(v) if kind == "int" else str(v) for kind, v in desc["keys"]]
        items = zip(keys, children, strict=True)
        return dict(items) if t == "dict" else collections.OrderedDict(items)
    if t == "list":
        return children
    if t == "tuple":
        return tuple(children)
    if t == "namedtuple":
        return _namedtuple_class(desc["module"], desc["qualname"], desc["fields"])(*children)
    raise CheckpointError(f"unknown node kind {t!r} in the structure description")


# ----------------------------------------------------------------------------- leaves

def _encode_leaf(x, index):
    """``(array to store, meta)`` for one leaf; Python and NumPy scalars remember what they were."""
    if isinstance(x, np.generic):          # before the Python types: np.float64 is a float subclass
        kind = "np_scalar"
    elif type(x) in (bool, int, float):
        kind = "py:" + type(x).__name__
    else:
        kind = "array"
    try:
        arr = np.asarray(x)
    except Exception as e:  # a traced value, or an object NumPy cannot hold
        raise TypeError(f"save: leaf {index} ({type(x).__name__}) is not an array ({e}); save concrete arrays, "
                        "not traced values") from None
    if arr.dtype.kind not in "biufcV" or arr.dtype.hasobject:
        raise TypeError(f"save: leaf {index} has dtype {arr.dtype}; only numeric arrays can be saved")
    arr = np.array(arr, order="C", copy=None)   # (np.ascontiguousarray would make a 0-d array 1-d)
    meta = {"kind": kind, "dtype": arr.dtype.str, "shape": list(arr.shape)}
    if arr.dtype.type.__module__.startswith("ml_dtypes"):        # bfloat16, float8_*: store the raw bits
        meta["ml_dtype"] = arr.dtype.name
        arr = arr.view(np.dtype(f"u{arr.dtype.itemsize}"))
        meta["dtype"] = arr.dtype.str
    elif arr.dtype.kind == "V":
        raise TypeError(f"save: leaf {index} has dtype {arr.dtype}; only numeric arrays can be saved")
    meta["crc32"] = zlib.crc32(arr.tobytes())
    return arr, meta


def _decode_leaf(arr, meta, index):
    if arr.dtype.str != meta["dtype"] or list(arr.shape) != list(meta["shape"]):
        raise CheckpointError(f"leaf {index} is {arr.dtype}{list(arr.shape)}, the header says "
                              f"{meta['dtype']}{meta['shape']}")
    if zlib.crc32(arr.tobytes()) != meta["crc32"]:
        raise CheckpointError(f"leaf {index} fails its checksum: the file is corrupt")
    if "ml_dtype" in meta:
        import ml_dtypes
        arr = arr.view(np.dtype(getattr(ml_dtypes, meta["ml_dtype"])))
    kind = meta["kind"]
    if kind.startswith("py:"):
        return {"bool": bool, "int": int, "float": float}[kind[3:]](arr.item())
    if kind == "np_scalar":
        return arr[()]
    return arr


# ----------------------------------------------------------------------------- save / load

def _fsync_dir(dirname):
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(path, tree_):
    """Write the pytree ``tree_`` (params, optimizer state, ...) to ``path``, atomically.

    Leaves may be NumPy or jax arrays, NumPy scalars and Python numbers; they come
    back from :func:`load` with the same dtypes, shapes and kinds.  The file is
    complete or absent: it is written next to ``path`` under a temporary name,
    fsync-ed, and renamed over ``path``.  A process killed while saving can leave that
    temporary file (``.NAME.<random>.tmp``) behind, never a partial ``path``; such
    files are not checkpoints and can be deleted.
    """
    path = os.fspath(path)
    leaves, treedef = tree.flatten(tree_)
    arrays, metas = {}, []
    for i, x in enumerate(leaves):
        arrays[f"leaf_{i}"], meta = _encode_leaf(x, i)
        metas.append(meta)
    try:
        skeleton = tree.unflatten(treedef, list(range(len(leaves))))
        description = _describe(skeleton)
    except Exception:  # a custom node that cannot be rebuilt from index placeholders
        description = None
    header = {"format": FORMAT, "version": VERSION, "funcgrad": _funcgrad_version(), "treedef": str(treedef),
              "num_leaves": len(leaves), "leaves": metas, "structure": description}
    arrays[_HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)

    dirname = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(dirname, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(dirname)


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _not_a_zip(data):
    """What a file that is not a zip archive looks like, in words."""
    if data.startswith(b"\x93NUMPY"):
        return "it is a NumPy .npy file (written by np.save), not a funcgrad checkpoint"
    if data[:1] == b"\x80" and data[1:2] in bytes(range(2, 6)):
        return "it looks like a pickle, not a funcgrad checkpoint (funcgrad never unpickles)"
    return f"it is not a funcgrad checkpoint (not a zip archive; it starts with {data[:16]!r})"


def _check_header(header, npz_files):
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError("it is not a funcgrad checkpoint (its header names another format)")
    version = header.get("version")
    if type(version) is not int or version < 1:
        raise CheckpointError(f"its header is corrupt (format version {version!r})")
    if version > VERSION:
        by = f", by funcgrad {header['funcgrad']}" if isinstance(header.get("funcgrad"), str) else ""
        raise CheckpointError(f"it was written by a newer funcgrad (format version {version}{by}); this funcgrad "
                              f"({_funcgrad_version()}) reads format versions 1 to {VERSION}.\n"
                              "Fix: upgrade funcgrad to load it")
    metas = header.get("leaves")
    if not isinstance(metas, list) or len(metas) != header.get("num_leaves"):
        raise CheckpointError("its header is inconsistent (the file is corrupt)")
    missing = [f"leaf_{i}" for i in range(len(metas)) if f"leaf_{i}" not in npz_files]
    if missing:
        raise CheckpointError(f"it lacks the arrays {missing[:3]} its header lists (the file is corrupt)")
    return metas


def _read(path):
    """``(header, leaves)`` of a checkpoint file; anything wrong with its content is a CheckpointError."""
    with open(path, "rb") as f:       # a missing file or a directory raises its usual OSError
        data = f.read()
    try:
        if not data:
            raise CheckpointError("the file is empty")
        if not data.startswith(_ZIP_MAGIC):
            raise CheckpointError(_not_a_zip(data) + ".\nFix: load a file written by funcgrad.serialization.save")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if _HEADER not in npz.files:
                raise CheckpointError(
                    f"it is a NumPy .npz archive holding {npz.files[:5]}, not a funcgrad checkpoint (it has no "
                    "funcgrad header).\nFix: read it with np.load, or write checkpoints with "
                    "funcgrad.serialization.save")
            header = json.loads(bytes(npz[_HEADER]).decode("utf-8"))
            metas = _check_header(header, npz.files)
            leaves = [_decode_leaf(npz[f"leaf_{i}"], m, i) for i, m in enumerate(metas)]
        return header, leaves
    except CheckpointError as e:
        msg = str(e) if "\nFix:" in str(e) else f"{e}.\n{_CORRUPT_FIX}"
        raise CheckpointError(f"{path}: cannot load this checkpoint: {msg}") from None
    except Exception as e:   # zipfile.BadZipFile, EOFError, ValueError, KeyError, JSON errors, ...
        raise CheckpointError(f"{path}: cannot load this checkpoint: it is truncated or corrupt ({type(e).__name__}: "
                              f"{e}).\n{_CORRUPT_FIX}") from None


_CORRUPT_FIX = ("Fix: load an earlier checkpoint. A file written by funcgrad.serialization.save is complete or "
                "absent, so this one was damaged after it was written, or copied incompletely")


def _funcgrad_version():
    from . import __version__
    return __version__


def load(path, like=None):
    """Read a checkpoint written by :func:`save`.

    Without ``like`` the saved structure is rebuilt (dicts, lists, tuples, None and
    NamedTuples, e.g. ``AdamState``, come back as themselves).  With ``like`` (a pytree
    of the expected structure, e.g. ``opt.init(params)``) the leaves are put into
    ``like``'s structure, which must equal the saved one: otherwise
    :class:`~funcgrad.errors.TreeStructureError` names the first differing path.
    ``like`` is needed for trees with custom registered node classes.  Leaves keep
    their saved dtypes and shapes; arrays come back as NumPy arrays.
    """
    path = os.fspath(path)
    header, leaves = _read(path)
    desc = header.get("structure")
    if like is None:
        if desc is None:
            raise CheckpointError(f"{path}: the saved tree ({header['treedef']}) has custom pytree nodes; "
                                  "pass like=<a tree of that structure> to load it")
        try:
            return _rebuild(desc, leaves)
        except CheckpointError as e:
            raise CheckpointError(f"{path}: {e}") from None
        except (KeyError, TypeError, IndexError, ValueError) as e:
            raise CheckpointError(f"{path}: corrupt structure description ({type(e).__name__}: {e})") from None
    like_def = tree.structure(like)
    if desc is not None:
        try:
            saved = _rebuild(desc, list(range(len(leaves))))
        except CheckpointError:
            saved = None
        if saved is not None:
            tree.check_same_structure(f"load({path!r}, like=...)", saved, like, names=("saved", "like"))
    if str(like_def) != header["treedef"] or like_def.num_leaves != len(leaves):
        raise TreeStructureError(f"load({path!r}, like=...): the saved tree and like have different structures.\n"
                                 f"  saved: {header['treedef']}\n  like: {like_def}\n"
                                 "Fix: pass a like built the same way as the saved tree.")
    _check_leaves_like(path, like, leaves)
    return tree.unflatten(like_def, leaves)


def _check_leaves_like(path, like, leaves):
    """Each saved leaf must have the shape and dtype of ``like``'s leaf at its path
    (leaves of ``like`` that are not arrays, such as Python scalars, only fix the structure)."""
    for (key, want), got in zip(tree._jtu.tree_flatten_with_path(like)[0], leaves, strict=True):
        if not hasattr(want, "shape") or not hasattr(want, "dtype"):
            continue
        got = np.asarray(got)
        where = tree.keystr(key)
        if tuple(want.shape) != got.shape:
            raise ShapeError(f"load({path!r}, like=...): the leaf at {where} has shape {got.shape} in the file "
                             f"but {tuple(want.shape)} in like.\nFix: pass a like built with the saved shapes "
                             "(e.g. the same model configuration), or load without like and convert.")
        if np.dtype(want.dtype) != got.dtype:
            raise DTypeError(f"load({path!r}, like=...): the leaf at {where} has dtype {got.dtype} in the file "
                             f"but {np.dtype(want.dtype)} in like.\nFix: pass a like of the saved dtypes, or "
                             "load without like and convert with .astype(...).")
