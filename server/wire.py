"""Registering the service with a serializer that lets stem chunks skip a copy.

Stem audio is most of what the server sends. Building a ScoreEvent around each 256 KiB chunk
and serializing it copies the PCM twice; instead a chunk event is written straight to protobuf
wire bytes (one copy) and the Score serializer passes bytes through unchanged. The bytes are an
ordinary ScoreEvent on the wire: clients parse them with the generated code like any other.
"""

from __future__ import annotations

import grpc

from scorecut.v1 import scorecut_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["Scorecut"].full_name  # "scorecut.v1.Scorecut", from the contract
_LEN = 2  # protobuf wire type: length-delimited
_EVENT_CHUNK_TAG = bytes([(6 << 3) | _LEN])  # ScoreEvent.chunk = 6
_CHUNK_PCM_TAG = bytes([(5 << 3) | _LEN])  # StemChunk.pcm = 5


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def job_prefix(job_id: str) -> bytes:
    """ScoreEvent.job_id on the wire: prepended to every pre-encoded event of the job."""
    return pb.ScoreEvent(job_id=job_id).SerializeToString()


def chunk_event(prefix: bytes, stem: str, channels: int, sample_rate: int, offset_frames: int,
                sample_format: str, pcm: bytes) -> bytes:
    """The wire bytes of ScoreEvent(job_id, chunk=StemChunk(...)), copying `pcm` once."""
    fields = pb.StemChunk(stem=stem, channels=channels, sample_rate=sample_rate, offset_frames=offset_frames,
                          sample_format=sample_format).SerializeToString()
    inner_len = len(fields) + 1 + len(_varint(len(pcm))) + len(pcm)
    return b"".join((prefix, _EVENT_CHUNK_TAG, _varint(inner_len), fields, _CHUNK_PCM_TAG,
                     _varint(len(pcm)), pcm))


def _serialize_event(event) -> bytes:
    return event if isinstance(event, bytes) else event.SerializeToString()


def add_service(servicer, server: grpc.Server) -> None:
    """Like the generated add_ScorecutServicer_to_server, with Score's pass-through serializer."""
    handlers = {
        "GetInfo": grpc.unary_unary_rpc_method_handler(
            servicer.GetInfo, pb.GetInfoRequest.FromString, pb.ServerInfo.SerializeToString),
        "Score": grpc.unary_stream_rpc_method_handler(
            servicer.Score, pb.ScoreRequest.FromString, _serialize_event),
        "UploadMedia": grpc.stream_unary_rpc_method_handler(
            servicer.UploadMedia, pb.UploadChunk.FromString, pb.MediaRef.SerializeToString),
        "HasMedia": grpc.unary_unary_rpc_method_handler(
            servicer.HasMedia, pb.HasMediaRequest.FromString, pb.HasMediaReply.SerializeToString),
        "CancelJob": grpc.unary_unary_rpc_method_handler(
            servicer.CancelJob, pb.CancelJobRequest.FromString, pb.CancelJobReply.SerializeToString),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
