"""Materializers: how one kind of Python value becomes files in an artifact folder and back.

A materializer writes a value into an empty folder the store gives it and reads it back from
that folder; the store does the hashing, the atomic publish and the bookkeeping. The built-ins
cover the kinds a pipeline step usually returns, choosing portable formats first (JSON, raw
bytes, ``.npy``, parquet, pydantic JSON) and pickle last, with a warning, because a pickle may
not load under other versions of Python or of the libraries it references.

Optional libraries (numpy, pandas, pyarrow, pydantic, scikit-learn) are never imported here at
module import time. A value of a numpy type can only exist once numpy is in ``sys.modules``, so
the registry resolves a lazy materializer's types only when one of its modules is already
loaded: ``import modelplane.artifacts`` stays fast and works without the ``ml`` extra.

Lookup walks the value's MRO, most specific class first; at each class a user's materializer
(``register_materializer``) wins over a built-in. A materializer may decline a value
(``can_save``), e.g. the JSON one declines a list holding a numpy array, and the walk goes on;
anything left falls to pickle.
"""

from __future__ import annotations

import importlib
import math
import pickle
import shutil
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import orjson

from modelplane.domain.errors import ValidationError
from modelplane.enums import ArtifactType

#: The link kinds a materializer may give its values (``Materializer.artifact_type``), under
#: the names ZenML's ``ArtifactType`` uses; ``SERVICE`` is a deployment.
DATA: str = ArtifactType.DATA.value
MODEL: str = ArtifactType.MODEL.value
SERVICE: str = ArtifactType.SERVICE.value

PICKLE_FILE = "data.pkl"


class MaterializerError(ValidationError):
    """Raised when a value cannot be stored (or loaded) by any materializer; nothing is written.

    A ``ValidationError`` (so also a ``ValueError``): the step output is bad input for the
    store, the same category as a malformed name.
    """

    def __init__(self, message: str, *, data_type: str | None = None) -> None:
        super().__init__(message)
        self.data_type = data_type


class ArtifactWarning(UserWarning):
    """Warned (and recorded on the stored artifact) when a value is stored in a fragile way."""


def qualified_name(cls: type) -> str:
    """``module:qualname``: unambiguous for nested classes, and importable back."""
    return f"{cls.__module__}:{cls.__qualname__}"


def resolve_type(name: str) -> type:
    """The class named by ``module:qualname``; MaterializerError if it cannot be imported."""
    module_name, _, qualname = name.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError) as error:
        msg = f"cannot import type {name!r} to load the artifact: {error}"
        raise MaterializerError(msg, data_type=name) from error
    if not isinstance(obj, type):
        msg = f"{name!r} is not a class"
        raise MaterializerError(msg, data_type=name)
    return obj


def pickle_warning(data_type: str) -> str:
    return (
        f"{data_type} was stored with pickle: it may not load under other versions of Python "
        "or of the libraries it uses; register a materializer for it "
        "(modelplane.artifacts.register_materializer) to store it portably"
    )


class Materializer:
    """Base class: subclass it, set ``types``, implement ``save`` and ``load``.

    ``name`` is recorded with every artifact and used to find the materializer again when
    loading, so it must stay stable; it defaults to the class's ``module:qualname``, which also
    lets another process import it without registering it first. One instance serves one
    save or load, so it may keep state between ``can_save`` and ``save`` (e.g. bytes it
    already encoded) and collect ``warnings``.
    """

    name: ClassVar[str] = ""
    types: ClassVar[tuple[type, ...]] = ()
    artifact_type: ClassVar[str] = DATA
    #: Built-ins for optional libraries: their types are resolved (``resolve_types``) only
    #: once one of these modules has been imported by someone else.
    modules: ClassVar[tuple[str, ...]] = ()
    #: True when ``load`` returns something that points into the folder (a path) rather than
    #: a value in memory: the store then hands ``load`` a private, verified copy of the folder,
    #: so whatever the caller does to the result cannot alter the stored version.
    private_copy: ClassVar[bool] = False

    def __init__(self) -> None:
        self.warnings: list[str] = []

    @classmethod
    def stable_name(cls) -> str:
        return cls.name or qualified_name(cls)

    @classmethod
    def resolve_types(cls) -> tuple[type, ...]:
        """The types of a lazy materializer, called when one of ``modules`` is loaded."""
        return cls.types

    def can_save(self, value: Any) -> bool:
        """Whether this materializer stores ``value`` faithfully; False passes it on."""
        return True

    def to_file(self, value: Any) -> tuple[str, bytes] | None:
        """Optional fast path for small values: one file as ``(name, content)``.

        The store hashes the bytes in memory and, if that content is already stored, writes
        nothing at all. None means "call ``save``".
        """
        return None

    def save(self, value: Any, folder: Path) -> None:
        """Write ``value`` into ``folder`` (empty, on the store's filesystem)."""
        encoded = self.to_file(value)
        if encoded is None:
            raise NotImplementedError(f"{type(self).__name__} implements neither save nor to_file")
        (folder / encoded[0]).write_bytes(encoded[1])

    def load(self, folder: Path, data_type: str) -> Any:
        """Read the value back from ``folder``; ``data_type`` is the saved ``module:qualname``.

        The store has checked ``folder`` against its content hash just before; ``folder`` is
        the stored one (read-only) unless ``private_copy`` is set.
        """
        raise NotImplementedError

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _pickle_into(materializer: Materializer, value: Any, folder: Path, *, warn: bool) -> None:
    """Pickle ``value`` into ``folder/data.pkl``: the last resort, and sklearn's format."""
    data_type = qualified_name(type(value))
    try:
        with open(folder / PICKLE_FILE, "wb") as file:
            pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        msg = f"no materializer can store a value of type {data_type}: {error}"
        raise MaterializerError(msg, data_type=data_type) from error
    if warn:
        materializer.warn(pickle_warning(data_type))


