"""Policy without traffic to other machines: the peer check, media roots, tokens, PCM, refusals."""

from __future__ import annotations

import subprocess
import sys
import time

import grpc
import numpy as np
import pytest

from scorecut.server import pcm
from scorecut.server.config import ServerConfig, is_loopback_host
from scorecut.server.policy import is_loopback_peer, token_matches, under_roots
from scorecut.v1 import scorecut_pb2 as pb
from tests.helpers.server_calls import assert_actionable, assert_serving, status_of, stub
from tests.helpers.servers import free_port, isolated_env


@pytest.mark.parametrize("peer", ["ipv4:127.0.0.1:5555", "ipv4:127.3.2.1:80", "ipv6:[::1]:5555", "ipv6:%5B::1%5D:42014",
                                  "ipv6:[::ffff:127.0.0.1]:5555", "ipv6:[::1%lo]:5555", "unix:/tmp/sock",
                                  "unix-abstract:scorecut"])
def test_loopback_peers_may_send_paths(peer):
    assert is_loopback_peer(peer)


@pytest.mark.parametrize("peer", ["ipv4:10.1.2.3:5555", "ipv4:192.168.1.20:50777", "ipv4:8.8.8.8:1",
                                  "ipv6:[2001:db8::1]:5555", "ipv6:%5B2001:db8::1%5D:5555",
                                  "ipv6:[::ffff:10.0.0.1]:5555", "ipv6:[fe80::1%eth0]:9",
                                  "ipv4:0.0.0.0:1", "", "garbage", "ipv4:", "ipv4:localhost:5"])
def test_other_peers_may_not(peer):
    assert not is_loopback_peer(peer)


