"""The web page end to end: Debian's Chromium (headless, driven by Playwright) against `qwenlike serve`.

`qwenlike serve` runs as a real subprocess on 127.0.0.1 with a tiny random model, an API key and a
20 s audio limit. The page is driven like a user would: key dialog, upload, ask, follow-up by
keyboard, voice turn, classify, a corrupt file, an over-long clip, a 360 px wide screen.
Answers are checked against the model's own greedy generation for the conversation the page sent.

Needs /usr/bin/chromium (+ chromium-driver) and playwright: `bash scripts/install_browser.sh`.
QWENLIKE_DOCS_SCREENSHOT=1 also refreshes docs/img/web.png.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import tone

CHROMIUM = "/usr/bin/chromium"
KEY = "web-test-key"
MAX_TOKENS = 12
ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]  # fmt: skip

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not installed (bash scripts/install_browser.sh)"
)


def _swell(n: int, k: int) -> np.ndarray:
    """k loudness swells over n samples: a waveform with something to see."""
    return np.abs(np.sin(np.linspace(0, k * np.pi, n))).astype(np.float32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tiny_dir, tmp_path_factory):
    """`qwenlike serve` in a subprocess: (url, log path)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = dict(os.environ, OMP_NUM_THREADS="1")  # leave the other core to Chromium
    env.pop("QWENLIKE_API_KEY", None)
    cmd = [sys.executable, "-m", "qwenlike.cli", "serve", "--model", str(tiny_dir), "--port", str(port), "--api-key", KEY,
           "--model-name", "tiny", "--max-audio-seconds", "20"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"qwenlike serve did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _answer(model, body: dict) -> str:
    """What the model answers for the request body the page sent (same sampling settings and seed)."""
    from qwenlike.generate import GenerationConfig, generate
    from qwenlike.server import ServerConfig, parse_request

    conv, clips, o = parse_request(body, ServerConfig())
    cfg = GenerationConfig(max_new_tokens=o["max_tokens"], do_sample=o["temperature"] > 0, temperature=o["temperature"],
                           top_p=o["top_p"], stop=o["stop"], seed=o["seed"])  # fmt: skip
    return generate(model, [conv], cfg, clips=[clips])[0].text.strip()


def _sse_deltas(url: str, body: dict) -> list[str]:
    """The content deltas of the server's event stream for `body` (what the page reads piece by piece)."""
    req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})  # fmt: skip
    out = []
    with urllib.request.urlopen(req, timeout=60) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                delta = json.loads(line[6:])["choices"][0].get("delta", {}).get("content")
                if delta:
                    out.append(delta)
    return out


def _wait_answers(page, n: int) -> str:
    """Wait until n assistant turns exist and the last is finished; return its text."""
    page.wait_for_function(
        """n => { const t = document.querySelectorAll('#log .turn.assistant');
                  return t.length === n && !t[n - 1].hasAttribute('aria-busy'); }""",
        arg=n, timeout=60_000,
    )  # fmt: skip
    return page.locator("#log .turn.assistant .text").nth(n - 1).inner_text().strip()


