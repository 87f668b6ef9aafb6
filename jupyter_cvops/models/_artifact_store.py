"""Model artifacts of a workspace in a bucket: kept under ``<workspace URI>/.cvops/artifacts/<hash>/``.

The registry and loaders keep working on a local folder, which for such a workspace is this
machine's cache (under the workspace's local metadata folder); :func:`mirror` ties that
folder to the bucket, and :mod:`~jupyter_cvops.models._artifacts` uploads on write and
downloads a missing or damaged copy before its hash check. Bytes move through the package's
one S3 module (:mod:`jupyter_cvops.images._objects`), with the workspace's credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ._errors import ArtifactIntegrityError, ModelError

_MIRRORS: dict[Path, str] = {}  # local artifact folder (a cache) -> the bucket URI holding the artifacts


def mirror(local_root: Path, remote_root: str) -> Path:
    """Keep the artifacts of ``local_root`` (a local cache) in the bucket folder ``remote_root``.

    Writing an artifact into a folder under ``local_root`` also uploads its files to
    ``remote_root/<folder name>/``; reading fetches them from there when the local copy is
    missing or damaged. Returns ``local_root``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = mirror(pathlib.Path(tempfile.mkdtemp()), "s3://bucket/ws/.cvops/artifacts")
    >>> remote_of(root / "abc")
    's3://bucket/ws/.cvops/artifacts/abc'
    """
    _MIRRORS[Path(local_root)] = remote_root.rstrip("/")
    return Path(local_root)


def remote_of(folder: Path) -> str | None:
    """The bucket URI of an artifact folder under a mirrored root (None: a local workspace's).

    Examples
    --------
    >>> remote_of(Path("/nowhere/artifacts/abc")) is None
    True
    """
    root = _MIRRORS.get(Path(folder).parent)
    return None if root is None else f"{root}/{Path(folder).name}"


def upload(remote: str, files: Mapping[str, bytes]) -> None:
    """Put every file under ``remote`` (content-addressed: the same bytes whoever writes them).

    Examples
    --------
    >>> upload("s3://bucket/ws/.cvops/artifacts/abc", {"model.pt2": b"..."})   # doctest: +SKIP
    """
    from ..images._objects import s3_client, split_uri

    bucket, key = split_uri(remote)
    client = s3_client(bucket)
    for name, data in sorted(files.items()):
        try:
            client.put_object(Bucket=bucket, Key=f"{key}/{name}", Body=data)
        except Exception as error:
            raise ModelError(f"cannot upload the model artifact to {remote}/{name}: "
                             f"{' '.join(str(error).split())}") from None


def download(remote: str) -> dict[str, bytes]:
    """The files under ``remote`` (relative names -> bytes); empty when the bucket has none.

    Examples
    --------
    >>> download("s3://bucket/ws/.cvops/artifacts/abc")   # doctest: +SKIP
    {'model.pt2': b'...'}
    """
    from ..images._objects import get_object, s3_client, split_uri

    bucket, key = split_uri(remote)
    try:
        pages = s3_client(bucket).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{key}/")
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        return {k[len(key) + 1:]: get_object(f"s3://{bucket}/{k}")[0] for k in keys}
    except Exception as error:
        raise ArtifactIntegrityError(f"cannot read the model artifact {remote}: {' '.join(str(error).split())}") \
            from None