def test_paths_only_under_media_roots_with_symlinks_resolved(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    (root / "a.mp4").write_bytes(b"x")
    (outside / "secret.mp4").write_bytes(b"x")
    (root / "escape.mp4").symlink_to(outside / "secret.mp4")
    (root / "sub").mkdir()
    assert under_roots(root / "a.mp4", [root])
    assert under_roots(root / "sub" / ".." / "a.mp4", [root])
    assert not under_roots(outside / "secret.mp4", [root])
    assert not under_roots(root / ".." / "outside" / "secret.mp4", [root])
    assert not under_roots(root / "escape.mp4", [root])  # a symlink out of the root is outside
    assert not under_roots(tmp_path / "rootx" / "a.mp4", [root])  # a sibling sharing a name prefix
    assert under_roots(outside / "secret.mp4", [root, outside])


def test_token_must_match_exactly():
    assert token_matches([("authorization", "Bearer s3cret-0123456789")], "s3cret-0123456789")
    assert token_matches([("Authorization", "bearer s3cret-0123456789")], "s3cret-0123456789")
    assert not token_matches([("authorization", "Bearer s3cre")], "s3cret-0123456789")
    assert not token_matches([("authorization", "s3cret-0123456789")], "s3cret-0123456789")
    assert not token_matches([("x-token", "Bearer s3cret-0123456789")], "s3cret-0123456789")
    assert not token_matches([], "s3cret-0123456789")


def test_config_refuses_non_loopback_without_token():
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1") and is_loopback_host("localhost")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("10.0.0.5") and not is_loopback_host("example.com")
    assert any("token" in p for p in ServerConfig(host="0.0.0.0").problems())
    assert not ServerConfig(host="0.0.0.0", token="t" * 16).problems()
    assert not ServerConfig().problems()


def test_serve_refuses_to_start_on_all_interfaces_without_token(tmp_path):
    # The refusal happens before binding, so no traffic ever leaves loopback.
    cmd = [sys.executable, "-m", "scorecut.cli.main", "serve", "--host", "0.0.0.0",
           "--port", str(free_port())]
    result = subprocess.run(cmd, env=isolated_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--token" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["s16le", "s24le", "f32le"])
def test_pcm_encoding_round_trips(fmt):
    rng = np.random.default_rng(0)
    audio = rng.uniform(-1, 1, size=(2, 1000)).astype(np.float32)  # (channels, frames)
    audio[0, 0], audio[1, 0] = 1.5, -1.5  # clipped to full scale, never wrapped
    data = pcm.encode(audio, fmt)
    width = pcm.SAMPLE_FORMATS[fmt]
    assert len(data) == audio.size * width
    if fmt == "f32le":
        back = np.frombuffer(data, "<f4").reshape(-1, 2).T
        np.testing.assert_array_equal(back, audio)
        return
    raw = np.frombuffer(data, np.uint8).reshape(-1, width)  # one row per sample, interleaved
    padded = np.zeros((raw.shape[0], 4), np.uint8)
    padded[:, 4 - width:] = raw  # place in the high bytes, then arithmetic shift keeps the sign
    ints = padded.view("<i4").ravel() >> (8 * (4 - width))
    full = 2 ** (8 * width - 1)  # integers are scaled by a power of two
    back = (ints / float(full)).reshape(-1, 2).T  # (channels, frames)
    np.testing.assert_allclose(back, np.clip(audio, -1, 1), atol=1.01 / full)
    assert ints.max() == full - 1 and ints.min() == -full  # clipped to the integer range, not wrapped
    assert back[0, 0] == (full - 1) / full and back[1, 0] == -1.0


def test_token_guards_every_call_but_health(fresh_server):
    srv = fresh_server("--token", "s3cret-0123456789")
    s, _ = stub(srv.address)
    assert_actionable(status_of(lambda: s.GetInfo(pb.GetInfoRequest(), timeout=10)),
                      grpc.StatusCode.UNAUTHENTICATED, "token")
    wrong = (("authorization", "Bearer nope"),)
    assert_actionable(status_of(lambda: s.GetInfo(pb.GetInfoRequest(), metadata=wrong, timeout=10)),
                      grpc.StatusCode.UNAUTHENTICATED, "wrong token")
    assert_actionable(status_of(lambda: s.Score(pb.ScoreRequest(), metadata=wrong, timeout=10)),
                      grpc.StatusCode.UNAUTHENTICATED, "token")
    assert_actionable(status_of(lambda: s.HasMedia(pb.HasMediaRequest(sha256="0" * 64), timeout=10)),
                      grpc.StatusCode.UNAUTHENTICATED, "token")
    assert_serving(srv.address, token="s3cret-0123456789")  # health needs no token; GetInfo with it works


def test_sigterm_stops_gracefully(fresh_server):
    srv = fresh_server()
    assert_serving(srv.address)
    started = time.monotonic()
    srv.proc.terminate()
    assert srv.proc.wait(timeout=30) == 0
    assert time.monotonic() - started < 15
    assert "stopped" in srv.log()
    results = srv.home / ".cache" / "scorecut" / "results"
    assert not results.exists() or not any(p.name.startswith(".tmp-") for p in results.iterdir())


def test_tls_with_token(tmp_path, media_root):
    """--tls-cert/--tls-key serve TLS: a TLS client with the token gets through, plaintext does not."""
    import shutil

    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from scorecut.v1 import scorecut_pb2_grpc as pb_grpc
    from tests.helpers.servers import ServerProcess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    srv = ServerProcess(free_port(), tmp_path / "home", media_root,
                        ["--tls-cert", str(cert), "--tls-key", str(key), "--token", "t0k-0123456789abc"])
    cmd = [sys.executable, "-m", "scorecut.cli.main", "serve", "--host", "127.0.0.1",
           "--port", str(srv.port), "--media-root", str(media_root), *srv.args]
    srv.home.mkdir()
    srv.proc = subprocess.Popen(cmd, env=isolated_env(srv.home), stdout=subprocess.PIPE,
                                stderr=open(srv.log_path, "ab"), text=True)
    try:
        line = srv.proc.stdout.readline()
        assert line.startswith("scorecut serving on 127.0.0.1") and "TLS" in line, line
        creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(srv.address, creds) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            info = pb_grpc.ScorecutStub(channel).GetInfo(pb.GetInfoRequest(), timeout=30,
                                                         metadata=(("authorization", "Bearer t0k-0123456789abc"),))
            assert info.version
        with grpc.insecure_channel(srv.address) as channel:
            with pytest.raises(grpc.RpcError) as failed:
                pb_grpc.ScorecutStub(channel).GetInfo(pb.GetInfoRequest(), timeout=5,
                                                      metadata=(("authorization", "Bearer t0k-0123456789abc"),))
            assert failed.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        srv.stop()


def test_pre_encoded_chunk_events_are_ordinary_score_events():
    from scorecut.server import wire

    pcm_bytes = bytes(range(256)) * 1100  # over 2**16 bytes: multi-byte length varints
    for offset in (0, 1, 300, 2**40):
        raw = wire.chunk_event(wire.job_prefix("job-1"), "bass", 2, 48_000, offset, "s24le", pcm_bytes)
        event = pb.ScoreEvent.FromString(raw)
        expected = pb.ScoreEvent(job_id="job-1", chunk=pb.StemChunk(
            stem="bass", channels=2, sample_rate=48_000, offset_frames=offset, pcm=pcm_bytes, sample_format="s24le"))
        assert event == expected


def test_every_rpc_of_the_contract_is_registered():
    from scorecut.server import wire

    class Recorder:
        def add_generic_rpc_handlers(self, handlers):
            self.handlers = handlers

    class Servicer:
        def __getattr__(self, name):
            return lambda request, context: None

    recorder = Recorder()
    wire.add_service(Servicer(), recorder)
    service = pb.DESCRIPTOR.services_by_name["Scorecut"]
    for method in service.methods:
        details = type("D", (), {"method": f"/{service.full_name}/{method.name}"})()
        handler = recorder.handlers[0].service(details)
        assert handler is not None, method.name
        assert handler.request_streaming == method.client_streaming
        assert handler.response_streaming == method.server_streaming


def test_a_taken_port_is_a_clear_error(server, tmp_path):
    cmd = [sys.executable, "-m", "scorecut.cli.main", "serve", "--port", str(server.port),
           "--media-root", str(tmp_path)]
    result = subprocess.run(cmd, env=isolated_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "another server" in result.stderr and "--port" in result.stderr and "Traceback" not in result.stderr
    assert_serving(server.address)  # the first server is untouched


def test_ipv6_loopback_clients_may_send_paths(tmp_path, media_root):
    """A real IPv6 loopback peer (gRPC percent-encodes its brackets) is recognised as local."""
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("this machine has no IPv6 loopback (the peer strings are covered above)")
    cmd = [sys.executable, "-m", "scorecut.cli.main", "serve", "--host", "::1", "--port", str(port),
           "--media-root", str(media_root)]
    proc = subprocess.Popen(cmd, env=isolated_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=open(tmp_path / "server.log", "ab"), text=True)
    try:
        assert proc.stdout.readline().startswith(f"scorecut serving on [::1]:{port}")
        s, _ = stub(f"[::1]:{port}")
        assert s.GetInfo(pb.GetInfoRequest(), timeout=30).paths_allowed
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
