// qwenlike web page: talks only to the server's OpenAI-compatible API (v1/models, v1/chat/completions; paths are
// relative, so the page also works behind a proxy under a sub-path).
// Audio: every clip (file or microphone recording) is decoded by the browser, resampled to 16 kHz mono and
// sent as 16-bit PCM WAV (base64 input_audio), so MediaRecorder's webm/opus never reaches the server.
"use strict";

(() => {
  const SR = 16000; // the model's sample rate: clips are resampled here before sending
  const MAX_FILE_BYTES = 200 * 1024 * 1024; // what the page itself will load; the server has its own limits
  const KEY_NAME = "qwenlike.apiKey";
  const DEFAULT_QUESTION = "What is this sound? Answer with one label.";
  const BUILTIN_SETS = {
    "Examples: sound events": ["speech", "music", "dog bark", "car horn", "siren", "rain", "applause", "silence"],
    "Examples: music or speech": ["music", "speech", "both", "neither"],
    "Examples: yes / no": ["yes", "no"],
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    key: sessionStorage.getItem(KEY_NAME) || localStorage.getItem(KEY_NAME) || null,
    model: null,
    history: [], // {role: "user", clips: [clip], text} | {role: "assistant", text}
    pending: [], // clips attached to the next turn
    clips: new Map(), // id -> clip, every clip the page knows (for the classify panel)
    labelSets: {}, // option value -> labels
    chatAbort: null,
    clsBusy: false,
    recorder: null,
    seq: 0,
  };

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // ------------------------------------------------------------------------------------------
  // messages to the user
  // ------------------------------------------------------------------------------------------
  function showError(msg) {
    $("alert-text").textContent = msg;
    $("alert").hidden = false;
  }
  function clearError() {
    $("alert").hidden = true;
    $("alert-text").textContent = "";
  }
  function announce(msg) {
    $("status").textContent = msg;
  }

  function explain(err) {
    if (err instanceof ApiError) {
      const m = err.message;
      switch (err.status) {
        case 400:
          return /audio|decode|sound|format/i.test(m) ? `The server could not read the audio: ${m}` : `The server rejected the request: ${m}`;
        case 401:
          return `API key refused: ${m}`;
        case 413:
          return `Too large for this server: ${m}. Each turn sends the conversation's clips again; use shorter clips or start a new conversation.`;
        case 429:
          return `The server is busy: ${m}`;
        case 0:
          return m;
        default:
          return `Server error (${err.status}): ${m}`;
      }
    }
    if (err && err.name === "TypeError") return `Cannot reach the server (${err.message}). Is \`qwenlike serve\` still running?`;
    return String((err && err.message) || err);
  }

  // ------------------------------------------------------------------------------------------
  // API key: asked once (on the first 401), kept in sessionStorage (or localStorage if remembered)
  // ------------------------------------------------------------------------------------------
  let keyPrompt = null;
  function askKey(reason) {
    if (keyPrompt) return keyPrompt;
    const dlg = $("key-dialog");
    $("key-why").textContent = reason;
    $("key-input").value = "";
    keyPrompt = new Promise((resolve) => {
      const done = (key) => {
        dlg.removeEventListener("close", onClose);
        keyPrompt = null;
        resolve(key);
      };
      const onClose = () => {
        const key = dlg.returnValue === "ok" ? $("key-input").value.trim() : "";
        if (!key) return done(null);
        state.key = key;
        sessionStorage.setItem(KEY_NAME, key);
        if ($("key-remember").checked) localStorage.setItem(KEY_NAME, key);
        else localStorage.removeItem(KEY_NAME);
        $("key-button").hidden = false;
        done(key);
      };
      dlg.returnValue = "";
      dlg.addEventListener("close", onClose);
      dlg.showModal();
      $("key-input").focus();
    });
    return keyPrompt;
  }

  async function apiFetch(path, init = {}) {
    for (let attempt = 0; ; attempt++) {
      const headers = Object.assign({}, init.headers || {});
      if (state.key) headers.Authorization = `Bearer ${state.key}`;
      const res = await fetch(path, Object.assign({}, init, { headers }));
      if (res.status !== 401 || attempt >= 3) return res;
      const had = state.key;
      state.key = null;
      sessionStorage.removeItem(KEY_NAME);
      localStorage.removeItem(KEY_NAME);
      const key = await askKey(had ? "The server refused that key. Enter the right one." : "This server needs an API key.");
      if (!key) {
        $("key-button").hidden = false;
        throw new ApiError(0, "This server needs an API key: press “API key” at the top to enter it.");
      }
    }
  }

  async function errorFrom(res) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      const body = await res.text();
      try {
        const j = JSON.parse(body);
        msg = (j.error && j.error.message) || j.detail || msg;
      } catch (_) {
        if (body) msg = body.slice(0, 300);
      }
    } catch (_) {}
    return new ApiError(res.status, typeof msg === "string" ? msg : JSON.stringify(msg));
  }

  async function loadModel() {
    try {
      const res = await apiFetch("v1/models");
      if (!res.ok) throw await errorFrom(res);
      const data = (await res.json()).data || [];
      state.model = data.length ? data[0].id : "qwenlike";
      $("model-name").textContent = state.model;
      if (state.key) $("key-button").hidden = false;
    } catch (e) {
      $("model-name").textContent = "unavailable";
      showError(explain(e));
    }
  }

  // ------------------------------------------------------------------------------------------
  // audio: decode -> 16 kHz mono Float32 -> 16-bit WAV -> base64
  // ------------------------------------------------------------------------------------------
  function fmtSeconds(s) {
    const m = Math.floor(s / 60);
    const r = s - 60 * m;
    return m ? `${m}:${r.toFixed(1).padStart(4, "0")}` : `${r.toFixed(1)} s`;
  }

  function encodeWav(samples) {
    const buf = new ArrayBuffer(44 + samples.length * 2);
    const v = new DataView(buf);
    const str = (o, s) => [...s].forEach((c, i) => v.setUint8(o + i, c.charCodeAt(0)));
    str(0, "RIFF");
    v.setUint32(4, 36 + samples.length * 2, true);
    str(8, "WAVE");
    str(12, "fmt ");
    v.setUint32(16, 16, true); // fmt chunk size
    v.setUint16(20, 1, true); // PCM
    v.setUint16(22, 1, true); // mono
    v.setUint32(24, SR, true);
    v.setUint32(28, SR * 2, true); // byte rate
    v.setUint16(32, 2, true); // block align
    v.setUint16(34, 16, true); // bits per sample
    str(36, "data");
    v.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      // x * 32768, rounded and clipped: exact round trip for 16-bit sources (decoded as v / 32768)
      v.setInt16(44 + 2 * i, Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768))), true);
    }
    return new Blob([buf], { type: "audio/wav" });
  }

  function blobToBase64(blob) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(String(r.result).split(",", 2)[1] || "");
      r.onerror = () => reject(r.error);
      r.readAsDataURL(blob);
    });
  }

  async function makeClip(blob, name) {
    if (blob.size === 0) throw new ApiError(0, `“${name}” is empty.`);
    if (blob.size > MAX_FILE_BYTES) {
      throw new ApiError(0, `“${name}” is ${(blob.size / 1048576).toFixed(0)} MB; this page loads files up to ${MAX_FILE_BYTES / 1048576} MB.`);
    }
    const bytes = await blob.arrayBuffer();
    let decoded;
    try {
      // decodeAudioData resamples to the context's rate: 16 kHz here
      decoded = await new OfflineAudioContext(1, 1, SR).decodeAudioData(bytes);
    } catch (e) {
      throw new ApiError(0, `Could not read “${name}”: it is not audio this browser can decode (${e.name || "error"}). Try WAV, FLAC, OGG or MP3.`);
    }
    const n = decoded.length;
    if (!n) throw new ApiError(0, `“${name}” holds no audio samples.`);
    const samples = new Float32Array(n); // (n,) mono = mean of the channels
    for (let c = 0; c < decoded.numberOfChannels; c++) {
      const ch = decoded.getChannelData(c);
      for (let i = 0; i < n; i++) samples[i] += ch[i] / decoded.numberOfChannels;
    }
    const wav = encodeWav(samples);
    const clip = { id: `c${++state.seq}`, name, samples, seconds: n / SR, wav, url: URL.createObjectURL(wav), b64: await blobToBase64(wav) };
    state.clips.set(clip.id, clip);
    return clip;
  }

  function drawWave(canvas, samples) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== h) canvas.height = h;
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, w, h);
    g.fillStyle = getComputedStyle(canvas).color;
    const step = samples.length / w;
    for (let x = 0; x < w; x++) {
      let lo = 1, hi = -1;
      const a = Math.floor(x * step), b = Math.max(a + 1, Math.floor((x + 1) * step));
      for (let i = a; i < b && i < samples.length; i++) {
        const s = samples[i];
        if (s < lo) lo = s;
        if (s > hi) hi = s;
      }
      if (hi < lo) continue;
      const y0 = ((1 - hi) / 2) * h, y1 = ((1 - lo) / 2) * h;
      g.fillRect(x, y0, 1, Math.max(1, y1 - y0));
    }
  }
  const waveObserver = new ResizeObserver((entries) => {
    for (const e of entries) {
      const clip = state.clips.get(e.target.dataset.clip);
      if (clip) drawWave(e.target, clip.samples);
    }
  });

  function clipView(clip, removable) {
    const li = document.createElement("li");
    li.className = "clip";
    li.dataset.clip = clip.id;
    const head = document.createElement("div");
    head.className = "clip-head";
    const title = document.createElement("span");
    title.className = "clip-name";
    title.textContent = `${clip.name} · ${fmtSeconds(clip.seconds)}`;
    head.append(title);
    if (removable) {
      const rm = document.createElement("button");
      rm.type = "button";
      rm.className = "ghost small";
      rm.textContent = "Remove";
      rm.setAttribute("aria-label", `Remove ${clip.name}`);
      rm.addEventListener("click", () => removePending(clip.id));
      head.append(rm);
    }
    const canvas = document.createElement("canvas");
    canvas.className = "wave";
    canvas.dataset.clip = clip.id;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `Waveform of ${clip.name}, ${fmtSeconds(clip.seconds)}`);
    const player = document.createElement("audio");
    player.controls = true;
    player.preload = "metadata";
    player.src = clip.url;
    player.setAttribute("aria-label", `Play ${clip.name}`);
    li.append(head, canvas, player);
    requestAnimationFrame(() => {
      drawWave(canvas, clip.samples);
      waveObserver.observe(canvas);
    });
    return li;
  }

  function renderPending() {
    const ul = $("pending");
    ul.replaceChildren(...state.pending.map((c) => clipView(c, true)));
  }

  function addPending(clip) {
    state.pending.push(clip);
    renderPending();
    refreshClipChoices(clip.id);
    announce(`Added ${clip.name}, ${fmtSeconds(clip.seconds)}.`);
  }

  function removePending(id) {
    state.pending = state.pending.filter((c) => c.id !== id);
    if (!state.history.some((m) => m.clips && m.clips.some((c) => c.id === id))) {
      const c = state.clips.get(id);
      if (c) URL.revokeObjectURL(c.url);
      state.clips.delete(id);
    }
    renderPending();
    refreshClipChoices();
    $("file").focus();
  }

  async function addFiles(files) {
    clearError();
    for (const f of files) {
      try {
        addPending(await makeClip(f, f.name || "audio"));
      } catch (e) {
        showError(explain(e));
      }
    }
  }

  // microphone: MediaRecorder (webm/opus) -> decoded and re-encoded as WAV like any file
  async function toggleRecord() {
    const btn = $("record");
    if (state.recorder) {
      state.recorder.stop();
      return;
    }
    clearError();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.MediaRecorder) {
      showError("Recording needs a browser with microphone access on a secure page (https:// or http://localhost).");
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      showError(`Microphone unavailable: ${e.message || e.name}`);
      return;
    }
    const chunks = [];
    const rec = new MediaRecorder(stream);
    const started = Date.now();
    const tick = setInterval(() => {
      btn.textContent = `Stop recording (${fmtSeconds((Date.now() - started) / 1000)})`;
    }, 250);
    rec.ondataavailable = (e) => e.data.size && chunks.push(e.data);
    rec.onstop = async () => {
      clearInterval(tick);
      stream.getTracks().forEach((t) => t.stop());
      state.recorder = null;
      btn.textContent = "Record";
      btn.setAttribute("aria-pressed", "false");
      btn.classList.remove("recording");
      try {
        addPending(await makeClip(new Blob(chunks, { type: rec.mimeType }), `recording ${state.seq + 1}`));
      } catch (e) {
        showError(explain(e));
      }
    };
    state.recorder = rec;
    rec.start(250);
    btn.textContent = "Stop recording";
    btn.setAttribute("aria-pressed", "true");
    btn.classList.add("recording");
    announce("Recording. Press the button again to stop.");
  }

  // ------------------------------------------------------------------------------------------
  // conversation
  // ------------------------------------------------------------------------------------------
  function apiMessages(turns) {
    const out = [];
    const sys = $("system").value.trim();
    if (sys) out.push({ role: "system", content: sys });
    for (const t of turns) {
      if (t.role === "assistant") {
        out.push({ role: "assistant", content: t.text });
        continue;
      }
      const parts = t.clips.map((c) => ({ type: "input_audio", input_audio: { data: c.b64, format: "wav" } }));
      if (t.text) parts.push({ type: "text", text: t.text });
      out.push({ role: "user", content: parts });
    }
    return out;
  }

  function genOptions() {
    const n = parseInt($("max-tokens").value, 10);
    const t = parseFloat($("temperature").value);
    const seed = parseInt($("seed").value, 10);
    const opts = { max_tokens: Number.isFinite(n) && n > 0 ? n : 256, temperature: Number.isFinite(t) && t >= 0 ? t : 0 };
    if (Number.isFinite(seed)) opts.seed = seed; // with temperature > 0: the same seed gives the same answer
    return opts;
  }

  function turnView(role, clips, text) {
    $("log-empty").hidden = true;
    const li = document.createElement("li");
    li.className = `turn ${role}`;
    const who = document.createElement("h3");
    who.className = "who";
    who.textContent = role === "user" ? (text ? "You" : "You (voice turn)") : "Assistant";
    li.append(who);
    if (clips && clips.length) {
      const ul = document.createElement("ul");
      ul.className = "clips";
      ul.append(...clips.map((c) => clipView(c, false)));
      li.append(ul);
    }
    const p = document.createElement("p");
    p.className = "text";
    p.textContent = text || "";
    li.append(p);
    $("log").append(li);
    li.scrollIntoView({ block: "end", behavior: "smooth" });
    return li;
  }

  // POST /v1/chat/completions with stream: true; calls onText(fullTextSoFar) per delta
  async function streamChat(body, signal, onText) {
    const res = await apiFetch("v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(Object.assign({ model: state.model || "qwenlike", stream: true }, body)),
      signal,
    });
    if (!res.ok) throw await errorFrom(res);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "", text = "", finish = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const payload = line.slice(5).trim();
          if (payload === "[DONE]") return { text, finish };
          const chunk = JSON.parse(payload);
          if (chunk.error) throw new ApiError(chunk.error.code || 500, chunk.error.message || "stream failed");
          const ch = (chunk.choices || [])[0];
          if (!ch) continue;
          if (ch.delta && ch.delta.content) {
            text += ch.delta.content;
            onText(text);
          }
          if (ch.finish_reason) finish = ch.finish_reason;
        }
      }
    }
    throw new ApiError(500, "the answer stream ended early");
  }

  async function sendTurn(mode) {
    if (state.chatAbort) {
      showError("An answer is still coming: wait for it or press Stop.");
      return;
    }
    const q = $("question");
    const text = mode === "ask" ? q.value.trim() : "";
    const clips = state.pending.slice();
    if (mode === "voice" && !clips.length) {
      showError("Add or record a clip first: a voice turn is the audio alone.");
      $("file").focus();
      return;
    }
    if (mode === "ask" && !clips.length && !text) {
      showError("Type a question, or add a clip first.");
      q.focus();
      return;
    }
    clearError();
    const turn = { role: "user", clips, text };
    const userLi = turnView("user", clips, text);
    const botLi = turnView("assistant", null, "");
    const out = botLi.querySelector(".text");
    botLi.setAttribute("aria-busy", "true");
    out.classList.add("streaming");
    state.pending = [];
    renderPending();
    if (mode === "ask") q.value = "";
    const ctl = new AbortController();
    state.chatAbort = ctl;
    setChatBusy(true);
    announce("Answering…");
    let got = "";
    try {
      const r = await streamChat(Object.assign({ messages: apiMessages(state.history.concat([turn])) }, genOptions()), ctl.signal, (t) => {
        got = t;
        out.textContent = t;
      });
      out.textContent = r.text.trim() ? r.text : "(empty answer)";
      state.history.push(turn, { role: "assistant", text: r.text });
      announce(`Answer complete${r.finish === "length" ? " (stopped at the token limit)" : ""}: ${r.text}`);
    } catch (e) {
      if (ctl.signal.aborted) {
        out.textContent = got ? `${got} [stopped]` : "[stopped]";
        state.history.push(turn, { role: "assistant", text: got });
        announce("Stopped.");
      } else {
        // the turn did not happen: take it back and give the user their clips and question again
        userLi.remove();
        botLi.remove();
        state.pending = clips.concat(state.pending);
        renderPending();
        if (mode === "ask" && !q.value) q.value = text;
        $("log-empty").hidden = $("log").querySelectorAll(".turn").length > 0;
        showError(explain(e));
      }
    } finally {
      botLi.removeAttribute("aria-busy");
      out.classList.remove("streaming");
      state.chatAbort = null;
      const hadFocus = document.activeElement === $("stop");
      setChatBusy(false);
      if (hadFocus) q.focus(); // Stop disappears: keep keyboard users in the composer
    }
  }

  function setChatBusy(busy) {
    $("stop").hidden = !busy;
    for (const id of ["ask", "voice"]) $(id).setAttribute("aria-disabled", String(busy));
    $("composer").setAttribute("aria-busy", String(busy));
  }

  function newConversation() {
    if (state.chatAbort) state.chatAbort.abort();
    state.history = [];
    for (const li of [...$("log").querySelectorAll(".turn")]) li.remove();
    $("log-empty").hidden = false;
    for (const [id, c] of state.clips) {
      if (!state.pending.includes(c)) {
        URL.revokeObjectURL(c.url);
        state.clips.delete(id);
      }
    }
    refreshClipChoices();
    clearError();
    announce("New conversation.");
    $("question").focus();
  }

  // ------------------------------------------------------------------------------------------
  // classify: labels -> label_probabilities on the same endpoint
  // ------------------------------------------------------------------------------------------
  function refreshClipChoices(select) {
    const sel = $("cls-clip");
    const keep = select || sel.value;
    const clips = [...state.clips.values()];
    if (!clips.length) {
      sel.replaceChildren(new Option("(add a clip first)", ""));
      return;
    }
    sel.replaceChildren(...clips.map((c) => new Option(`${c.name} (${fmtSeconds(c.seconds)})`, c.id)));
    sel.value = state.clips.has(keep) ? keep : clips[clips.length - 1].id;
  }

  function parseLabels(raw) {
    const lines = raw.split("\n").map((s) => s.trim()).filter(Boolean);
    const items = lines.length > 1 ? lines : raw.split(",").map((s) => s.trim()).filter(Boolean);
    return [...new Set(items)];
  }

  async function loadLabelSets() {
    const sel = $("label-set");
    // a set is a list of labels, or {labels, prompt} as make_label_sets.py writes for a task
    const addGroup = (title, sets) => {
      const g = document.createElement("optgroup");
      g.label = title;
      for (const [name, entry] of Object.entries(sets || {})) {
        const labels = Array.isArray(entry) ? entry : entry && entry.labels;
        if (!Array.isArray(labels) || labels.length < 2) continue;
        const value = `${title}/${name}`;
        state.labelSets[value] = { labels: labels.map(String), prompt: (entry && entry.prompt) || "" };
        g.append(new Option(`${name} (${labels.length})`, value));
      }
      if (g.children.length) sel.append(g);
    };
    try {
      // generated from the task catalogue (python scripts/make_label_sets.py); absent is fine
      const res = await fetch("static/label_sets.json");
      if (res.ok) addGroup("Task label sets", await res.json());
    } catch (_) {}
    addGroup("Examples", BUILTIN_SETS);
  }

  function renderBars(probs) {
    const entries = Object.entries(probs).sort((a, b) => b[1] - a[1]);
    const ul = $("bars");
    ul.replaceChildren(
      ...entries.map(([label, p], i) => {
        const li = document.createElement("li");
        li.className = i === 0 ? "bar best" : "bar";
        li.dataset.label = label;
        li.dataset.prob = String(p);
        const name = document.createElement("span");
        name.className = "bar-label";
        name.textContent = label;
        const pct = document.createElement("span");
        pct.className = "bar-value";
        pct.textContent = `${(100 * p).toFixed(1)} %`;
        const track = document.createElement("span");
        track.className = "bar-track";
        track.setAttribute("aria-hidden", "true");
        const fill = document.createElement("span");
        fill.className = "bar-fill";
        fill.style.width = `${(100 * p).toFixed(2)}%`;
        track.append(fill);
        li.append(name, pct, track);
        return li;
      })
    );
  }

  async function classify() {
    if (state.clsBusy) return;
    const clip = state.clips.get($("cls-clip").value);
    if (!clip) {
      showError("Add a clip first: classify scores one clip against the labels.");
      $("file").focus();
      return;
    }
    const labels = parseLabels($("labels").value);
    if (labels.length < 2) {
      showError("Give at least two distinct labels (comma-separated or one per line), or pick a label set.");
      $("labels").focus();
      return;
    }
    if (labels.length > 256) {
      showError(`At most 256 labels; you gave ${labels.length}.`);
      return;
    }
    clearError();
    state.clsBusy = true;
    $("classify").setAttribute("aria-disabled", "true");
    $("bars").setAttribute("aria-busy", "true");
    announce("Classifying…");
    const question = $("cls-question").value.trim() || DEFAULT_QUESTION;
    try {
      const res = await apiFetch("v1/chat/completions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          model: state.model || "qwenlike",
          max_tokens: 1,
          temperature: 0,
          labels,
          messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: clip.b64, format: "wav" } }, { type: "text", text: question }] }],
        }),
      });
      if (!res.ok) throw await errorFrom(res);
      const body = await res.json();
      const probs = body.choices && body.choices[0] && body.choices[0].label_probabilities;
      if (!probs) throw new ApiError(500, "the server returned no label_probabilities");
      renderBars(probs);
      const top = Object.entries(probs).sort((a, b) => b[1] - a[1])[0];
      announce(`Most likely: ${top[0]}, ${(100 * top[1]).toFixed(1)} percent.`);
    } catch (e) {
      showError(explain(e));
    } finally {
      state.clsBusy = false;
      $("classify").setAttribute("aria-disabled", "false");
      $("bars").removeAttribute("aria-busy");
    }
  }

  // ------------------------------------------------------------------------------------------
  // wiring
  // ------------------------------------------------------------------------------------------
  function init() {
    $("file").addEventListener("change", (e) => {
      const files = [...e.target.files];
      e.target.value = ""; // the same file can be picked again
      addFiles(files);
    });
    const drop = $("drop");
    let depth = 0;
    const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
    window.addEventListener("dragenter", (e) => {
      if (hasFiles(e)) {
        depth++;
        drop.classList.add("over");
      }
    });
    window.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) drop.classList.remove("over");
    });
    window.addEventListener("dragover", (e) => hasFiles(e) && e.preventDefault());
    window.addEventListener("drop", (e) => {
      if (!hasFiles(e)) return; // dragged text still drops into the text boxes
      e.preventDefault(); // a file dropped anywhere on the page is attached, never opened by the browser
      depth = 0;
      drop.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length) addFiles([...e.dataTransfer.files]);
    });
    $("record").addEventListener("click", toggleRecord);
    $("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      sendTurn("ask");
    });
    $("question").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        sendTurn("ask");
      }
    });
    $("voice").addEventListener("click", () => sendTurn("voice"));
    $("stop").addEventListener("click", () => state.chatAbort && state.chatAbort.abort());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && state.chatAbort && !$("key-dialog").open) state.chatAbort.abort();
    });
    $("new-chat").addEventListener("click", newConversation);
    $("alert-close").addEventListener("click", clearError);
    $("cls-form").addEventListener("submit", (e) => {
      e.preventDefault();
      classify();
    });
    $("label-set").addEventListener("change", (e) => {
      const set = state.labelSets[e.target.value];
      if (!set) return;
      $("labels").value = set.labels.join("\n");
      $("cls-question").value = set.prompt || DEFAULT_QUESTION;
    });
    $("labels").addEventListener("input", () => {
      $("label-set").value = "";
    });
    $("key-cancel").addEventListener("click", () => $("key-dialog").close(""));
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      $("key-dialog").close("ok");
    });
    $("key-button").addEventListener("click", async () => {
      const key = await askKey("Enter a new API key (leave empty and cancel to keep the current one).");
      if (key) loadModel();
    });
    loadLabelSets();
    loadModel();
  }

  init();
})();
