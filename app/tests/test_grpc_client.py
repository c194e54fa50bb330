"""benchapp.grpc_client: the Flask app's gRPC channels (the /grpc route: test_app.py)."""

from __future__ import annotations


def test_grpc_channels_are_separate_connections_used_in_turn():
    """grpc_channels=3: three HTTP/2 connections (three client ports seen by the
    server), the calls round-robin over them, so they spread over the slow
    API's processes; identical channels would share one connection."""
    from concurrent import futures

    import grpc

    from benchapp import grpc_api
    from benchapp.grpc_client import GrpcFetch

    peers: list[str] = []

    def delay(_raw: bytes, context: grpc.ServicerContext) -> bytes:
        peers.append(context.peer())
        return grpc_api.BODY_BYTES

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(grpc_api.SERVICE, {
        "Delay": grpc.unary_unary_rpc_method_handler(delay)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        fetch = GrpcFetch(f"127.0.0.1:{port}", connect_timeout=5, timeout=5, channels=3)
        assert [fetch(0) for _ in range(6)] == [grpc_api.BODY] * 6
        assert len(set(peers)) == 3, peers
        assert peers[:3] == peers[3:]  # in turn
    finally:
        server.stop(0)
