"""gRPC status codes for what goes wrong, and the one place exceptions become statuses.

Handlers raise `RpcFailure(code, message)` or let a model's ScorecutError through; `rpc_errors`
turns either into `context.abort` with the message alone. Anything unexpected becomes INTERNAL
with a short message while the full traceback goes to the log, and the server keeps serving.
"""

from __future__ import annotations

import functools
import inspect
import logging

import grpc

from scorecut.models.interface import Cancelled, MediaError, ModelUnavailable, RequestError

log = logging.getLogger("scorecut.server")
SHOWN_CHARS = 120  # of a value the client sent, echoed in a message
MAX_MESSAGE_CHARS = 2000  # of any status message: far below gRPC's 8 KiB metadata limit, so the
# client always receives the message (an over-long one is dropped and read as a different failure)


class RpcFailure(Exception):
    """End the call with `code` and `message` (a sentence a person can act on)."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def shown(value: str, limit: int = SHOWN_CHARS) -> str:
    """`value` quoted for a message, cut to `limit` characters with the length said."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return repr(text[: limit - 20]) + f"... ({len(text)} characters)"


def bounded(message: str) -> str:
    """A status message the client can always receive."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 40] + f" ... ({len(message)} characters in all)"


def invalid(message: str) -> RpcFailure:
    return RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, message)


def log_file() -> str | None:
    """The file the server logs to (set up by `setup_logging`), or None when it logs to no file."""
    for logger in (log, logging.getLogger("scorecut")):
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler):
                return handler.baseFilename
    return None


def internal_message(error: BaseException) -> str:
    where = log_file()
    shown = f"the server log ({where})" if where else "the server log"
    return (f"the server failed on this request ({type(error).__name__}); {shown} has the details: "
            "send them with a bug report, and try again or change the request")


def status_of(error: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and message a client sees for `error`."""
    if isinstance(error, RpcFailure):
        return error.code, error.message
    if isinstance(error, Cancelled):
        return grpc.StatusCode.CANCELLED, str(error) or "the job was cancelled"
    if isinstance(error, ModelUnavailable):
        return grpc.StatusCode.FAILED_PRECONDITION, str(error)
    if isinstance(error, (MediaError, RequestError)):
        return grpc.StatusCode.INVALID_ARGUMENT, str(error)
    log.error("unexpected error", exc_info=(type(error), error, error.__traceback__))
    return grpc.StatusCode.INTERNAL, internal_message(error)


def rpc_errors(method):
    """Decorate a servicer method (plain or generator) so failures end the call with a status."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def stream(self, request, context):
            try:
                yield from method(self, request, context)
                return
            except Exception as error:  # every failure becomes a status
                code, message = status_of(error)
            context.abort(code, bounded(message))

        return stream

    @functools.wraps(method)
    def unary(self, request, context):
        try:
            return method(self, request, context)
        except Exception as error:
            code, message = status_of(error)
        context.abort(code, bounded(message))

    return unary
