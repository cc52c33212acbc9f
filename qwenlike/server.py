"""OpenAI-compatible HTTP server: /v1/chat/completions with audio, /v1/models, /health, the web page.

Floor 5. One worker thread owns the model and batches requests from all clients: it takes what
is queued (up to `max_batch`, waiting at most `batch_wait_ms` for company), generates for the
batch with each row's own token limit, and streams text deltas back to each request's queue.

Limits and safety: bodies over `max_body_mb` -> 413; audio over `max_audio_seconds` -> 413;
more than `max_concurrent` requests in flight -> 429; a wrong or missing API key -> 401;
undecodable audio or malformed JSON -> 400. Clients send audio inline (base64); file paths and
URLs are read only when the operator passes `allow_local_files` (and never URLs over a network).
"""

from __future__ import annotations

import base64
import binascii
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request  # module level: FastAPI resolves the handlers' annotations by name

from . import audio as A
from .errors import UserError

STATIC_DIR = Path(__file__).resolve().parent / "web"
_DONE = object()


class HTTPError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param


@dataclass
class ServerConfig:
    model_name: str = "qwenlike"
    api_key: str | None = None
    max_body_mb: float = 25.0
    max_audio_seconds: float = 600.0
    max_concurrent: int = 64
    max_batch: int = 8
    batch_wait_ms: float = 10.0
    max_tokens_cap: int = 1024
    allow_local_files: bool = False


@dataclass
class Job:
    conversation: list
    clips: list
    max_tokens: int
    gen_key: tuple
    labels: list[str] | None = None
    out: queue.Queue = field(default_factory=queue.Queue)  # str deltas, then a dict result, then _DONE
    cancelled: threading.Event = field(default_factory=threading.Event)  # the client went away
    created: float = field(default_factory=time.time)


# ----------------------------------------------------------------------------------------------
# request parsing
# ----------------------------------------------------------------------------------------------
def _decode_audio(part: dict, cfg: ServerConfig) -> Any:
    if part.get("type") == "input_audio":
        spec = part.get("input_audio") or {}
        data = spec.get("data")
        if not isinstance(data, str) or not data:
            raise HTTPError(400, "input_audio.data must be a base64 string", param="input_audio.data")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPError(400, "input_audio.data is not valid base64", param="input_audio.data") from None
        return raw
    url = (part.get("audio_url") or {}).get("url", "") if isinstance(part.get("audio_url"), dict) else part.get("audio_url", "")
    if isinstance(url, str) and url.startswith("data:"):
        try:
            return base64.b64decode(url.split(",", 1)[1], validate=True)
        except (IndexError, binascii.Error, ValueError):
            raise HTTPError(400, "audio_url data URI is not valid base64", param="audio_url") from None
    if not cfg.allow_local_files:
        raise HTTPError(400, "audio must be sent inline (input_audio base64); this server reads no paths or URLs", param="audio_url")
    if isinstance(url, str) and url.startswith("file://"):
        return url[len("file://") :]
    raise HTTPError(400, "only file:// URLs are allowed here, and only with --allow-local-files", param="audio_url")


def parse_request(body: dict, cfg: ServerConfig) -> tuple[list, list, dict]:
    """OpenAI chat request -> (conversation in chat.py format, decoded clips, generation options)."""
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise HTTPError(400, "messages must be a non-empty list", param="messages")
    conv, clips, seconds = [], [], 0.0
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer"):
            raise HTTPError(400, f"messages[{i}] needs a role of system, user or assistant", param=f"messages[{i}].role")
        role = "system" if m["role"] == "developer" else m["role"]
        c = m.get("content")
        if isinstance(c, str) or c is None:
            conv.append({"role": role, "content": c or ""})
            continue
        if not isinstance(c, list):
            raise HTTPError(400, f"messages[{i}].content must be a string or a list of parts", param=f"messages[{i}].content")
        parts = []
        for j, p in enumerate(c):
            kind = p.get("type") if isinstance(p, dict) else None
            if kind == "text":
                parts.append({"type": "text", "text": str(p.get("text", ""))})
            elif kind in ("input_audio", "audio_url"):
                src = _decode_audio(p, cfg)
                try:
                    wav = A.load(src)
                except UserError as e:
                    raise HTTPError(400, f"messages[{i}].content[{j}]: {e}", param=f"messages[{i}].content[{j}]") from None
                seconds += len(wav) / A.SAMPLE_RATE
                if seconds > cfg.max_audio_seconds:
                    raise HTTPError(413, f"audio longer than the server's limit of {cfg.max_audio_seconds:g} s", param="messages")
                clips.append(wav)
                parts.append({"type": "audio", "audio": wav})
            else:
                raise HTTPError(400, f"messages[{i}].content[{j}]: unsupported part type {kind!r}", param=f"messages[{i}].content[{j}].type")
        conv.append({"role": role, "content": parts})
    if conv[-1]["role"] != "user":
        raise HTTPError(400, "the last message must be a user turn", param="messages")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens", 256))
    temperature = body.get("temperature", 0.0)
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    labels = body.get("labels", body.get("guided_choice"))
    try:
        opts = {
            "max_tokens": int(max_tokens), "temperature": float(temperature if temperature is not None else 0.0),
            "top_p": float(body.get("top_p", 1.0) or 1.0), "stop": tuple(str(s) for s in stop)[:4],
            "seed": None if body.get("seed") is None else int(body["seed"]), "stream": bool(body.get("stream", False)),
            "labels": None if labels is None else [str(x) for x in labels],
        }  # fmt: skip
    except (TypeError, ValueError):
        raise HTTPError(400, "max_tokens, temperature, top_p and seed must be numbers") from None
    if not 1 <= opts["max_tokens"] <= cfg.max_tokens_cap:
        raise HTTPError(400, f"max_tokens must be between 1 and {cfg.max_tokens_cap}", param="max_tokens")
    if opts["labels"] is not None and not (1 <= len(opts["labels"]) <= 256):
        raise HTTPError(400, "labels must list 1 to 256 strings", param="labels")
    if int(body.get("n", 1) or 1) != 1:
        raise HTTPError(400, "only n=1 is supported", param="n")
    return conv, clips, opts


