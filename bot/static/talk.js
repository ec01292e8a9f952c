// talk.html: call the bot from a browser over our plain WebSocket format
// (connectors/pbx/browser.py). No dependencies.
//
// To the server: {"type": "start", "rate", "caller", "called"}, then binary frames of 16-bit
// little-endian mono PCM at `rate` (20 ms each), {"type": "dtmf", "digit"} and {"type": "stop"}.
// From the server: binary PCM at the same rate (played through a small queue),
// {"type": "clear"} (stop playback at once), {"type": "transfer", "target"},
// {"type": "hangup"}, {"type": "caller_name", "name"}.
//
// Query parameters: ?suffix=/<secret> (appended to the WebSocket path /ws/browser),
// ?rate=8000 (the PCM rate, 16000 by default), ?autostart=1 (call as soon as the page loads,
// without a click: for kiosks and tests/e2e/test_e2e_talk_page.py; a browser may still ask
// for the microphone, and may keep audio muted until a user gesture unless told otherwise).
//
// window.talkStats counts, for tests and debugging: framesSent (microphone PCM frames sent),
// framesReceived (bot PCM frames received) and secondsPlayed (bot audio played to the end).
(() => {
  "use strict";

  const params = new URLSearchParams(location.search);
  const WANTED_RATE = parseInt(params.get("rate") || "16000", 10);
  const WS_PATH = "/ws/browser" + (params.get("suffix") || "");
  const JITTER_S = 0.06; // playback lead when the queue (re)starts

  const $ = (id) => document.getElementById(id);
  let ws = null;
  let ctx = null;
  let micStream = null;
  let nodes = [];
  let rate = WANTED_RATE;
  let playing = [];
  let playAt = 0;
  const stats = { framesSent: 0, framesReceived: 0, secondsPlayed: 0 };
  window.talkStats = stats;

  function log(text) {
    const line = document.createElement("div");
    line.textContent = new Date().toLocaleTimeString() + "  " + text;
    $("log").appendChild(line);
    $("log").scrollTop = $("log").scrollHeight;
  }

  function setStatus(text, active) {
    $("status").textContent = text;
    $("call").textContent = active ? "Положить трубку" : "Позвонить";
    $("call").classList.toggle("active", active);
  }

  // Averages `inRate / outRate` input samples per output sample (a box low-pass, enough
  // for speech) and emits ArrayBuffers of `frame` 16-bit little-endian samples. Used inside
  // the AudioWorklet (its source is copied there) and by the ScriptProcessor fallback.
  function makeDownsampler(inRate, outRate, frame, emit) {
    const step = inRate / outRate;
    let pos = 0;
    let acc = 0;
    let count = 0;
    let out = new DataView(new ArrayBuffer(frame * 2));
    let fill = 0;
    return function push(samples) {
      for (let i = 0; i < samples.length; i++) {
        acc += samples[i];
        count += 1;
        pos += 1;
        if (pos < step) continue;
        pos -= step;
        const v = Math.max(-1, Math.min(1, acc / count));
        acc = 0;
        count = 0;
        out.setInt16(fill * 2, v < 0 ? v * 0x8000 : v * 0x7fff, true);
        fill += 1;
        if (fill === frame) {
          emit(out.buffer);
          out = new DataView(new ArrayBuffer(frame * 2));
          fill = 0;
        }
      }
    };
  }

  const WORKLET_SOURCE = makeDownsampler.toString() + `
    class CaptureDownsampler extends AudioWorkletProcessor {
      constructor(options) {
        super();
        const p = options.processorOptions;
        this.push = makeDownsampler(sampleRate, p.outRate, p.frame,
          (buffer) => this.port.postMessage(buffer, [buffer]));
      }
      process(inputs) {
        const channel = inputs[0] && inputs[0][0];
        if (channel) this.push(channel);
        return true;
      }
    }
    registerProcessor("capture-downsampler", CaptureDownsampler);
  `;

  function send(data) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(data);
  }

  function sendPcm(buffer) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(buffer);
      stats.framesSent += 1;
    }
  }

  async function startCapture() {
    const frame = Math.round(rate / 50); // 20 ms
    const source = ctx.createMediaStreamSource(micStream);
    let capture;
    if (ctx.audioWorklet && window.AudioWorkletNode) {
      const url = URL.createObjectURL(new Blob([WORKLET_SOURCE], { type: "text/javascript" }));
      await ctx.audioWorklet.addModule(url);
      URL.revokeObjectURL(url);
      capture = new AudioWorkletNode(ctx, "capture-downsampler", {
        processorOptions: { outRate: rate, frame },
      });
      capture.port.onmessage = (event) => sendPcm(event.data);
    } else {
      capture = ctx.createScriptProcessor(2048, 1, 1);
      const push = makeDownsampler(ctx.sampleRate, rate, frame, sendPcm);
      capture.onaudioprocess = (event) => push(event.inputBuffer.getChannelData(0));
    }
    // The capture node only runs when it leads to the speakers: go there through silence.
    const mute = ctx.createGain();
    mute.gain.value = 0;
    source.connect(capture);
    capture.connect(mute);
    mute.connect(ctx.destination);
    nodes = [source, capture, mute];
  }

  function playPcm(buffer) {
    const view = new DataView(buffer);
    const count = Math.floor(buffer.byteLength / 2);
    if (!count || !ctx) return;
    const audio = ctx.createBuffer(1, count, rate);
    const channel = audio.getChannelData(0);
    for (let i = 0; i < count; i++) channel[i] = view.getInt16(i * 2, true) / 32768;
    const node = ctx.createBufferSource();
    node.buffer = audio;
    node.connect(ctx.destination);
    const now = ctx.currentTime;
    if (playAt < now + 0.01) playAt = now + JITTER_S;
    node.start(playAt);
    playAt += audio.duration;
    playing.push(node);
    node.onended = () => {
      playing = playing.filter((n) => n !== node);
      stats.secondsPlayed += audio.duration;
    };
  }

  function stopPlayback() {
    for (const node of playing) {
      node.onended = null; // cut short: not counted as played
      try {
        node.stop();
      } catch (_) {
        // already stopped
      }
    }
    playing = [];
    playAt = 0;
  }

  function onControl(message) {
    switch (message.type) {
      case "clear":
        stopPlayback();
        log("бот замолчал: clear (вы перебили)");
        break;
      case "transfer":
        log("перевод звонка: " + message.target);
        break;
      case "hangup":
        log("бот положил трубку");
        break;
      case "caller_name":
        log("имя для оператора: " + message.name);
        break;
      default:
        log("непонятное сообщение: " + JSON.stringify(message));
    }
  }

  function teardown() {
    for (const node of nodes) {
      try {
        node.disconnect();
      } catch (_) {
        // not connected
      }
    }
    nodes = [];
    if (micStream) micStream.getTracks().forEach((track) => track.stop());
    micStream = null;
    const oldCtx = ctx;
    ctx = null;
    if (oldCtx) {
      // let the last words (already queued) play out, then release the device
      const left = Math.max(0, playAt - oldCtx.currentTime);
      setTimeout(() => oldCtx.close(), left * 1000 + 100);
    }
    playing = [];
    playAt = 0;
    ws = null;
    setStatus("не подключено", false);
  }

  async function startCall() {
    setStatus("подключаюсь…", true);
    try {
      micStream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
      });
      ctx = new AudioContext();
      await ctx.resume();
    } catch (error) {
      log("нет доступа к микрофону: " + error);
      teardown();
      return;
    }
    rate = Math.min(WANTED_RATE, ctx.sampleRate);
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const url = scheme + location.host + WS_PATH;
    ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = async () => {
      ws.send(JSON.stringify({
        type: "start",
        rate,
        caller: $("caller").value.trim(),
        called: $("called").value.trim(),
      }));
      log("соединено: " + url + ", " + rate + " Гц");
      setStatus("разговор", true);
      try {
        await startCapture();
      } catch (error) {
        log("микрофон не запустился: " + error);
        hangUp();
      }
    };
    ws.onmessage = (event) => {
      if (typeof event.data === "string") {
        try {
          onControl(JSON.parse(event.data));
        } catch (error) {
          log("не JSON: " + event.data);
        }
      } else {
        stats.framesReceived += 1;
        playPcm(event.data);
      }
    };
    ws.onerror = () => log("ошибка WebSocket");
    ws.onclose = (event) => {
      log("соединение закрыто: " + event.code + (event.reason ? " " + event.reason : ""));
      teardown();
    };
  }

  function hangUp() {
    if (!ws) return;
    send(JSON.stringify({ type: "stop" }));
    ws.close(1000, "caller hung up");
  }

  function pressKey(digit) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    send(JSON.stringify({ type: "dtmf", digit }));
    log("набрано: " + digit);
  }

  $("call").addEventListener("click", () => (ws ? hangUp() : startCall()));
  for (const button of $("keypad").querySelectorAll("button")) {
    button.addEventListener("click", () => pressKey(button.textContent.trim()));
  }
  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement) return;
    if (/^[0-9*#]$/.test(event.key)) pressKey(event.key);
  });
  if (params.get("autostart") === "1") startCall();
})();
