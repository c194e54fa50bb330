"""The slow API's delay endpoint over gRPC, without generated code.

No .proto and no protoc step: one unary method, `/flaskbench.SlowApi/Delay`,
registered through a generic handler, whose request is the delay as ASCII
text (what the HTTP API takes as `?delay=`) and whose answer is the body as
UTF-8. Both sides use the (de)serializers below, so they cannot disagree.

This module imports grpc at the top: import it only where gRPC is wanted
(the slow API's workers, the app's /grpc client), never in a process that
forks after the import (gRPC objects must not cross a fork).
"""

from __future__ import annotations

import asyncio

import grpc

from benchapp.delay import DelayError, parse_delay

SERVICE = "flaskbench.SlowApi"
METHOD = f"/{SERVICE}/Delay"
BODY = "slow api response"
BODY_BYTES = BODY.encode("utf-8")


def encode_delay(delay: float) -> bytes:
    return repr(delay).encode("ascii")


def decode_delay(raw: bytes) -> str:
    # Undecodable bytes become U+FFFD and then fail parse_delay: a clean
    # INVALID_ARGUMENT, not an error inside gRPC's deserializer.
    return raw.decode("ascii", "replace")


def decode_body(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def delay_handler(max_delay: float) -> grpc.GenericRpcHandler:
    """The service: the same validation as HTTP, INVALID_ARGUMENT for a bad delay."""

    async def delay(text: str, context: grpc.aio.ServicerContext) -> bytes:
        try:
            seconds = parse_delay(text, max_delay)
        except DelayError as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        await asyncio.sleep(seconds)
        return BODY_BYTES

    # No response serializer: the handler answers bytes itself, as grpc.aio
    # UTF-8-encodes a str answer before any serializer would see it.
    return grpc.method_handlers_generic_handler(SERVICE, {
        "Delay": grpc.unary_unary_rpc_method_handler(delay, request_deserializer=decode_delay),
    })


async def start_server(host: str, port: int, max_delay: float) -> grpc.aio.Server:
    """A started grpc.aio server on the running asyncio loop.

    gRPC sets SO_REUSEPORT on its listeners by default, so every slow API
    worker process binds the same port and the kernel spreads connections.
    """
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((delay_handler(max_delay),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:  # older grpcio returns 0 instead of raising
        raise OSError(f"gRPC could not bind {host}:{port}")
    await server.start()
    return server