@needs_chromium
def test_page_end_to_end(served, tiny_dir, tmp_path):
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: bash scripts/install_browser.sh (pip install playwright==1.65.2)")
    from qwenlike.checkpoint import from_pretrained

    url, log = served
    model = from_pretrained(tiny_dir)
    clip1, clip2, long_clip = tmp_path / "tone.wav", tmp_path / "chirp.flac", tmp_path / "long.wav"
    sf.write(clip1, tone(2.0, 440) * _swell(32000, 3), 16000, subtype="PCM_16")
    sf.write(clip2, tone(1.2, 880, seed=1) * _swell(19200, 2), 16000, format="FLAC", subtype="PCM_16")
    sf.write(long_clip, tone(25.0, 300, seed=2), 16000, subtype="PCM_16")  # over the server's 20 s limit

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page_errors: list[str] = []
        page.on("pageerror", lambda e: page_errors.append(str(e)))
        bodies: list[dict] = []
        responses: list[tuple[int, str]] = []
        chat_url = "/v1/chat/completions"
        page.on("request", lambda r: r.method == "POST" and r.url.endswith(chat_url) and bodies.append(r.post_data_json))
        page.on("response", lambda r: r.url.endswith(chat_url) and responses.append((r.status, r.headers.get("content-type", ""))))
        try:
            page.goto(url + "/")
            # the server wants a key: the page asks once, then lists the model
            dialog = page.locator("#key-dialog")
            expect(dialog).to_be_visible()
            page.fill("#key-input", KEY)
            page.press("#key-input", "Enter")
            expect(page.locator("#model-name")).to_have_text("tiny")
            expect(dialog).to_be_hidden()

            page.click(".options summary")
            page.fill("#max-tokens", str(MAX_TOKENS))
            # a tiny random model's greedy answer is blank; sampling with a fixed seed is visible and reproducible
            page.fill("#temperature", "1")
            page.fill("#seed", "7")

            # 1. upload a wav: waveform drawn, playable
            page.set_input_files("#file", str(clip1))
            expect(page.locator("#pending .clip")).to_have_count(1)
            expect(page.locator("#pending .clip-name")).to_contain_text("tone.wav")
            assert page.locator("#pending audio").get_attribute("src").startswith("blob:")
            page.wait_for_function(
                """() => { const c = document.querySelector('#pending canvas.wave');
                           if (!c || !c.width) return false;
                           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                           for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; }"""
            )  # fmt: skip

            # 2. ask a question (analysis mode): the answer streams in and is the model's own answer
            page.evaluate(
                """() => { window.__partials = [];
                           new MutationObserver(() => {
                             const t = document.querySelector('#log .turn.assistant .text.streaming');
                             const p = window.__partials;
                             if (t && t.textContent && p.at(-1) !== t.textContent) p.push(t.textContent);
                           }).observe(document.querySelector('#log'), {subtree: true, childList: true, characterData: true}); }"""
            )  # fmt: skip
            page.fill("#question", "What is this sound?")
            page.click("#ask")
            first = _wait_answers(page, 1)
            partials = page.evaluate("window.__partials")
            # the page grows the answer as it streams: whatever it showed was a start of the final text
            # (how many pieces it painted depends on the machine's load; the server's stream is checked below)
            assert partials and all(first.startswith(p.strip()) for p in partials), partials
            assert first and first != "(empty answer)"
            assert bodies[-1]["stream"] is True and responses[-1][1].startswith("text/event-stream")
            deltas = _sse_deltas(url, bodies[-1])
            assert len(deltas) >= 2 and "".join(deltas).strip() == first  # sent token by token, same answer
            assert first == _answer(model, bodies[-1])
            expect(page.locator("#pending .clip")).to_have_count(0)
            expect(page.locator("#log .turn.user .clip")).to_have_count(1)

            # 3. a follow-up by keyboard keeps the conversation (clip and first answer sent again)
            page.fill("#seed", "8")
            page.focus("#question")
            page.keyboard.type("Is it loud?")
            page.keyboard.press("Enter")
            second = _wait_answers(page, 2)
            msgs = bodies[-1]["messages"]
            assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
            assert [p["type"] for p in msgs[0]["content"]] == ["input_audio", "text"]
            assert msgs[1]["content"].strip() == first and msgs[2]["content"] == [{"type": "text", "text": "Is it loud?"}]
            assert second == _answer(model, bodies[-1])

            # 4. a second clip sent as a voice-chat turn: the audio alone
            page.set_input_files("#file", str(clip2))
            expect(page.locator("#pending .clip")).to_have_count(1)
            page.fill("#seed", "9")
            page.click("#voice")
            third = _wait_answers(page, 3)
            msgs = bodies[-1]["messages"]
            assert len(msgs) == 5 and [p["type"] for p in msgs[4]["content"]] == ["input_audio"]
            assert third == _answer(model, bodies[-1])

            # 5. classify the latest clip: one bar per label, probabilities summing to 1
            labels = ["tone", "speech", "music", "silence"]
            assert page.locator("#cls-clip option").count() == 2
            page.fill("#labels", "\n".join(labels))
            page.click("#classify")
            bars = page.locator("#bars .bar")
            expect(bars).to_have_count(len(labels))
            probs = {b.get_attribute("data-label"): float(b.get_attribute("data-prob")) for b in bars.all()}
            assert set(probs) == set(labels) and abs(sum(probs.values()) - 1) < 1e-4
            assert bodies[-1]["labels"] == labels
            assert [p["type"] for p in bodies[-1]["messages"][0]["content"]] == ["input_audio", "text"]
            expect(page.locator("#alert")).to_be_hidden()
            expect(page.locator("#stop")).to_be_hidden()
            page.screenshot(path=str(tmp_path / "web.png"), full_page=True)
            if os.environ.get("QWENLIKE_DOCS_SCREENSHOT"):
                (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ROOT / "docs" / "img" / "web.png"), full_page=True)
            # a task's label set (from the shipped label_sets.json) fills the labels and the task's question
            task_sets = json.loads((ROOT / "qwenlike" / "web" / "label_sets.json").read_text())
            if "speaker_gender" in task_sets:
                page.select_option("#label-set", "Task label sets/speaker_gender")
                assert page.input_value("#labels").split("\n") == task_sets["speaker_gender"]["labels"]
                assert page.input_value("#cls-question") == task_sets["speaker_gender"]["prompt"]
            page.select_option("#label-set", "Examples/Examples: yes / no")
            assert page.input_value("#labels") == "yes\nno"

            # Stop (here: Esc) ends a long answer; the partial answer stays in the conversation.
            # The tiny model writes its whole answer in well under a second, so for this one answer the
            # browser gets a slow connection: the stream is handed to the page one event at a time, each
            # event after the first text held back 2 s (or until Stop). Esc then always lands mid-answer
            # (without this it raced the end of the stream on a loaded CI machine).
            page.evaluate(
                r"""() => { const orig = window.fetch;
                           window.fetch = async (...args) => {
                             const res = await orig(...args);
                             if (!String(args[0]).endsWith('chat/completions') || !res.body) return res;
                             window.fetch = orig;  // only this request
                             const signal = (args[1] || {}).signal, reader = res.body.getReader();
                             const dec = new TextDecoder(), enc = new TextEncoder();
                             let buf = '', queue = [], ended = false, texted = false;
                             const wait = ms => new Promise(r => { const t = setTimeout(r, ms);
                               if (signal) signal.addEventListener('abort', () => { clearTimeout(t); r(); }, {once: true}); });
                             const slow = new ReadableStream({ async pull(c) {
                               if (texted) await wait(2000);
                               if (signal && signal.aborted) { reader.cancel().catch(() => {}); c.error(new DOMException('stopped', 'AbortError')); return; }
                               while (!queue.length && !ended) {
                                 const { done, value } = await reader.read();
                                 if (done) { ended = true; if (buf) queue.push(buf); break; }
                                 buf += dec.decode(value, { stream: true });
                                 for (let k; (k = buf.indexOf('\n\n')) >= 0; buf = buf.slice(k + 2)) queue.push(buf.slice(0, k + 2));
                               }
                               if (!queue.length) { c.close(); return; }
                               const ev = queue.shift();
                               if (/"content":\s*"[^"]/.test(ev)) texted = true;
                               c.enqueue(enc.encode(ev)); } });
                             return new Response(slow, { status: res.status, headers: res.headers });
                           }; }"""
            )  # fmt: skip
            page.fill("#max-tokens", "64")
            page.fill("#question", "Tell me everything.")
            page.press("#question", "Enter")
            expect(page.locator("#stop")).to_be_visible()
            page.wait_for_function("() => (document.querySelector('#log .turn:last-child .text.streaming') || {}).textContent")
            page.keyboard.press("Escape")
            stopped = _wait_answers(page, 4)
            assert stopped.endswith("[stopped]"), stopped
            full = _answer(model, bodies[-1])  # what the answer would have been: the shown part is a strict start of it
            shown = stopped[: -len("[stopped]")].strip()
            assert shown and full.startswith(shown) and len(shown) < len(full), (shown, full)
            expect(page.locator("#stop")).to_be_hidden()
            page.fill("#max-tokens", str(MAX_TOKENS))

            # 6. a corrupt file: a clear message, nothing attached
            broken = {"name": "broken.wav", "mimeType": "audio/wav", "buffer": b"RIFF\x00\x00garbage-not-audio"}
            page.set_input_files("#file", files=[broken])
            expect(page.locator("#alert")).to_be_visible()
            expect(page.locator("#alert-text")).to_contain_text("Could not read “broken.wav”")
            expect(page.locator("#pending .clip")).to_have_count(0)
            page.click("#alert-close")
            expect(page.locator("#alert")).to_be_hidden()

            # 7. a clip over the server's 20 s limit: the server's 413 becomes a clear message, the turn is taken back
            page.set_input_files("#file", str(long_clip))
            expect(page.locator("#pending .clip")).to_have_count(1)
            page.fill("#question", "And this one?")
            page.click("#ask")
            expect(page.locator("#alert-text")).to_contain_text("Too large for this server")
            expect(page.locator("#alert-text")).to_contain_text("20 s")
            expect(page.locator("#alert")).to_be_in_viewport()  # stays in view down at the composer
            assert responses[-1][0] == 413
            expect(page.locator("#log .turn.assistant")).to_have_count(4)
            expect(page.locator("#pending .clip")).to_have_count(1)
            assert page.input_value("#question") == "And this one?"

            # 8. a file dropped on the page is attached like a picked one
            page.evaluate(
                """() => { const n = 8000, b = new DataView(new ArrayBuffer(44 + 2 * n));
                           const w = (o, s) => [...s].forEach((c, i) => b.setUint8(o + i, c.charCodeAt(0)));
                           w(0, 'RIFF'); b.setUint32(4, 36 + 2 * n, true); w(8, 'WAVEfmt '); b.setUint32(16, 16, true);
                           b.setUint16(20, 1, true); b.setUint16(22, 1, true); b.setUint32(24, 16000, true);
                           b.setUint32(28, 32000, true); b.setUint16(32, 2, true); b.setUint16(34, 16, true);
                           w(36, 'data'); b.setUint32(40, 2 * n, true);
                           for (let i = 0; i < n; i++) b.setInt16(44 + 2 * i, 8000 * Math.sin(i / 5), true);
                           const dt = new DataTransfer();
                           dt.items.add(new File([b.buffer], 'dropped.wav', {type: 'audio/wav'}));
                           for (const type of ['dragenter', 'dragover', 'drop'])
                             document.getElementById('drop').dispatchEvent(
                               new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true})); }"""
            )  # fmt: skip
            expect(page.locator("#pending .clip")).to_have_count(2)
            expect(page.locator("#pending .clip-name").nth(1)).to_contain_text("dropped.wav · 0.5 s")

            # 9. the (fake) microphone: MediaRecorder's webm/opus is decoded and kept as WAV
            page.click("#record")
            expect(page.locator("#record")).to_have_attribute("aria-pressed", "true")
            page.wait_for_timeout(1500)
            page.click("#record")
            expect(page.locator("#pending .clip")).to_have_count(3)
            rec_name = page.locator("#pending .clip-name").nth(2).inner_text()
            assert rec_name.startswith("recording") and float(rec_name.split("·")[1].split()[0]) >= 0.8, rec_name
            wav_head = page.evaluate(
                """() => fetch(document.querySelectorAll('#pending audio')[2].src).then(r => r.arrayBuffer())
                         .then(b => String.fromCharCode(...new Uint8Array(b.slice(0, 4))) + new DataView(b).getUint32(24, true))"""
            )  # fmt: skip
            assert wav_head == "RIFF16000"

            # the Remove buttons work from the keyboard
            for left in (2, 1, 0):
                page.locator("#pending button").first.focus()
                page.keyboard.press("Enter")
                expect(page.locator("#pending .clip")).to_have_count(left)

            # 10. keyboard: Tab reaches every control in reading order
            page.click("h1")
            order = []
            for _ in range(60):
                page.keyboard.press("Tab")
                order.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
            want = ["file", "record", "question", "ask", "voice", "cls-clip", "label-set", "labels", "cls-question", "classify"]
            pos = [order.index(w) for w in want]
            assert pos == sorted(pos), order
            page.screenshot(path=str(tmp_path / "web-errors.png"), full_page=True)

            # 11. a narrow phone screen: no sideways scrolling, controls still there
            page.set_viewport_size({"width": 360, "height": 780})
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            for sel in ("#ask", "#voice", "#record", "#classify", "#question"):
                box = page.locator(sel).bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360, (sel, box)
            page.screenshot(path=str(tmp_path / "web-360.png"), full_page=True)
            assert not page_errors, page_errors
        finally:
            browser.close()
    assert "Traceback" not in log.read_text()


def test_shipped_label_sets_match_the_task_catalogue():
    """qwenlike/web/label_sets.json is what make_label_sets.py writes today (rerun it after editing task YAMLs)."""
    import runpy

    mod = runpy.run_path(str(ROOT / "scripts" / "make_label_sets.py"))
    shipped = (ROOT / "qwenlike" / "web" / "label_sets.json").read_text(encoding="utf-8")
    assert shipped == mod["render"](mod["label_sets"]()), "stale: python scripts/make_label_sets.py"
    for entry in json.loads(shipped).values():
        assert len(entry["labels"]) >= 2 and len(set(entry["labels"])) == len(entry["labels"])
