"""Who is asking: an API key names exactly one project, and every query is scoped to it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from meterstream_contracts.api_keys import ApiKeyStore


def caller_project(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str:
    """The project of the request's key; 401 without a valid key, 403 when the request
    names another project (`?project=`)."""
    keys: ApiKeyStore = request.app.state.keys
    key = x_api_key or (authorization or "").removeprefix("Bearer ").strip()
    project = keys.project_for(key) if key else None
    if project is None:
        raise HTTPException(401, "a valid API key is required (Authorization: Bearer <key>)")
    asked = request.query_params.get("project")
    if asked is not None and asked != project:
        raise HTTPException(403, f"this key reads project {project!r} only, not {asked!r}")
    return project


Project = Annotated[str, Depends(caller_project)]
