"""The OpenAI-compatible server, driven by the official `openai` client on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

from qwenlike import chat
from qwenlike.checkpoint import from_pretrained
from qwenlike.generate import GenerationConfig, generate

from conftest import tone

openai = pytest.importorskip("openai")
KEY = "test-key-123"


def _wav_b64(x: np.ndarray, fmt: str = "WAV") -> str:
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_dir):
    import uvicorn

    from qwenlike.server import ServerConfig, create_app

    model = from_pretrained(tiny_dir)
    cfg = ServerConfig(model_name="tiny", api_key=KEY, max_body_mb=1.0, max_audio_seconds=20.0, max_batch=8, batch_wait_ms=20)
    app = create_app(model, cfg)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", model, app
    srv.should_exit = True
    th.join(timeout=10)


def _client(url, key=KEY):
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120)


def _messages(clip, question="What is this sound?"):
    return [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": _wav_b64(clip), "format": "wav"}},
                                         {"type": "text", "text": question}]}]  # fmt: skip


def _direct(model, clip, question="What is this sound?", n=8):
    return generate(model, [chat.analysis([clip], question)], GenerationConfig(max_new_tokens=n), clips=[[clip]])[0].text


def test_answers_plain_and_streamed_equal_direct_generation(server):
    url, model, _ = server
    clip = tone(1.5, 520)
    c = _client(url)
    r = c.chat.completions.create(model="tiny", messages=_messages(clip), max_tokens=8, temperature=0)
    want = _direct(model, clip)
    assert r.choices[0].message.content == want
    assert r.usage.completion_tokens >= 1 and r.model == "tiny"
    parts = [ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
        model="tiny", messages=_messages(clip), max_tokens=8, temperature=0, stream=True)]  # fmt: skip
    assert "".join(parts).strip() == want
    assert [m.id for m in c.models.list().data] == ["tiny"]


def test_two_clips_in_one_message_and_label_probabilities(server):
    url, model, _ = server
    a, b = tone(1.0, 300), tone(2.0, 900)
    msgs = [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": _wav_b64(a), "format": "wav"}},
        {"type": "input_audio", "input_audio": {"data": _wav_b64(b, "FLAC"), "format": "flac"}},
        {"type": "text", "text": "Which is higher?"}]}]  # fmt: skip
    r = _client(url).chat.completions.create(model="tiny", messages=msgs, max_tokens=4, temperature=0,
                                              extra_body={"labels": ["first", "second", "same"]})  # fmt: skip
    probs = r.choices[0].model_extra["label_probabilities"]
    assert set(probs) == {"first", "second", "same"} and abs(sum(probs.values()) - 1) < 1e-6
    assert r.choices[0].message.content == max(probs, key=probs.get)


def test_errors_are_proper_4xx(server):
    url, _, _ = server
    clip = tone(1.0)
    with pytest.raises(openai.AuthenticationError):
        _client(url, key="wrong").chat.completions.create(model="tiny", messages=_messages(clip), max_tokens=2)
    with pytest.raises(openai.APIStatusError) as e:  # 1 MB body limit: ~1.4 MB of base64
        _client(url).chat.completions.create(model="tiny", messages=_messages(tone(45.0)), max_tokens=2)
    assert e.value.status_code == 413
    with pytest.raises(openai.APIStatusError) as e:  # 25 s of 8-bit audio fits the body but not the 20 s limit
        buf = io.BytesIO()
        sf.write(buf, tone(25.0), 8000, format="WAV", subtype="PCM_U8")
        bad = [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": base64.b64encode(buf.getvalue()).decode(), "format": "wav"}}]}]
        _client(url).chat.completions.create(model="tiny", messages=bad, max_tokens=2)
    assert e.value.status_code == 413
    for data in (base64.b64encode(b"RIFF\x00\x00garbage-not-audio").decode(), "%%%not-base64%%%"):
        msgs = [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}]}]
        with pytest.raises(openai.BadRequestError):
            _client(url).chat.completions.create(model="tiny", messages=msgs, max_tokens=2)
    with pytest.raises(openai.BadRequestError):  # no file paths from clients
        _client(url).chat.completions.create(model="tiny", max_tokens=2, messages=[{"role": "user", "content": [
            {"type": "audio_url", "audio_url": {"url": "file:///etc/passwd"}}]}])  # fmt: skip
    req = urllib.request.Request(url + "/v1/chat/completions", data=b"{not json", headers={"Authorization": f"Bearer {KEY}"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 400 and "error" in json.loads(e.value.read())
    assert json.loads(urllib.request.urlopen(url + "/health").read())["status"] == "ok"
    assert "/v1/chat/completions" in json.loads(urllib.request.urlopen(url + "/openapi.json").read())["paths"]


def test_32_concurrent_clients_get_their_own_answers(server):
    url, model, app = server
    clips = [tone(0.5 + 0.1 * (i % 8), 200 + 60 * i, seed=i) for i in range(32)]
    want = [_direct(model, c, n=6) for c in clips]
    before = app.state.engine.stats["batches"]

    def ask(i):
        r = _client(url).chat.completions.create(model="tiny", messages=_messages(clips[i]), max_tokens=6, temperature=0)
        return r.choices[0].message.content

    with ThreadPoolExecutor(32) as ex:
        got = list(ex.map(ask, range(32)))
    assert got == want
    stats = app.state.engine.stats
    assert stats["max_batch_seen"] > 1 and stats["batches"] - before < 32  # requests were batched together


def test_a_client_that_disconnects_stops_its_generation(server):
    import http.client

    url, _, app = server
    body = {"model": "tiny", "messages": _messages(tone(1.0)), "max_tokens": 1000, "stream": True, "temperature": 1.0, "seed": 1}
    before = app.state.engine.stats["cancelled"]
    conn = http.client.HTTPConnection(url.split("//")[1], timeout=60)
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    for _ in range(4):
        resp.readline()
    conn.sock.close()  # hang up mid-answer
    conn.close()
    deadline = time.time() + 60
    while time.time() < deadline and app.state.engine.stats["cancelled"] == before:
        time.sleep(0.1)
    assert app.state.engine.stats["cancelled"] == before + 1
