"""Who may do what: loopback peers, media roots, and the bearer token.

A path reference makes the server read a file on its own disk, so it is honoured only for a peer
on this machine (loopback or a unix socket) and only under the configured media roots. Everyone
else uploads. The token, when set, guards every RPC except the health check (load balancers and
`scorecut doctor` must be able to ask whether the server is up without a secret).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote

import grpc

OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/",)


def peer_host(peer: str) -> str | None:
    """The address part of a gRPC peer string ("ipv4:1.2.3.4:5", "ipv6:%5B::1%5D:5", "unix:/p")."""
    kind, _, rest = unquote(peer).partition(":")  # gRPC writes IPv6 brackets percent-encoded
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        host = rest.rsplit(":", 1)[0] if rest.startswith("[") else rest
        return host.strip("[]").split("%", 1)[0]  # drop a zone id such as %lo
    return None


def is_loopback_peer(peer: str) -> bool:
    """Whether the peer is on this machine: a unix socket or a loopback address (IPv4-mapped too)."""
    kind = peer.partition(":")[0]
    if kind in ("unix", "unix-abstract"):
        return True
    host = peer_host(peer)
    if host is None:
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def under_roots(path: Path, roots: Iterable[Path]) -> bool:
    """Whether `path`, with every symlink resolved, lies inside one of `roots` (also resolved)."""
    real = Path(os.path.realpath(path))
    for root in roots:
        root_real = Path(os.path.realpath(root))
        if real == root_real or root_real in real.parents:
            return True
    return False


def inside_roots(real_path: str, roots: Iterable[Path]) -> bool:
    """Whether `real_path`, already real (the kernel's name for an open file), lies inside one of
    `roots`. It is not resolved again: a symlink planted since it was opened must not count."""
    real = Path(real_path)
    for root in roots:
        root_real = Path(os.path.realpath(root))
        if real == root_real or root_real in real.parents:
            return True
    return False


def token_matches(metadata: Iterable[tuple[str, str]], token: str) -> bool:
    """Whether the call carries `authorization: Bearer <token>` (compared in constant time)."""
    for key, value in metadata or ():
        if key.lower() == "authorization" and isinstance(value, str):
            scheme, _, given = value.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
                return True
    return False


def _aborting_handler(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str):
    """A handler of the same streaming shape as `handler` that ends the call with `code`."""

    def deny(request_or_iterator, context):
        context.abort(code, message)

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(deny, handler.request_deserializer, handler.response_serializer)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(deny, handler.request_deserializer, handler.response_serializer)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(deny, handler.request_deserializer, handler.response_serializer)
    return grpc.unary_unary_rpc_method_handler(deny, handler.request_deserializer, handler.response_serializer)


class TokenInterceptor(grpc.ServerInterceptor):
    """Rejects calls without the configured bearer token: UNAUTHENTICATED, the gRPC norm for a
    missing or wrong credential (PERMISSION_DENIED is kept for an authenticated caller asking
    for something the policy forbids, such as a path outside the media roots)."""

    def __init__(self, token: str):
        self._token = token

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method or ""
        if handler is None or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        if token_matches(handler_call_details.invocation_metadata, self._token):
            return handler
        has_auth = any(k.lower() == "authorization" for k, _ in handler_call_details.invocation_metadata or ())
        message = ("wrong token: the server was started with --token (or by `scorecut score` for its user, "
                   "whose own it then is); send the same token (authorization: Bearer TOKEN)") if has_auth else (
                   "this server needs a token: send it as 'authorization: Bearer TOKEN' metadata "
                   "(the client's --token option)")
        return _aborting_handler(handler, grpc.StatusCode.UNAUTHENTICATED, message)
