// The live lesson on the pupil's tablet: join, see and hear the class, drive the robot.
// Plain JavaScript, no build step. Rejoins by itself, calmly, when the network drops.
(function () {
  "use strict";
  var root = document.getElementById("lesson");
  if (!root) { return; }
  var video = document.getElementById("classroom");
  var statusEl = document.getElementById("status");
  var liveEl = document.getElementById("live");
  var qualityEl = document.getElementById("quality").querySelector("strong");
  var state = { token: null, ice: [], ws: null, pc: null, dc: null, mic: null, ended: false,
                listening: false, hand: false, volume: 70, ids: 0, pending: {}, retries: 0,
                frames: 0, offers: 0, gen: 0,
                // For the operators' metrics: since when this end has waited for the class's
                // picture, and whether it is the first join or a rejoin after a drop.
                waitingSince: performance.now(), waitingFor: "join_first_frame", pcBorn: 0,
                // The pupil's camera: allowed per join by the server (school setting and the
                // pupil's consent); off at every start; sent by replaceTrack on a video
                // transceiver that is sendrecv from the first offer, so no renegotiation.
                cameraAllowed: false, camera: null, videoSender: null };
  window.classbridgeLesson = state;  // for tests and for support staff looking at a tablet

  var cameraButton = document.getElementById("camera");
  var cameraHint = document.getElementById("camera-hint");
  function say(text) { statusEl.textContent = text; }
  function showLive(on) {
    liveEl.hidden = !on;
    document.getElementById("live-text").textContent = state.listening
      ? "Live, just listening: the class can't hear you" : "Live: the class can hear you";
    liveEl.classList.toggle("listening", state.listening);
  }

  async function ticket() {
    var resp = await fetch("/api/bookings/" + root.dataset.booking + "/join", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": root.dataset.csrf, "Accept": "application/json" } });
    var body = await resp.json();
    if (!resp.ok) { throw new Error(body.detail || "Could not join"); }
    state.token = body.token; state.ice = body.ice_servers; state.session = body.session_id;
    allowCamera(!!body.pupil_camera);
  }

  function allowCamera(allowed) {
    // A setting changed since the last join applies now: the toggle comes or goes.
    state.cameraAllowed = allowed;
    cameraButton.hidden = !allowed; cameraHint.hidden = !allowed;
    if (!allowed && state.camera) { cameraOff(); }
  }

  function showCamera(on) {
    cameraButton.setAttribute("aria-pressed", String(on));
    document.getElementById("camera-state").textContent = on ? "on" : "off";
    document.getElementById("camera-live").hidden = !on;
    document.getElementById("self").hidden = !on;
    document.getElementById("self-video").srcObject = on ? state.camera : null;
  }

  async function cameraOn() {
    try { state.camera = await navigator.mediaDevices.getUserMedia({ video: true, audio: false }); }
    catch (err) { say("Your camera could not start. The class can still hear you."); return; }
    if (!state.cameraAllowed || state.ended) { cameraOff(); return; }
    var track = state.camera.getVideoTracks()[0];
    // A connection being replaced may refuse; the next offer takes the camera along.
    if (state.videoSender) { await state.videoSender.replaceTrack(track).catch(function () {}); }
    showCamera(true);
    send({ type: "event", kind: "camera", detail: { on: true } });  // on the session's timeline
  }

  function cameraOff() {
    var sender = state.videoSender;
    if (sender) { sender.replaceTrack(null).catch(function () {}); }
    var was = !!state.camera;
    if (state.camera) { state.camera.getTracks().forEach(function (t) { t.stop(); }); }
    state.camera = null;
    showCamera(false);
    if (was) { send({ type: "event", kind: "camera", detail: { on: false } }); }
  }

  function waitForPicture() {
    if (state.waitingSince === null) { state.waitingSince = performance.now(); state.waitingFor = "rejoin"; }
  }

  function sawFrame() {
    // Only a frame of a connection made since the wait began ends it (not the dying one's).
    if (state.waitingSince === null || state.pcBorn < state.waitingSince) { return; }
    var seconds = (performance.now() - state.waitingSince) / 1000;
    var measure = state.waitingFor;
    state.waitingSince = null;
    state.timings = (state.timings || []).concat([{ measure: measure, seconds: seconds }]);
    fetch("/api/client-timings", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": root.dataset.csrf, "Content-Type": "application/json" },
      body: JSON.stringify({ measure: measure, seconds: Math.min(600, Math.max(0.001, seconds)) })
    }).catch(function () {});
  }

  function send(message) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) { state.ws.send(JSON.stringify(message)); }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws/session");
    state.ws = ws;
    ws.onopen = function () { send({ type: "join", token: state.token }); };
    ws.onmessage = function (e) { onMessage(JSON.parse(e.data)); };
    ws.onclose = function (e) {
      if (state.ws !== ws || state.ended) { return; }
      if (e.code === 4410) { finished("The lesson has ended."); return; }
      if (!state.pc || state.pc.connectionState !== "connected") { waitForPicture(); }
      say("Reconnecting… hold on, you'll be back in class in a moment.");
      // docs/protocol.md "Reconnecting": full jitter, at most 2 s apart while in a lesson.
      var delay = Math.random() * Math.min(2000, 250 * Math.pow(2, state.retries++));
      setTimeout(function () {
        (e.code === 4401 ? ticket() : Promise.resolve()).then(connect).catch(function (err) {
          finished(err.message);
        });
      }, delay);
    };
  }

  function onMessage(m) {
    if (m.type === "joined") {
      state.retries = 0; state.ice = m.ice_servers; allowCamera(!!m.pupil_camera);
      if (m.peer_present) { offer(); } else { waiting(); }
    }
    else if (m.type === "peer_joined") { offer(); }
    else if (m.type === "peer_left") { waitForPicture(); waiting(); }
    else if (m.type === "answer" && live(state.pc)) {
      // Only the answer to our offer in flight (docs/protocol.md: offer ids).
      if (!state.offerId || m.offer_id !== state.offerId) { return; }
      state.offerId = null;
      state.pc.setRemoteDescription({ type: "answer", sdp: m.sdp }).catch(function () { offer(); });
    }
    else if (m.type === "offer") {
      // The pupil is the impolite end: while our own offer is in flight, the robot's loses.
      if (!state.offerId) { answerOffer(m); }
    }
    else if (m.type === "error" && m.offer_id && m.offer_id === state.offerId) {
      state.offerId = null;  // peer_absent: offer again on peer_joined
      if (m.code === "peer_absent") { waiting(); }
    }
    else if (m.type === "candidate" && live(state.pc) && m.candidate) {
      // A candidate for a connection that was replaced meanwhile is simply dropped.
      state.pc.addIceCandidate({ candidate: m.candidate, sdpMid: m.sdpMid, sdpMLineIndex: m.sdpMLineIndex })
        .catch(function () {});
    }
    else if (m.type === "ended") { finished("The lesson has ended."); }
    else if (m.type === "watching") { showWatchers(m.watchers || []); }
  }

  async function microphone() {
    if (!state.mic) {
      try { state.mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false }); }
      catch (err) { say("Your microphone is off, so the class can't hear you. You can still watch and listen."); }
    }
    return state.mic;
  }

  function waiting() { say("Waiting for the robot in your classroom…"); }

  function newConnection() {
    if (state.pc) { state.pc.close(); }
    var pc = new RTCPeerConnection({ iceServers: state.ice });
    state.pc = pc; state.offers++; state.pcBorn = performance.now();
    pc.ondatachannel = function (e) { useChannel(e.channel); };  // the robot offered
    pc.ontrack = function (e) {
      if (e.track.kind === "video" && video.srcObject !== e.streams[0]) { video.srcObject = e.streams[0]; }
      else if (e.track.kind === "audio" && !video.srcObject) { video.srcObject = e.streams[0]; }
    };
    pc.onicecandidate = function (e) {
      if (e.candidate) { send({ type: "candidate", candidate: e.candidate.candidate,
                                sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex }); }
    };
    pc.onconnectionstatechange = function () {
      if (pc !== state.pc) { return; }
      if (pc.connectionState === "connected") {
        say(""); showLive(true);
        // The same connection came back by itself: its next frame ends the wait.
        if (state.waitingSince !== null) { state.pcBorn = Math.max(state.pcBorn, state.waitingSince); }
      }
      else if (pc.connectionState === "failed" || pc.connectionState === "disconnected") {
        showLive(false); waitForPicture();
        say("Reconnecting… hold on, you'll be back in class in a moment.");
        setTimeout(function () { if (pc === state.pc && pc.connectionState !== "connected") { offer(); } }, 1000);
      }
    };
    return pc;
  }

  function useChannel(channel) {
    state.dc = channel;
    channel.onmessage = function (e) {
      var ack = JSON.parse(e.data); var done = state.pending[ack.ack];
      if (done) { delete state.pending[ack.ack]; done(ack); }
    };
  }

  async function offer() {
    // A newer offer or answer (the robot came back, the network recovered) supersedes this
    // one: every await is followed by a check, so two never race on one connection.
    var gen = ++state.gen;
    var offerId = "p" + gen;
    state.offerId = offerId;
    var mic = await microphone();
    if (gen !== state.gen || state.ended) { return; }
    var pc = newConnection();
    // The robot's video comes back on this transceiver; the pupil's camera goes out on it
    // only when this join allows it (the server refuses an offer that sends video otherwise).
    var camTrack = state.camera ? state.camera.getVideoTracks()[0] : null;
    var videoTx = pc.addTransceiver(state.cameraAllowed && camTrack ? camTrack : "video",
                                    { direction: state.cameraAllowed ? "sendrecv" : "recvonly" });
    state.videoSender = state.cameraAllowed ? videoTx.sender : null;
    if (mic) { mic.getAudioTracks().forEach(function (t) { t.enabled = !state.listening; pc.addTrack(t, mic); }); }
    else { pc.addTransceiver("audio", { direction: "recvonly" }); }
    useChannel(pc.createDataChannel("controls"));
    var description = await pc.createOffer();
    if (gen !== state.gen) { return; }
    await pc.setLocalDescription(description);
    if (gen !== state.gen) { return; }
    send({ type: "offer", sdp: pc.localDescription.sdp, offer_id: offerId });
  }

  async function answerOffer(m) {
    // The robot offered (its call failed and ours did not re-offer first): answer it with
    // the microphone, and the camera only with this join's grant.
    var gen = ++state.gen;
    state.offerId = null;
    var mic = await microphone();
    if (gen !== state.gen || state.ended) { return; }
    var pc = newConnection();
    await pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
    if (gen !== state.gen) { return; }
    var camTrack = state.camera ? state.camera.getVideoTracks()[0] : null;
    state.videoSender = null;
    pc.getTransceivers().forEach(function (t) {
      if (t.receiver.track.kind === "audio") {
        var track = mic ? mic.getAudioTracks()[0] : null;
        if (track) { track.enabled = !state.listening; t.sender.replaceTrack(track); t.direction = "sendrecv"; }
        else { t.direction = "recvonly"; }
      } else {
        t.direction = state.cameraAllowed ? "sendrecv" : "recvonly";
        if (state.cameraAllowed) { state.videoSender = t.sender; if (camTrack) { t.sender.replaceTrack(camTrack); } }
      }
    });
    var answer = await pc.createAnswer();
    if (gen !== state.gen) { return; }
    await pc.setLocalDescription(answer);
    if (gen !== state.gen) { return; }
    send({ type: "answer", sdp: pc.localDescription.sdp, offer_id: m.offer_id });
  }

  function live(pc) { return pc && pc.signalingState !== "closed"; }

  function control(name, detail) {
    return new Promise(function (resolve) {
      if (!state.dc || state.dc.readyState !== "open") { resolve({ ok: false }); return; }
      var id = String(++state.ids);
      state.pending[id] = resolve;
      state.dc.send(JSON.stringify({ id: id, control: name, detail: detail || {} }));
      setTimeout(function () { if (state.pending[id]) { delete state.pending[id]; resolve({ ok: false }); } }, 4000);
    });
  }

  function finished(text) {
    state.ended = true; state.gen++; showLive(false); say(text);
    if (state.pc) { state.pc.close(); }
    if (state.mic) { state.mic.getTracks().forEach(function (t) { t.stop(); }); }
    if (state.camera) { cameraOff(); }
    cameraButton.hidden = true; cameraHint.hidden = true;
  }

  document.getElementById("hand").addEventListener("click", function () {
    var button = this; var up = !state.hand;
    control(up ? "raise_hand" : "lower_hand").then(function (ack) {
      if (ack.ok) { state.hand = up; button.setAttribute("aria-pressed", String(up));
                    button.firstChild.textContent = up ? "Lower hand" : "Raise hand"; }
    });
  });
  cameraButton.addEventListener("click", function () {
    if (state.camera) { cameraOff(); } else { cameraOn(); }
  });
  document.getElementById("listen").addEventListener("click", function () {
    var button = this; var on = !state.listening;
    control("listening_mode", { on: on }).then(function (ack) {
      if (!ack.ok) { return; }
      state.listening = on; button.setAttribute("aria-pressed", String(on));
      if (state.mic) { state.mic.getAudioTracks().forEach(function (t) { t.enabled = !on; }); }
      showLive(!!state.pc && state.pc.connectionState === "connected");
    });
  });
  document.querySelectorAll("[data-pan]").forEach(function (b) {
    b.addEventListener("click", function () {
      control("head", { pan: Number(b.dataset.pan), tilt: Number(b.dataset.tilt) });
    });
  });
  document.querySelectorAll("[data-volume]").forEach(function (b) {
    b.addEventListener("click", function () {
      var level = Math.max(0, Math.min(100, state.volume + Number(b.dataset.volume)));
      control("volume", { level: level }).then(function (ack) {
        if (ack.ok) { state.volume = level; document.getElementById("volume-level").textContent = level + "%"; }
      });
    });
  });
  // Leaving asks once, then ends only this end: the session stays open and the robot stays in
  // class, so the pupil can join the same lesson again while it runs (docs/protocol.md).
  var leaveLink = document.getElementById("leave");
  var leaveBox = document.getElementById("leave-confirm");
  function askToLeave(open) {
    leaveBox.hidden = !open; leaveLink.hidden = open;
    // Focus the safe choice: a stray Enter keeps the child in class.
    (open ? document.getElementById("leave-no") : leaveLink).focus();
  }
  function leave() {
    var ws = state.ws;
    state.ended = true; state.gen++; showLive(false);
    if (state.pc) { state.pc.close(); }
    if (state.mic) { state.mic.getTracks().forEach(function (t) { t.stop(); }); }
    if (state.camera) { cameraOff(); }
    if (!ws || ws.readyState !== WebSocket.OPEN) { return Promise.resolve(); }
    return new Promise(function (done) {
      ws.addEventListener("close", done);
      setTimeout(done, 1000);  // the server closes at once; never keep a child waiting
      ws.send(JSON.stringify({ type: "leave" }));
    });
  }
  leaveLink.addEventListener("click", function (e) {
    e.preventDefault();
    if (state.ended) { location.href = leaveLink.href; return; }  // the lesson is over: just go
    askToLeave(true);
  });
  document.getElementById("leave-no").addEventListener("click", function () { askToLeave(false); });
  document.getElementById("leave-yes").addEventListener("click", function () {
    this.disabled = true;
    leave().then(function () { location.href = leaveLink.href; });
  });

  // Nobody watches without the pupil knowing: hospital staff watching through the server.
  function showWatchers(names) {
    var badge = document.getElementById("watchers");
    if (!badge) { return; }
    state.watchers = names;
    if (!names.length) { badge.hidden = true; return; }
    document.getElementById("watchers-text").textContent =
      names.join(" and ") + (names.length > 1 ? " are" : " is") + " watching with you";
    badge.hidden = false;
  }

  async function sample() {
    if (!state.pc || state.pc.connectionState !== "connected") { return; }
    var stats = await state.pc.getStats(); var q = {};
    stats.forEach(function (s) {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        state.frames = s.framesDecoded || 0;
        if (s.framesPerSecond !== undefined) { q.fps = s.framesPerSecond; }
        if (s.jitter !== undefined) { q.jitter_ms = s.jitter * 1000; }
        var total = (s.packetsReceived || 0) + (s.packetsLost || 0);
        if (total > 0) { q.loss_pct = 100 * (s.packetsLost || 0) / total; }
      }
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined) {
        q.rtt_ms = s.currentRoundTripTime * 1000;
      }
    });
    var poor = (q.loss_pct || 0) > 5 || (q.rtt_ms || 0) > 400 || (q.fps !== undefined && q.fps < 10);
    var fair = (q.loss_pct || 0) > 1 || (q.rtt_ms || 0) > 150 || (q.fps !== undefined && q.fps < 20);
    qualityEl.textContent = poor ? "Poor" : fair ? "OK" : "Good";
    qualityEl.className = poor ? "poor" : fair ? "fair" : "good";
    send(Object.assign({ type: "quality" }, q));
  }
  setInterval(function () { sample().catch(function () {}); }, 5000);
  setInterval(function () {  // a quicker frame count for the page's own status
    if (state.pc) { state.pc.getStats().then(function (stats) { stats.forEach(function (s) {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        state.frames = s.framesDecoded || 0;
        if (state.frames > 0) { sawFrame(); }
      }
    }); }); }
  }, 500);

  // Whether the robot is probably in the lesson's room changes during a lesson (an assistant
  // confirms its move): the warning follows, asked every 20 s.
  async function checkRoom() {
    var resp = await fetch("/api/bookings/" + root.dataset.booking + "/robot-room",
                           { credentials: "same-origin", headers: { "Accept": "application/json" } });
    if (!resp.ok) { return; }
    var body = await resp.json();
    document.getElementById("room-warning-text").textContent = body.warning || "";
    document.getElementById("room-warning").hidden = !body.warning;
  }
  state.checkRoom = checkRoom;
  setInterval(function () { if (!state.ended) { checkRoom().catch(function () {}); } }, 20000);

  ticket().then(connect).catch(function (err) { finished(err.message); });
})();
