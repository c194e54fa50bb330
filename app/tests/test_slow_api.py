"""benchapp.slow_api: the upstream's validation, over HTTP and gRPC, as the apps'.

Its serving (several workers on one port, exit 1 when they die at start) is
in test_serving.py, with the modes' servers.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from benchapp import slow_api as slow_api_module
from conftest import BAD_DELAYS


def test_slow_api_validates_the_same_way():
    async def check():
        async with TestClient(TestServer(slow_api_module.create_app(30))) as cli:
            for raw in BAD_DELAYS:
                resp = await cli.get("/", params={"delay": raw})
                assert resp.status == 400, raw
                assert "from 0 to 30" in (await resp.json())["detail"]
            ok = await cli.get("/", params={"delay": "0"})
            assert ok.status == 200 and await ok.text() == "slow api response"

    asyncio.run(check())


def test_slow_api_grpc_validates_the_same_way(slow_api_grpc):
    import grpc

    from benchapp import grpc_api

    with grpc.insecure_channel(slow_api_grpc) as channel:
        call = channel.unary_unary(grpc_api.METHOD, request_serializer=lambda text: text.encode(),
                                   response_deserializer=grpc_api.decode_body)
        for raw in BAD_DELAYS:
            with pytest.raises(grpc.RpcError) as err:
                call(raw, timeout=5)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raw
            assert "from 0 to 30" in err.value.details()
        assert call("0", timeout=5) == "slow api response"
