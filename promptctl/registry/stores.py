"""Stores: where a registry's objects live, behind one small interface.

A store holds objects by key (``bundles/v000003.json``). Two kinds of write exist:

- :meth:`Store.create` writes an object once. If the key is taken, it raises
  :class:`~promptctl.errors.ConflictError` and changes nothing. Locally this is a temp file in
  the same folder, fsynced, then ``os.link`` to the final name (which fails when the name
  exists); on S3 it is ``PutObject`` with ``If-None-Match: *`` (412 when the key exists).
  A writer killed half-way leaves at most a hidden temp file, never a visible partial object.
- :meth:`Store.replace` replaces an object atomically (temp file + ``os.replace`` locally; a
  plain ``PutObject`` on S3). Only a channel's ``HEAD.json`` mirror is ever replaced.

Nothing is ever deleted. Standard library only: boto3 is imported when an S3 store is first
used, so the runtime can use these stores without the CLI's dependencies.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from ..errors import ConflictError, RegistryError
from ..fileio import create_temp

_KEY_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class Store(Protocol):
    """The objects of one registry."""

    url: str

    def read(self, key: str) -> bytes | None:
        """The bytes of object ``key``, or None when there is none."""
        ...

    def create(self, key: str, data: bytes) -> None:
        """Write object ``key`` once; ConflictError (and no change) when it exists."""
        ...

    def replace(self, key: str, data: bytes) -> None:
        """Write object ``key`` atomically, replacing any previous one."""
        ...

    def list(self, prefix: str) -> list[str]:
        """The names directly under folder ``prefix``: objects as ``name``, folders as ``name/``."""
        ...


def check_key(key: str) -> str:
    """Refuse keys that could leave the registry (``..``, absolute, odd characters)."""
    parts = key.split("/")
    if not key or any(not _KEY_PART.match(p) for p in parts):
        raise RegistryError(f"invalid registry key {key!r}")
    return key


class LocalStore:
    """A registry in a local folder (or a shared file system)."""

    def __init__(self, root: str | os.PathLike[str], *, url: str | None = None) -> None:
        self.root = Path(root)
        self.url = url or str(self.root)

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *check_key(key).split("/"))

    def _check_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise RegistryError(
                f"the registry {self.url} is not a folder", hint="set `registry:` in promptctl.yaml to a folder"
            )

    def read(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            self._check_root()
            return None
        except NotADirectoryError:
            self._check_root()
            return None
        except OSError as e:
            raise RegistryError(f"cannot read {key} in the registry {self.url}: {e.strerror or e}") from None

    def _folder(self, key: str) -> str:
        self._check_root()
        folder = os.path.dirname(self._path(key))
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise RegistryError(
                f"cannot create {os.path.dirname(key)}/ in the registry {self.url}: {e.strerror or e}"
            ) from None
        return folder

    def _temp(self, folder: str, key: str, data: bytes) -> str:
        """A hidden, fsynced temp file holding ``data`` in ``folder`` (same file system as the target)."""
        fd, tmp = create_temp(folder, f".{os.path.basename(key)}.")  # 0o666 less the umask, as any new file
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            _unlink(tmp)
            raise
        return tmp

    def create(self, key: str, data: bytes) -> None:
        folder = self._folder(key)
        path = self._path(key)
        try:
            tmp = self._temp(folder, key, data)
        except OSError as e:
            raise RegistryError(f"cannot write {key} in the registry {self.url}: {e.strerror or e}") from None
        try:
            # The temp file is complete and on disk; link() publishes it under the final name in
            # one step and fails if the name is taken, so a killed writer leaves only the temp.
            os.link(tmp, path)
        except FileExistsError:
            raise ConflictError(f"{key} already exists in the registry {self.url}", path=key) from None
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
                raise RegistryError(f"cannot write {key} in the registry {self.url}: {e.strerror or e}") from None
            self._create_exclusive(key, path, data)  # a file system without hard links
        finally:
            _unlink(tmp)
        _fsync_dir(folder)

    def _create_exclusive(self, key: str, path: str, data: bytes) -> None:
        """O_EXCL create, for file systems without hard links (not atomic against a crash mid-write:
        a torn object is caught by its digest, and by ``promptctl verify``)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            raise ConflictError(f"{key} already exists in the registry {self.url}", path=key) from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def replace(self, key: str, data: bytes) -> None:
        folder = self._folder(key)
        try:
            tmp = self._temp(folder, key, data)
            try:
                os.replace(tmp, self._path(key))
            finally:
                _unlink(tmp)
        except OSError as e:
            raise RegistryError(f"cannot write {key} in the registry {self.url}: {e.strerror or e}") from None
        _fsync_dir(folder)

    def list(self, prefix: str) -> list[str]:
        folder = self._path(prefix) if prefix else str(self.root)
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            self._check_root()
            return []
        except OSError as e:
            raise RegistryError(f"cannot list {prefix}/ in the registry {self.url}: {e.strerror or e}") from None
        out = []
        for entry in entries:
            if entry.name.startswith("."):  # temp files of writes in progress (or killed)
                continue
            out.append(entry.name + "/" if entry.is_dir() else entry.name)
        return sorted(out)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(folder: str) -> None:
    """Make a new directory entry durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class S3Store:
    """A registry under ``s3://bucket/prefix`` on AWS S3 or an S3-compatible service (MinIO, moto)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        url: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region or "us-east-1"
        self.url = url or f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client_obj: Any = None

    @property
    def _where(self) -> str:
        return self.url + (f" (endpoint {self.endpoint_url})" if self.endpoint_url else "")

    def _client(self) -> Any:
        if self._client_obj is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise RegistryError(
                    f"the registry {self.url} is on S3, which needs boto3",
                    hint="pip install 'promptctl[s3]'",
                ) from None
            session = boto3.session.Session()
            self._client_obj = session.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                config=Config(
                    connect_timeout=5,
                    read_timeout=30,
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
        return self._client_obj

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, e: Exception, doing: str, key: str | None = None) -> RegistryError:
        """One clear line for a boto3/botocore failure (credentials never appear in it)."""
        from botocore import exceptions as bx

        if isinstance(e, bx.ClientError):
            err = e.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                return ConflictError(f"{key} already exists in the registry {self.url}", path=key)
            if code == "NoSuchBucket":
                return RegistryError(
                    f"the bucket {self.bucket!r} does not exist ({self._where})",
                    hint="create it, or fix `registry:` in promptctl.yaml",
                )
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"):
                return RegistryError(
                    f"S3 refused the credentials while {doing} {self._where}: {code}",
                    hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE",
                )
            if code in ("AccessDenied", "403") or status == 403:
                return RegistryError(
                    f"access denied while {doing} {self._where}",
                    hint="the credentials need s3:GetObject, s3:PutObject and s3:ListBucket on the registry prefix",
                )
            return RegistryError(f"S3 error while {doing} {self._where}: {code or status} {err.get('Message', '')}".rstrip())
        if isinstance(e, (bx.NoCredentialsError, bx.PartialCredentialsError)):
            return RegistryError(
                f"no AWS credentials for the registry {self.url}",
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
            )
        if isinstance(e, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError,
                          bx.ConnectionClosedError)):
            return RegistryError(
                f"cannot reach the S3 registry {self._where}",
                hint="check the endpoint (AWS_ENDPOINT_URL or s3.endpoint_url in promptctl.yaml) and the network",
            )
        return RegistryError(f"S3 failed while {doing} {self._where}: {type(e).__name__}: {e}")

    def _call(self, doing: str, key: str | None, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as e:
            raise self._error(e, doing, key) from None

    def read(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client()
        try:
            response = client.get_object(Bucket=self.bucket, Key=self._key(key))
            return response["Body"].read()  # type: ignore[no-any-return]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._error(e, f"reading {key} from", key) from None
        except BotoCoreError as e:
            raise self._error(e, f"reading {key} from", key) from None

    def create(self, key: str, data: bytes) -> None:
        client = self._client()
        self._call(f"writing {key} to", key, client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data,
                   IfNoneMatch="*", ContentType="application/json")

    def replace(self, key: str, data: bytes) -> None:
        client = self._client()
        self._call(f"writing {key} to", key, client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data,
                   ContentType="application/json", CacheControl="no-cache")

    def list(self, prefix: str) -> list[str]:
        client = self._client()
        base = self._key(prefix) + "/" if prefix else (self.prefix + "/" if self.prefix else "")
        out: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": base, "Delimiter": "/"}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call(f"listing {prefix or '/'} in", None, client.list_objects_v2, **kwargs)
            out.extend(obj["Key"][len(base):] for obj in page.get("Contents", ()))
            out.extend(p["Prefix"][len(base):] for p in page.get("CommonPrefixes", ()))
            if not page.get("IsTruncated"):
                break
            token = page.get("NextContinuationToken")
        return sorted(n for n in out if n and not n.startswith("."))


def open_store(
    url: str,
    *,
    base: str | os.PathLike[str] | None = None,
    s3: Mapping[str, Any] | None = None,
) -> Store:
    """The store for registry ``url``: a path (relative to ``base``), ``file://…`` or ``s3://bucket/prefix``.

    For S3 the endpoint comes from ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``, else ``s3.endpoint_url``
    (promptctl.yaml); the region from ``AWS_REGION``/``AWS_DEFAULT_REGION``, else ``s3.region``, else
    us-east-1. Environment variables win, as in every AWS SDK.
    """
    if not isinstance(url, str) or not url.strip():
        raise RegistryError("the registry URL is empty", hint="set `registry:` in promptctl.yaml")
    url = url.strip()
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "s3":
        bucket = parsed.netloc
        if not _BUCKET.match(bucket or ""):
            raise RegistryError(
                f"bad registry URL {url!r}: {bucket!r} is not an S3 bucket name",
                hint="write s3://bucket/prefix (bucket: 3-63 lowercase letters, digits, '.' and '-')",
            )
        prefix = parsed.path.strip("/")
        if prefix and any(not _KEY_PART.match(p) for p in prefix.split("/")):
            raise RegistryError(
                f"bad registry URL {url!r}: the prefix {prefix!r} has unusual characters",
                hint="use letters, digits, '_', '.', '-' and '/' in the prefix",
            )
        settings = s3 or {}
        endpoint = (
            os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or settings.get("endpoint_url")
        )
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or settings.get("region")
        return S3Store(bucket, prefix, endpoint_url=endpoint or None, region=region, url=f"s3://{bucket}/{prefix}".rstrip("/"))
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise RegistryError(
                f"bad registry URL {url!r}: file URLs name a local path",
                hint="write file:///absolute/path (three slashes)",
            )
        return LocalStore(unquote(parsed.path), url=url)
    if scheme in ("http", "https"):
        raise RegistryError(
            f"the registry {url} is plain HTTP(S): read-only, and it cannot be listed",
            hint="the runtime can read it; for publish and channel moves use its path or s3:// URL",
        )
    if len(scheme) > 1 and "://" in url:
        raise RegistryError(
            f"bad registry URL {url!r}: unknown scheme {scheme!r}",
            hint="use a path, file:///path or s3://bucket/prefix",
        )
    path = Path(os.path.expanduser(url))
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return LocalStore(path, url=url)
