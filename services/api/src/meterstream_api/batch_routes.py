"""Several GET requests of the API in one round trip (the dashboard's panels ask for about
twenty answers at once, and a browser opens six connections to a host). Each sub-request
goes through the app itself, with the caller's key, so it is routed, validated and
answered exactly as the same GET would be; they run concurrently."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Final

import httpx
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator

from meterstream_api.auth import Project

router = APIRouter(prefix="/api/v1")
MAX_REQUESTS: Final = 32

ParamValue = str | int | float | bool | list[str]


class SubRequest(BaseModel):
    path: Annotated[
        str,
        Field(
            max_length=1000,
            pattern=r"^[A-Za-z0-9_.:/%\-]+$",
            description="a GET path under /api/v1 (not batch itself), e.g. series",
        ),
    ]
    params: dict[str, ParamValue] = Field(default_factory=dict, max_length=50)

    @field_validator("path")
    @classmethod
    def _under_the_api(cls, path: str) -> str:
        segments = path.split("/")
        if any(segment in ("", ".", "..") for segment in segments):
            raise ValueError("a path of named segments under /api/v1 (no '', '.' or '..')")
        if segments[0] == "batch":
            raise ValueError("a batch cannot hold a batch")
        return path


class BatchRequest(BaseModel):
    requests: list[SubRequest] = Field(min_length=1, max_length=MAX_REQUESTS)


@router.post("/batch")
async def batch(request: Request, body: BatchRequest, _: Project) -> list[dict[str, Any]]:
    """Each sub-request's status and JSON body, in order."""
    headers = {
        name: value
        for name in ("authorization", "x-api-key")
        if (value := request.headers.get(name)) is not None
    }
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        answers = await asyncio.gather(
            *(
                client.get(f"/api/v1/{sub.path}", params=sub.params, headers=headers)
                for sub in body.requests
            )
        )
    return [
        {"status": answer.status_code, "body": answer.json() if answer.content else None}
        for answer in answers
    ]