# ----------------------------------------------------------------------------------------------
# the batching engine
# ----------------------------------------------------------------------------------------------
class Engine:
    def __init__(self, model: Any, cfg: ServerConfig):
        self.model, self.cfg = model, cfg
        self.q: queue.Queue[Job] = queue.Queue()
        self.stats = {"batches": 0, "requests": 0, "max_batch_seen": 0, "cancelled": 0}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="qwenlike-engine", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> Job:
        self.q.put(job)
        return job

    def close(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                first = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            jobs = [first]
            deadline = time.time() + self.cfg.batch_wait_ms / 1000
            while len(jobs) < self.cfg.max_batch:
                try:
                    jobs.append(self.q.get(timeout=max(0.0, deadline - time.time())))
                except queue.Empty:
                    break
            # label scoring runs per request; generation batches rows that share sampling settings
            groups: dict[tuple, list[Job]] = {}
            for j in jobs:
                groups.setdefault(("labels",) if j.labels else j.gen_key, []).append(j)
            for key, group in groups.items():
                self._run(group, labels=key == ("labels",))

    def _run(self, jobs: list[Job], labels: bool) -> None:
        from .generate import GenerationConfig, generate, score_labels

        self.stats["batches"] += 1
        self.stats["requests"] += len(jobs)
        self.stats["max_batch_seen"] = max(self.stats["max_batch_seen"], len(jobs))
        try:
            if labels:
                for j in jobs:
                    s = score_labels(self.model, j.conversation, j.labels, clips=j.clips)
                    best = s.top(1)[0][0]
                    j.out.put(best)
                    j.out.put({"text": best, "finish_reason": "stop", "completion_tokens": 0, "prompt_tokens": 0,
                               "label_probabilities": dict(zip(s.labels, s.probs))})  # fmt: skip
                    j.out.put(_DONE)
                return
            sample, temperature, top_p, stop, seed = jobs[0].gen_key
            cfg = GenerationConfig(max_new_tokens=max(j.max_tokens for j in jobs), do_sample=sample, temperature=temperature,
                                   top_p=top_p, stop=stop, seed=seed)  # fmt: skip
            res = generate(
                self.model, [j.conversation for j in jobs], cfg, clips=[j.clips for j in jobs],
                on_token=lambda r, delta: jobs[r].out.put(delta), row_max_new_tokens=[j.max_tokens for j in jobs],
                cancelled=lambda r: jobs[r].cancelled.is_set(),
            )  # fmt: skip
            self.stats["cancelled"] += sum(g.finish_reason == "cancelled" for g in res)
            for j, g in zip(jobs, res):
                j.out.put({"text": g.text, "finish_reason": g.finish_reason, "completion_tokens": len(g.token_ids),
                           "prompt_tokens": g.prompt_tokens})  # fmt: skip
                j.out.put(_DONE)
        except Exception as e:  # one bad batch must not kill the engine: each request gets a 500 line
            for j in jobs:
                j.out.put(HTTPError(500, f"generation failed: {type(e).__name__}: {' '.join(str(e).split())[:200]}", "server_error"))
                j.out.put(_DONE)


# ----------------------------------------------------------------------------------------------
# the app
# ----------------------------------------------------------------------------------------------
def _error_body(e: HTTPError) -> dict:
    return {"error": {"message": e.message, "type": e.kind, "param": e.param, "code": e.status}}


def create_app(model: Any, cfg: ServerConfig):
    from fastapi import FastAPI
    from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

    app = FastAPI(title="qwenlike", version="1", description="OpenAI-compatible chat completions with audio input.")
    engine = Engine(model, cfg)
    app.state.engine = engine
    inflight = threading.BoundedSemaphore(cfg.max_concurrent)

    @app.exception_handler(HTTPError)
    async def _http_error(_req: Request, e: HTTPError):
        return JSONResponse(_error_body(e), status_code=e.status)

    @app.exception_handler(Exception)
    async def _any_error(_req: Request, e: Exception):
        return JSONResponse(_error_body(HTTPError(500, f"internal error: {type(e).__name__}", "server_error")), status_code=500)

    def check_key(req: Request) -> None:
        if cfg.api_key is None:
            return
        auth = req.headers.get("authorization", "")
        if auth != f"Bearer {cfg.api_key}":
            raise HTTPError(401, "invalid or missing API key (send Authorization: Bearer KEY)", "authentication_error")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": cfg.model_name, **engine.stats}

    @app.get("/v1/models")
    def models(req: Request) -> dict:
        check_key(req)
        return {"object": "list", "data": [{"id": cfg.model_name, "object": "model", "created": 0, "owned_by": "qwenlike"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(req: Request):
        check_key(req)
        declared = int(req.headers.get("content-length") or 0)
        limit = int(cfg.max_body_mb * 1024 * 1024)
        if declared > limit:
            raise HTTPError(413, f"request body over the server's limit of {cfg.max_body_mb:g} MB")
        raw = b""
        async for chunk in req.stream():
            raw += chunk
            if len(raw) > limit:
                raise HTTPError(413, f"request body over the server's limit of {cfg.max_body_mb:g} MB")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HTTPError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HTTPError(400, "request body must be a JSON object")
        if not inflight.acquire(blocking=False):
            raise HTTPError(429, f"more than {cfg.max_concurrent} requests in flight; retry later", "rate_limit_error")
        try:
            import anyio

            conv, clips, o = await anyio.to_thread.run_sync(parse_request, body, cfg)
        except BaseException:
            inflight.release()
            raise
        key = (o["temperature"] > 0, o["temperature"], o["top_p"], o["stop"], o["seed"])
        job = engine.submit(Job(conv, clips, o["max_tokens"], key, o["labels"]))
        rid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

        def events():
            try:
                yield {"role": "assistant", "content": ""}, None, None
                while True:
                    item = job.out.get()
                    if item is _DONE:
                        return
                    if isinstance(item, HTTPError):
                        yield None, None, item
                    elif isinstance(item, dict):
                        yield {}, item, None
                    else:
                        yield {"content": item}, None, None
            finally:  # also reached when a streaming client disconnects: stop spending tokens on it
                job.cancelled.set()
                inflight.release()

        if o["stream"]:
            def sse():
                for delta, final, err in events():
                    if err is not None:
                        yield f"data: {json.dumps(_error_body(err))}\n\n"
                        continue
                    choice = {"index": 0, "delta": delta, "finish_reason": final["finish_reason"] if final else None}
                    if final and "label_probabilities" in final:
                        choice["label_probabilities"] = final["label_probabilities"]
                    chunk = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": cfg.model_name, "choices": [choice]}
                    yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

        def collect():
            final, err = None, None
            for _delta, f, e in events():
                final, err = f or final, e or err
            return final, err

        final, err = await anyio.to_thread.run_sync(collect)
        if err is not None:
            raise err
        choice = {"index": 0, "message": {"role": "assistant", "content": final["text"]}, "finish_reason": final["finish_reason"]}
        if "label_probabilities" in final:
            choice["label_probabilities"] = final["label_probabilities"]
        usage = {"prompt_tokens": final["prompt_tokens"], "completion_tokens": final["completion_tokens"],
                 "total_tokens": final["prompt_tokens"] + final["completion_tokens"]}  # fmt: skip
        return {"id": rid, "object": "chat.completion", "created": created, "model": cfg.model_name, "choices": [choice], "usage": usage}

    if STATIC_DIR.is_dir():
        @app.get("/", include_in_schema=False)
        def index():
            return FileResponse(STATIC_DIR / "index.html")

        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def serve(model: Any, cfg: ServerConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    uvicorn.run(create_app(model, cfg), host=host, port=port, log_level="warning")
