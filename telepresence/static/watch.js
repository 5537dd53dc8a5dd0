// Watch a live lesson through the server's relay (hospital staff beside the pupil).
// Receive only: the relay forwards the robot's VP8 video and Opus audio.
(function () {
  "use strict";
  var root = document.getElementById("watch");
  if (!root) { return; }
  var session = root.dataset.session, csrf = root.dataset.csrf;
  var video = document.getElementById("classroom");
  var status = document.getElementById("status");
  var live = document.getElementById("live");
  var sound = document.getElementById("sound");
  var pc = null, leaving = false, retries = 0, frames = 0;

  function say(text) { status.textContent = text; status.hidden = !text; }

  function api(method, path, body) {
    return fetch(path, {
      method: method, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json", "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (resp) {
      if (resp.status === 204) { return {}; }
      return resp.json().then(function (data) {
        if (!resp.ok) { var e = new Error(data.detail || "The server refused"); e.status = resp.status; throw e; }
        return data;
      });
    });
  }

  function gathered(peer) {
    if (peer.iceGatheringState === "complete") { return Promise.resolve(); }
    return new Promise(function (done) {
      var timer = setTimeout(done, 2000);
      peer.addEventListener("icegatheringstatechange", function () {
        if (peer.iceGatheringState === "complete") { clearTimeout(timer); done(); }
      });
    });
  }

  async function connect() {
    var info = await api("GET", "/api/sessions/" + session + "/watch");
    pc = new RTCPeerConnection({ iceServers: info.ice_servers });
    window.classbridgeWatch = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.ontrack = function (event) {
      if (!video.srcObject) { video.srcObject = new MediaStream(); }
      video.srcObject.addTrack(event.track);
    };
    pc.onconnectionstatechange = function () {
      if (pc.connectionState === "connected") { retries = 0; }
      if (pc.connectionState === "failed" && !leaving) { again(); }
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    var answer = await api("POST", "/api/sessions/" + session + "/watch", { sdp: pc.localDescription.sdp });
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    say("Waiting for the classroom picture…");
  }

  function again() {
    if (leaving) { return; }
    if (pc) { pc.close(); pc = null; }
    retries += 1;
    live.hidden = true;
    say("Reconnecting to the classroom…");
    setTimeout(function () { start(); }, Math.min(500 * retries, 5000));
  }

  function start() {
    connect().catch(function (err) {
      if (err.status === 409 || err.status === 404) { say(err.message); live.hidden = true; return; }
      again();
    });
  }

  video.addEventListener("playing", function () { live.hidden = false; say(""); });
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
    var count = function () { frames += 1; root.dataset.frames = String(frames); video.requestVideoFrameCallback(count); };
    video.requestVideoFrameCallback(count);
  }
  sound.addEventListener("click", function () {
    video.muted = !video.muted;
    sound.setAttribute("aria-pressed", String(!video.muted));
    sound.textContent = video.muted ? "Turn sound on" : "Turn sound off";
  });
  document.getElementById("leave").addEventListener("click", function (event) {
    event.preventDefault();
    leaving = true;
    var href = this.getAttribute("href");
    api("DELETE", "/api/sessions/" + session + "/watch").catch(function () {}).then(function () {
      if (pc) { pc.close(); }
      window.location.href = href;
    });
  });
  window.addEventListener("pagehide", function () {
    if (leaving) { return; }
    leaving = true;
    fetch("/api/sessions/" + session + "/watch", {
      method: "DELETE", credentials: "same-origin", keepalive: true, headers: { "X-CSRF-Token": csrf } });
  });
  // The robot's room warning follows the rota (a move confirmed since the page opened).
  function checkRoom() {
    return api("GET", "/api/bookings/" + root.dataset.booking + "/robot-room").then(function (body) {
      document.getElementById("room-warning-text").textContent = body.warning || "";
      document.getElementById("room-warning").hidden = !body.warning;
    });
  }
  window.classbridgeCheckRoom = checkRoom;
  setInterval(function () { if (!leaving) { checkRoom().catch(function () {}); } }, 20000);
  start();
})();
