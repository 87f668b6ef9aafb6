"""Workspaces in object storage served by the panel: URI roots (``s3://bucket/prefix``).

A workspace URI is served only when it lies under a configured URI root (same scheme and
bucket, its key prefix at or below the root's, no ``.``/``..`` or empty segments). Listing
finds workspaces (a ``meta.lance/`` table) at the root and up to two levels below it, for
``s3://`` roots (boto3, with the server's ``storage_options`` or environment); other
schemes list the root itself when it is a workspace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .paths import WorkspaceRefused


def is_uri(value: str) -> bool:
    """Whether ``value`` names an object-store location (``scheme://...``) rather than a folder.

    Examples
    --------
    >>> is_uri("s3://bucket/ws"), is_uri("projects/ws")
    (True, False)
    """
    return "://" in value


def _parts(uri: str) -> tuple[str, str, list[str]] | None:
    scheme, _, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    segments = [s for s in key.rstrip("/").split("/")] if key.rstrip("/") else []
    if not scheme or not bucket or any(s in ("", ".", "..") for s in segments):
        return None
    return scheme.lower(), bucket, segments


def normalize_uri_root(uri: str) -> str:
    """A configured URI root without its trailing slash; a malformed one is a configuration error.

    Examples
    --------
    >>> normalize_uri_root("s3://team-bucket/cvops/")
    's3://team-bucket/cvops'
    """
    parts = _parts(uri.strip())
    if parts is None:
        raise ValueError(f"CvopsServerConfig.roots: {uri!r} is not a usable URI root (scheme://bucket/prefix)")
    scheme, bucket, segments = parts
    return f"{scheme}://{bucket}" + ("/" + "/".join(segments) if segments else "")


def resolve_uri_workspace(value: str, uri_roots: Sequence[str]) -> str:
    """The workspace URI ``value`` names, if it lies under one of ``uri_roots``.

    Raises
    ------
    WorkspaceRefused
        400 for a malformed URI, 403 when it is under no URI root (``not_local`` when
        no URI root is configured).

    Examples
    --------
    >>> resolve_uri_workspace("s3://team/cvops/line-1/", ["s3://team/cvops"])
    's3://team/cvops/line-1'
    >>> resolve_uri_workspace("s3://team/other", ["s3://team/cvops"])
    Traceback (most recent call last):
    ...
    jupyter_cvops._server.paths.WorkspaceRefused: workspace URI is outside every workspace root
    """
    if not uri_roots:  # no URI root configured: folders only, as before
        raise WorkspaceRefused(403, "not_local", "only folders under the server's workspace roots are served")
    if "\x00" in value:
        raise WorkspaceRefused(400, "bad_workspace", "workspace URI contains a NUL character")
    parts = _parts(value.strip())
    if parts is None:
        raise WorkspaceRefused(400, "bad_workspace", "workspace URI must be scheme://bucket/prefix without . or .. "
                                                     "segments")
    scheme, bucket, segments = parts
    for root in uri_roots:
        r_scheme, r_bucket, r_segments = _parts(root) or ("", "", [])
        if (scheme, bucket) == (r_scheme, r_bucket) and segments[: len(r_segments)] == r_segments:
            return f"{scheme}://{bucket}" + ("/" + "/".join(segments) if segments else "")
    raise WorkspaceRefused(403, "outside_roots", "workspace URI is outside every workspace root")


def _has_workspace(prefixes: set[str], prefix: str) -> bool:
    return f"{prefix}meta.lance/" in prefixes


def find_uri_workspaces(uri_roots: Sequence[str], storage_options: Mapping[str, str] | None = None, *,
                        max_depth: int = 2, limit: int = 200) -> list[str]:
    """Workspace URIs at or below each URI root (``s3://`` roots searched ``max_depth`` levels deep).

    Examples
    --------
    >>> find_uri_workspaces(["s3://team-bucket/cvops"])  # doctest: +SKIP
    ['s3://team-bucket/cvops/line-1', 's3://team-bucket/cvops/line-2']
    """
    found: list[str] = []
    for root in uri_roots:
        if root.startswith("s3://"):
            found += _find_s3(root, storage_options, max_depth, limit - len(found))
        elif _is_workspace(root, storage_options):
            found.append(root)
        if len(found) >= limit:
            break
    return found


def _is_workspace(uri: str, storage_options: Mapping[str, str] | None) -> bool:
    import lancedb

    try:
        db = lancedb.connect(uri, storage_options=dict(storage_options or {}) or None)
        return "meta" in set(db.list_tables().tables)
    except Exception:  # noqa: BLE001 - unreachable or not a workspace: not listed
        return False


def _find_s3(root: str, storage_options: Mapping[str, str] | None, max_depth: int, limit: int) -> list[str]:
    from .._store.lease import s3_client, split_uri

    bucket, prefix = split_uri(root)
    s3: Any = s3_client(storage_options)
    out: list[str] = []
    stack = [(prefix + "/" if prefix else "", 0)]
    while stack and len(out) < limit:
        current, depth = stack.pop()
        try:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=current, Delimiter="/")
            prefixes = {p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])}
        except Exception:  # noqa: BLE001 - an unreachable root lists nothing
            continue
        if _has_workspace(prefixes, current):
            out.append(f"s3://{bucket}/{current.rstrip('/')}" if current else f"s3://{bucket}")
            continue
        if depth >= max_depth:
            continue
        for child in sorted(prefixes, reverse=True):
            name = child[len(current):].rstrip("/")
            if not name.startswith(".") and not name.endswith(".lance"):
                stack.append((child, depth + 1))
    return sorted(out)