def _unpickle(folder: Path) -> Any:
    with open(folder / PICKLE_FILE, "rb") as file:
        return pickle.load(file)


# --- JSON: None, bool, int, float, str and containers of them ------------------------------

_TAG = "__mp__"
_SCALARS = frozenset({type(None), bool, int, float, str})
_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson writes as a JSON number
PLAIN_JSON_FILE = "data.json"
TAGGED_JSON_FILE = "data.tagged.json"


class _NotJson(Exception):
    pass


def _is_plain(value: Any) -> bool:
    """True if orjson writes ``value`` as JSON that loads back equal with the same types."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return _INT_MIN <= value <= _INT_MAX
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_is_plain(item) for item in value)
    if kind is dict:
        return all(type(k) is str and k != _TAG and _is_plain(v) for k, v in value.items())
    if kind in _SCALARS or kind in _CONTAINERS:
        return False
    raise _NotJson


def _encode(value: Any) -> Any:
    """JSON-native form of ``value``; the non-JSON kinds become ``{"__mp__": kind, "v": ...}``.

    A str-keyed dict holding the key ``__mp__`` is itself tagged, so a plain JSON object with
    that key never occurs and decoding is unambiguous. Set members are sorted by their encoded
    bytes, so equal sets give equal files (and one stored copy) whatever their iteration order.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if _INT_MIN <= value <= _INT_MAX:
            return value
        return {_TAG: "int", "v": str(value)}
    if kind is float:
        if math.isfinite(value):
            return value
        return {_TAG: "float", "v": repr(value)}  # 'nan', 'inf', '-inf'
    if kind is list:
        return [_encode(item) for item in value]
    if kind is tuple:
        return {_TAG: "tuple", "v": [_encode(item) for item in value]}
    if kind is set or kind is frozenset:
        items = sorted((_encode(item) for item in value), key=orjson.dumps)
        return {_TAG: kind.__name__, "v": items}
    if kind is dict:
        if all(type(key) is str and key != _TAG for key in value):
            return {key: _encode(item) for key, item in value.items()}
        return {_TAG: "dict", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise _NotJson


def _decode(value: Any) -> Any:
    kind = type(value)
    if kind is list:
        return [_decode(item) for item in value]
    if kind is not dict:
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {key: _decode(item) for key, item in value.items()}
    payload = value["v"]
    if tag == "tuple":
        return tuple(_decode(item) for item in payload)
    if tag == "set":
        return {_decode(item) for item in payload}
    if tag == "frozenset":
        return frozenset(_decode(item) for item in payload)
    if tag == "dict":
        return {_decode(k): _decode(v) for k, v in payload}
    if tag == "int":
        return int(payload)
    if tag == "float":
        return float(payload)
    msg = f"unknown tag {tag!r} in a JSON artifact"
    raise MaterializerError(msg)


class JsonMaterializer(Materializer):
    """None, bool, int, float, str, and list/tuple/dict/set/frozenset of those, as JSON.

    Plain JSON values are written as they are (``data.json``, readable by anything); values
    that need tags (tuples, sets, non-str keys, big ints, NaN) go to ``data.tagged.json``, so
    loading a plain file is one ``orjson.loads`` with no walk. Only exact types qualify: a
    subclass (an ``IntEnum``, a ``namedtuple``) would come back as its base, so it is declined.
    """

    name = "modelplane.json"
    types = (type(None), bool, int, float, str, list, tuple, dict, set, frozenset)

    def __init__(self) -> None:
        super().__init__()
        self._encoded: tuple[str, bytes] | None = None

    def can_save(self, value: Any) -> bool:
        try:
            if _is_plain(value):
                self._encoded = (PLAIN_JSON_FILE, orjson.dumps(value))
            else:
                self._encoded = (TAGGED_JSON_FILE, orjson.dumps(_encode(value)))
        except (_NotJson, RecursionError, orjson.JSONEncodeError, ValueError):
            # Deep or cyclic nesting, surrogate strings, ints too long for str(): not JSON.
            return False
        return True

    def to_file(self, value: Any) -> tuple[str, bytes] | None:
        if self._encoded is None and not self.can_save(value):
            msg = f"{qualified_name(type(value))} is not JSON-serializable"
            raise MaterializerError(msg, data_type=qualified_name(type(value)))
        return self._encoded

    def load(self, folder: Path, data_type: str) -> Any:
        plain = folder / PLAIN_JSON_FILE
        if plain.exists():
            return orjson.loads(plain.read_bytes())
        return _decode(orjson.loads((folder / TAGGED_JSON_FILE).read_bytes()))


class BytesMaterializer(Materializer):
    """bytes and bytearray as one raw file."""

    name = "modelplane.bytes"
    types = (bytes, bytearray)

    def can_save(self, value: Any) -> bool:
        return type(value) in (bytes, bytearray)

    def to_file(self, value: Any) -> tuple[str, bytes] | None:
        return ("data.bin", value if type(value) is bytes else bytes(value))

    def load(self, folder: Path, data_type: str) -> Any:
        data = (folder / "data.bin").read_bytes()
        return bytearray(data) if data_type == "builtins:bytearray" else data


class PathMaterializer(Materializer):
    """A file or a folder on disk, copied in (a folder recursively, symlinks followed).

    The copy keeps the file or folder name. Loading returns a Path with that name in a fresh
    temp folder (``private_copy``), never a path inside the store: as in ZenML, the caller
    owns the returned copy and may write into it or delete it, and the stored version (and
    every later load or deduplicated save of it) stays what was saved. A read-only view of
    the stored files was not chosen: read-only bits can be chmod'ed back by the owner, a
    ``save`` of a file opened in place would rewrite the store, and ZenML users expect a
    writable copy. The copy is made in the same pass that checks the content hash.
    """

    name = "modelplane.path"
    types = (Path,)
    private_copy = True

    def save(self, value: Any, folder: Path) -> None:
        source = Path(value)
        target = folder / (source.resolve().name or "root")
        try:
            if source.is_dir():
                shutil.copytree(source, target, copy_function=shutil.copy)
            elif source.is_file():
                shutil.copy(source, target)
            else:
                msg = f"path {str(source)!r} is neither a file nor a folder"
                raise MaterializerError(msg, data_type=qualified_name(type(value)))
        except (OSError, shutil.Error) as error:
            msg = f"cannot copy {str(source)!r} into the artifact store: {error}"
            raise MaterializerError(msg, data_type=qualified_name(type(value))) from error

    def load(self, folder: Path, data_type: str) -> Any:
        entries = list(folder.iterdir())
        if len(entries) != 1:
            msg = f"artifact folder {folder} should hold one file or folder"
            raise MaterializerError(msg, data_type=data_type)
        return entries[0]


# --- optional libraries ---------------------------------------------------------------------


class NumpyMaterializer(Materializer):
    """numpy arrays as ``.npy`` (no pickle inside); numpy scalars as 0-d arrays.

    Object arrays cannot be written without pickle, so they are pickled with a warning.
    Subclasses (masked arrays, matrices) would lose what makes them special in ``.npy`` and
    are declined, to the pickle fallback.
    """

    name = "modelplane.numpy"
    modules = ("numpy",)

    @classmethod
    def resolve_types(cls) -> tuple[type, ...]:
        import numpy

        return (numpy.ndarray, numpy.generic)

    def can_save(self, value: Any) -> bool:
        import numpy

        return type(value) is numpy.ndarray or isinstance(value, numpy.generic)

    def save(self, value: Any, folder: Path) -> None:
        import numpy

        if value.dtype.hasobject:
            _pickle_into(self, value, folder, warn=True)
            return
        scalar = isinstance(value, numpy.generic)
        with open(folder / ("scalar.npy" if scalar else "array.npy"), "wb") as file:
            numpy.save(file, numpy.asarray(value), allow_pickle=False)

    def load(self, folder: Path, data_type: str) -> Any:
        import numpy

        if (folder / PICKLE_FILE).exists():
            return _unpickle(folder)
        scalar = folder / "scalar.npy"
        if scalar.exists():
            return numpy.load(scalar, allow_pickle=False)[()]
        return numpy.load(folder / "array.npy", allow_pickle=False)


_SERIES_COLUMN = "__modelplane_series__"
_SERIES_NAME_KEY = b"modelplane.series_name"
PARQUET_FILE = "data.parquet"


class PandasMaterializer(Materializer):
    """pandas DataFrame and Series as parquet through pyarrow, index included.

    Written the way ``DataFrame.to_parquet`` writes (``pa.Table.from_pandas`` then
    ``pq.write_table``, snappy), read with ``pandas.read_parquet``. A Series goes as a
    one-column frame; its name (any JSON-able value) is kept in the parquet schema metadata.
    A frame pyarrow cannot convert (mixed-type object columns, say) is pickled with a warning.
    """

    name = "modelplane.pandas"
    modules = ("pandas",)

    @classmethod
    def resolve_types(cls) -> tuple[type, ...]:
        import pandas

        return (pandas.DataFrame, pandas.Series)

    def can_save(self, value: Any) -> bool:
        import pandas

        return type(value) in (pandas.DataFrame, pandas.Series)

    def save(self, value: Any, folder: Path) -> None:
        import pandas
        import pyarrow
        import pyarrow.parquet

        path = folder / PARQUET_FILE
        try:
            metadata: dict[bytes, bytes] = {}
            if type(value) is pandas.Series:
                metadata[_SERIES_NAME_KEY] = orjson.dumps(_encode(value.name))
                frame = value.to_frame(name=_SERIES_COLUMN)
            else:
                frame = value
            if value.attrs:
                metadata[b"PANDAS_ATTRS"] = orjson.dumps(value.attrs)
            table = pyarrow.Table.from_pandas(frame, preserve_index=None)
            if metadata:
                table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
            pyarrow.parquet.write_table(table, path)
        except (_NotJson, TypeError, ValueError, NotImplementedError, pyarrow.ArrowException):
            path.unlink(missing_ok=True)
            _pickle_into(self, value, folder, warn=True)

    def load(self, folder: Path, data_type: str) -> Any:
        import pandas
        import pyarrow.parquet

        if (folder / PICKLE_FILE).exists():
            return _unpickle(folder)
        path = folder / PARQUET_FILE
        frame = pandas.read_parquet(path, engine="pyarrow")
        if data_type != qualified_name(pandas.Series):
            return frame
        metadata = pyarrow.parquet.read_schema(path).metadata or {}
        series = frame[_SERIES_COLUMN]
        series.name = _decode(orjson.loads(metadata[_SERIES_NAME_KEY]))
        return series


class PydanticMaterializer(Materializer):
    """pydantic v2 models as their JSON (``model_dump_json``), loaded by class name.

    The class is found again from ``module:qualname``, so a model defined inside a function or
    a parametrized generic cannot be loaded that way and is declined (to pickle); so is a model
    whose fields do not serialize to JSON.
    """

    name = "modelplane.pydantic"
    modules = ("pydantic",)

    def __init__(self) -> None:
        super().__init__()
        self._encoded: bytes | None = None

    @classmethod
    def resolve_types(cls) -> tuple[type, ...]:
        import pydantic

        return (pydantic.BaseModel,)

    def can_save(self, value: Any) -> bool:
        try:
            kind = type(value)
            if resolve_type(qualified_name(kind)) is not kind:
                return False
            self._encoded = value.model_dump_json().encode()
        except Exception:  # MaterializerError, PydanticSerializationError, ...
            return False
        return True

    def to_file(self, value: Any) -> tuple[str, bytes] | None:
        if self._encoded is None and not self.can_save(value):
            msg = f"{qualified_name(type(value))} cannot be stored as pydantic JSON"
            raise MaterializerError(msg, data_type=qualified_name(type(value)))
        assert self._encoded is not None
        return ("model.json", self._encoded)

    def load(self, folder: Path, data_type: str) -> Any:
        cls: Any = resolve_type(data_type)
        return cls.model_validate_json((folder / "model.json").read_bytes())


class SklearnMaterializer(Materializer):
    """scikit-learn estimators, pickled (sklearn's own advice); model artifacts by default.

    No warning: pickle is the documented format, and sklearn itself warns when a model is
    unpickled under another version.
    """

    name = "modelplane.sklearn"
    modules = ("sklearn",)
    artifact_type = MODEL

    @classmethod
    def resolve_types(cls) -> tuple[type, ...]:
        import sklearn.base

        return (sklearn.base.BaseEstimator,)

    def save(self, value: Any, folder: Path) -> None:
        _pickle_into(self, value, folder, warn=False)

    def load(self, folder: Path, data_type: str) -> Any:
        return _unpickle(folder)


class PickleMaterializer(Materializer):
    """Any other picklable object, with a warning that pickle is not portable."""

    name = "modelplane.pickle"

    def save(self, value: Any, folder: Path) -> None:
        _pickle_into(self, value, folder, warn=True)

    def load(self, folder: Path, data_type: str) -> Any:
        return _unpickle(folder)


# --- registry ------------------------------------------------------------------------------


class MaterializerRegistry:
    """Which materializer stores a type, and which class a recorded name refers to."""

    def __init__(self) -> None:
        self._user: dict[type, type[Materializer]] = {}
        self._builtin: dict[type, type[Materializer]] = {}
        self._pending: list[type[Materializer]] = []
        self._by_name: dict[str, type[Materializer]] = {}
        self._lock = threading.Lock()
        self.fallback: type[Materializer] = PickleMaterializer

    def register(self, cls: type[Materializer], *, builtin: bool = False) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Materializer)):
            msg = f"{cls!r} is not a Materializer subclass"
            raise ValidationError(msg)
        with self._lock:
            self._by_name[cls.stable_name()] = cls
            if builtin and cls.modules:
                self._pending.append(cls)
                return
            if not builtin and not cls.types:
                msg = f"materializer {cls.stable_name()} handles no types (set `types`)"
                raise ValidationError(msg)
            table = self._builtin if builtin else self._user
            for kind in cls.types:
                table[kind] = cls

    def _resolve_pending(self) -> None:
        """Resolve the lazy built-ins whose library someone has imported by now."""
        loaded = [cls for cls in self._pending if any(m in sys.modules for m in cls.modules)]
        if not loaded:
            return
        with self._lock:
            for cls in loaded:
                if cls not in self._pending:
                    continue
                try:
                    kinds = cls.resolve_types()
                except ImportError:  # e.g. pandas imported but pyarrow missing: skip for now
                    continue
                self._pending.remove(cls)
                for kind in kinds:
                    self._builtin.setdefault(kind, cls)

    def for_value(self, value: Any) -> Materializer:
        """A fresh materializer that accepts ``value``; pickle if no other one does."""
        if self._pending:
            self._resolve_pending()
        tried: set[type[Materializer]] = set()
        for kind in type(value).__mro__:
            for table in (self._user, self._builtin):
                cls = table.get(kind)
                if cls is None or cls in tried:
                    continue
                tried.add(cls)
                materializer = cls()
                if materializer.can_save(value):
                    return materializer
        return self.fallback()

    def by_name(self, name: str) -> type[Materializer]:
        """The materializer class recorded as ``name``; a ``module:qualname`` is imported."""
        cls = self._by_name.get(name)
        if cls is not None:
            return cls
        if ":" in name:
            found = resolve_type(name)
            if issubclass(found, Materializer):
                return found
        msg = f"unknown materializer {name!r}: register it with register_materializer first"
        raise MaterializerError(msg)


REGISTRY = MaterializerRegistry()
for _builtin in (
    JsonMaterializer,
    BytesMaterializer,
    PathMaterializer,
    NumpyMaterializer,
    PandasMaterializer,
    PydanticMaterializer,
    SklearnMaterializer,
    PickleMaterializer,
):
    REGISTRY.register(_builtin, builtin=True)

_M = TypeVar("_M", bound=type[Materializer])


def register_materializer(cls: _M) -> _M:
    """Use ``cls`` for its ``types`` (and their subclasses), ahead of the built-ins.

    Usable as a class decorator. Loading finds it by its ``name`` (default ``module:qualname``,
    importable from any process); a custom ``name`` must be registered before loading.
    """
    REGISTRY.register(cls)
    return cls


def materializer_for(value: Any) -> Materializer:
    return REGISTRY.for_value(value)


def get_materializer(name: str) -> type[Materializer]:
    return REGISTRY.by_name(name)


__all__ = [
    "DATA",
    "MODEL",
    "SERVICE",
    "ArtifactWarning",
    "Materializer",
    "MaterializerError",
    "get_materializer",
    "materializer_for",
    "qualified_name",
    "register_materializer",
    "resolve_type",
]
