"""meterstream SDK: log completions, feedback, training runs and instruments.

from meterstream_sdk import Client
ms = Client(project="acme")
with ms.completion(model="gpt-4o-mini") as call:
    response = call.observe(openai_client.chat.completions.create(...))
"""

from meterstream_contracts import Table
from meterstream_sdk.client import AsyncClient, Client
from meterstream_sdk.completions import CompletionTracker
from meterstream_sdk.config import SdkConfig
from meterstream_sdk.errors import (
    BufferFull,
    InvalidValue,
    MeterstreamError,
    ProtectedKey,
    UnknownKey,
    WrongKind,
)
from meterstream_sdk.keys import KeyInfo
from meterstream_sdk.training import MetricsBuilder, Run, track_api_cost

__all__ = [
    "AsyncClient",
    "BufferFull",
    "Client",
    "CompletionTracker",
    "InvalidValue",
    "KeyInfo",
    "MeterstreamError",
    "MetricsBuilder",
    "ProtectedKey",
    "Run",
    "SdkConfig",
    "Table",
    "UnknownKey",
    "WrongKind",
    "track_api_cost",
]
