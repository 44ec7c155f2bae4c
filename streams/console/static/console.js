/* wardwatch alert console: live open alerts over SSE, charts in inline SVG, acks by POST.
 * No framework, no CDN. Every text from the wire goes through textContent (never innerHTML). */
(function () {
  "use strict";

  var RANK = { high: 2, medium: 1, low: 0 };
  var VITALS = ["heart_rate", "spo2", "resp_rate", "systolic_bp", "temperature"];
  var LABEL = { heart_rate: "Pulse", spo2: "SpO2", resp_rate: "Resp", systolic_bp: "Sys BP", temperature: "Temp" };
  var UNIT = { heart_rate: "/min", spo2: "%", resp_rate: "/min", systolic_bp: "mmHg", temperature: "°C" };
  var NEWS2_LABEL = { resp_rate: "Resp", spo2: "SpO2", on_oxygen: "O2", systolic_bp: "Sys BP",
                      heart_rate: "Pulse", consciousness: "ACVPU", temperature: "Temp" };
  var KIND = { news2: "NEWS2", anomaly: "Off own baseline", threshold: "Limit crossed",
               signal_loss: "Signal lost", technical: "Technical" };
  var WINDOW_MS = 60 * 60 * 1000;
  var SVG = "http://www.w3.org/2000/svg";

  var state = {
    open: new Map(), recent: [], charts: new Map(), chartSeq: new Map(), notes: new Map(),
    skew: 0, loaded: false, es: null, sound: false, audio: null, flashes: 0, beeps: 0, me: null
  };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function fmt(vital, v) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    var digits = vital === "temperature" ? 1 : 0;
    return Number(v).toFixed(digits) + (UNIT[vital] ? " " + UNIT[vital] : "");
  }
  function ago(iso) {
    var t = Date.parse(iso);
    if (isNaN(t)) return "";
    var s = Math.max(0, Math.round((Date.now() + state.skew - t) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function sortKey(a, b) {
    return (RANK[b.priority] || 0) - (RANK[a.priority] || 0) ||
      (a.acknowledged ? 1 : 0) - (b.acknowledged ? 1 : 0) ||
      String(a.first_seen || "").localeCompare(String(b.first_seen || ""));
  }
  function toast(text) {
    var t = $("toast");
    t.textContent = text;
    t.classList.add("on");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { t.classList.remove("on"); }, 3500);
  }

  // ---- attention cues: a full-screen flash and (once staff allowed it) a WebAudio beep ----
  function cue(card) {
    state.flashes += 1;
    document.body.dataset.flashes = String(state.flashes);
    var f = $("flash");
    f.classList.remove("on");
    void f.offsetWidth; // restart the animation
    f.classList.add("on");
    beep();
    if (navigator.vibrate) { try { navigator.vibrate([200, 100, 200]); } catch (e) { /* not allowed */ } }
    toast("New HIGH priority alert: " + card.patient_id);
  }
  function audioContext() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!state.audio) state.audio = new Ctx();
    return state.audio;
  }
  function beep() {
    if (!state.sound) return;
    var ctx = audioContext();
    if (!ctx) return;
    if (ctx.state === "suspended") ctx.resume();
    var t0 = ctx.currentTime;
    [0, 0.25, 0.5].forEach(function (dt) {
      var osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, t0 + dt);
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + dt + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + dt + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + dt);
      osc.stop(t0 + dt + 0.2);
    });
    state.beeps += 1;
    document.body.dataset.beeps = String(state.beeps);
  }
  function setSound(on) {
    state.sound = on;
    var b = $("sound");
    b.setAttribute("aria-pressed", on ? "true" : "false");
    b.textContent = on ? "Sound on" : "Sound off";
    try { localStorage.setItem("wardwatch.sound", on ? "1" : "0"); } catch (e) { /* private mode */ }
    if (on) { var ctx = audioContext(); if (ctx && ctx.state === "suspended") ctx.resume(); }
  }

  // ---- the chart: one sparkline per vital, last hour of event time, baseline band ----
  function chart(card) {
    var data = state.charts.get(card.patient_id) || {};
    var bands = card.bands || {};
    var vitals = VITALS.filter(function (v) { return data[v] && data[v].length; });
    if (!vitals.length) return el("p", "chart-empty", "No recent vitals received for this patient.");
    var tmax = 0;
    vitals.forEach(function (v) { tmax = Math.max(tmax, data[v][data[v].length - 1][0]); });
    var tmin = tmax - WINDOW_MS;
    var box = el("div", "chart");
    box.setAttribute("role", "img");
    box.setAttribute("aria-label", "Vitals of " + card.patient_id + " over the last hour");
    var onset = Date.parse(card.first_ts || "");
    vitals.forEach(function (v) {
      var pts = data[v].filter(function (p) { return p[0] >= tmin; });
      var band = bands[v] || {};
      var lo = Infinity, hi = -Infinity;
      pts.forEach(function (p) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); });
      ["low", "high", "baseline", "limit"].forEach(function (k) {
        if (typeof band[k] === "number") { lo = Math.min(lo, band[k]); hi = Math.max(hi, band[k]); }
      });
      var pad = Math.max((hi - lo) * 0.1, v === "temperature" ? 0.2 : 1);
      lo -= pad; hi += pad;
      var W = 300, H = 40;
      var x = function (t) { return ((t - tmin) / WINDOW_MS * W).toFixed(1); };
      var y = function (val) { return (H - (val - lo) / (hi - lo) * H).toFixed(1); };
      var s = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", "aria-hidden": "true" });
      if (typeof band.low === "number" && typeof band.high === "number") {
        s.appendChild(svg("rect", { "class": "band", x: 0, width: W, y: y(band.high),
                                    height: Math.max(0.5, y(band.low) - y(band.high)) }));
      }
      if (typeof band.baseline === "number") {
        s.appendChild(svg("line", { "class": "base", x1: 0, x2: W, y1: y(band.baseline), y2: y(band.baseline),
                                    "vector-effect": "non-scaling-stroke" }));
      }
      if (typeof band.limit === "number") {
        s.appendChild(svg("line", { "class": "limit", x1: 0, x2: W, y1: y(band.limit), y2: y(band.limit),
                                    "vector-effect": "non-scaling-stroke" }));
      }
      if (!isNaN(onset) && onset >= tmin && onset <= tmax) {
        s.appendChild(svg("line", { "class": "onset", x1: x(onset), x2: x(onset), y1: 0, y2: H,
                                    "vector-effect": "non-scaling-stroke" }));
      }
      s.appendChild(svg("polyline", { "class": "line", "vector-effect": "non-scaling-stroke",
        points: pts.map(function (p) { return x(p[0]) + "," + y(p[1]); }).join(" ") }));
      var title = LABEL[v];
      if (typeof band.baseline === "number") title += " (own baseline " + fmt(v, band.baseline) + ")";
      var lbl = el("span", "lbl", LABEL[v]);
      lbl.title = title;
      box.appendChild(lbl);
      box.appendChild(s);
      box.appendChild(el("span", "val", fmt(v, pts.length ? pts[pts.length - 1][1] : null)));
    });
    var wrap = el("div");
    wrap.appendChild(box);
    wrap.appendChild(el("div", "legend", "Last hour · green band: own normal range · red dots: limit"));
    return wrap;
  }

  // ---- one alert card ----
  function renderCard(card) {
    var node = el("article", "card p-" + card.priority + (card.acknowledged ? " acked" : " unacked"));
    node.dataset.alertId = card.alert_id;
    node.dataset.patientId = card.patient_id;
    node.dataset.status = card.status;
    var head = el("div", "card-head");
    head.appendChild(el("span", "badge p-" + card.priority, card.priority));
    head.appendChild(el("span", "patient", card.patient_id));
    if (card.location) head.appendChild(el("span", "location", card.location));
    head.appendChild(el("span", "kind", KIND[card.kind] || card.kind));
    head.appendChild(el("span", "age", "raised " + ago(card.first_seen)));
    var st = card.acknowledged ? "acknowledged" + (card.acknowledged_by ? " by " + card.acknowledged_by : "")
                               : card.status;
    head.appendChild(el("span", "state" + (card.acknowledged ? " acked" : ""), st));
    node.appendChild(head);

    var n = card.news2;
    if (n && n.total !== undefined && n.total !== null) {
      var row = el("div", "news2");
      row.appendChild(el("span", "total", "NEWS2 " + n.total));
      if (n.band) row.appendChild(el("span", "kind", "(" + n.band + ")"));
      var comps = n.components || {};
      Object.keys(comps).sort(function (a, b) { return comps[b] - comps[a]; }).forEach(function (k) {
        if (!comps[k]) return;
        row.appendChild(el("span", "chip s" + Math.min(3, comps[k]), (NEWS2_LABEL[k] || k) + " " + comps[k]));
      });
      node.appendChild(row);
    }
    var reasons = (card.reasons || []).filter(function (r) { return r.text && r.vital !== "news2"; });
    if (reasons.length) {
      var at = String(card.ts || "").slice(11, 16);
      node.appendChild(el("div", "why", "Why" + (at ? " (as of " + at + " UTC)" : "") + ":"));
      var ul = el("ul", "reasons");
      reasons.slice(0, 5).forEach(function (r) { ul.appendChild(el("li", null, r.text)); });
      node.appendChild(ul);
    }
    var slot = el("div", "chart-slot");
    slot.appendChild(chart(card));
    node.appendChild(slot);

    var actions = el("div", "actions");
    var ack = el("button", "btn btn-ack", card.acknowledged ? "Acknowledged" : "Acknowledge");
    ack.type = "button";
    ack.dataset.action = "acknowledge";
    ack.disabled = !!card.acknowledged;
    var res = el("button", "btn btn-resolve", "Resolve");
    res.type = "button";
    res.dataset.action = "resolve";
    var note = state.notes.get(card.alert_id);
    if (note && note.busy) { ack.disabled = true; res.disabled = true; }
    if (!state.me || state.me.role !== "ops") {  // ops sign-ins are read-only
      actions.appendChild(ack);
      actions.appendChild(res);
    }
    if (note) actions.appendChild(el("span", "note" + (note.error ? " err" : ""), note.text));
    node.appendChild(actions);
    node.appendChild(el("div", "meta", (card.device_id ? card.device_id + " · " : "") + "event " +
      String(card.ts || "").replace("T", " ").slice(0, 19) + " UTC · " + card.alert_id));
    return node;
  }

  var pending = false;
  var nodes = new Map(); // alert_id -> {node, sig, chartSig}: cards are updated in place, not rebuilt
  function render() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; renderNow(); });
  }
  function renderNow() {
    var cards = Array.from(state.open.values()).sort(sortKey);
    var list = $("open");
    var active = document.activeElement;
    var focusCard = active && active.closest && active.closest(".card");
    var focusKey = focusCard ? [focusCard.dataset.alertId, active.dataset.action] : null;
    var seen = new Set();
    cards.forEach(function (card, i) {
      var note = state.notes.get(card.alert_id) || null;
      var sig = JSON.stringify([card, note]);
      var chartSig = state.chartSeq.get(card.patient_id) || 0;
      var entry = nodes.get(card.alert_id);
      if (!entry || entry.sig !== sig) {
        var node = renderCard(card);
        if (entry) entry.node.replaceWith(node);
        entry = { node: node, sig: sig, chartSig: chartSig };
        nodes.set(card.alert_id, entry);
      } else if (entry.chartSig !== chartSig) {
        entry.node.querySelector(".chart-slot").replaceChildren(chart(card)); // buttons stay put
        entry.chartSig = chartSig;
      }
      entry.node.querySelector(".age").textContent = "raised " + ago(card.first_seen);
      seen.add(card.alert_id);
      if (list.children[i] !== entry.node) list.insertBefore(entry.node, list.children[i] || null);
    });
    nodes.forEach(function (entry, id) {
      if (!seen.has(id)) { entry.node.remove(); nodes.delete(id); }
    });
    if (focusKey && document.activeElement === document.body) {
      var again = list.querySelector('.card[data-alert-id="' + CSS.escape(focusKey[0]) + '"] [data-action="' +
                                     (focusKey[1] || "") + '"]');
      if (again && !again.disabled) again.focus();
    }
    $("empty").hidden = cards.length > 0;
    var high = cards.filter(function (c) { return c.priority === "high" && !c.acknowledged; }).length;
    var unacked = cards.filter(function (c) { return !c.acknowledged; }).length;
    $("counts").textContent = cards.length + " open" + (high ? " · " + high + " high unacknowledged" : "");
    document.title = (unacked ? "(" + unacked + ") " : "") + "wardwatch · alert console";
    var recentSig = state.recent.length ? state.recent[0].alert_id + state.recent.length : "";
    var recent = $("recent");
    if (recent.dataset.sig !== recentSig || !recent.children.length) {
      recent.dataset.sig = recentSig;
      recent.replaceChildren.apply(recent, state.recent.slice(0, 20).map(function (c) {
        var li = el("li", null, String(c.resolved_at || c.ts || "").replace("T", " ").slice(0, 16) + "  " +
          c.patient_id + " · " + (KIND[c.kind] || c.kind) + " · " + c.priority + " · resolved");
        li.dataset.alertId = c.alert_id;
        return li;
      }));
      if (!state.recent.length) recent.appendChild(el("li", "none", "None yet."));
    }
    document.body.dataset.open = String(cards.length);
  }
  var chartCounter = 0;
  function setChart(pid, data) {
    state.charts.set(pid, data);
    state.chartSeq.set(pid, ++chartCounter);
  }

  // ---- live data ----
  function onSnapshot(doc) {
    state.open = new Map();
    (doc.open || []).forEach(function (c) { state.open.set(c.alert_id, c); });
    state.recent = doc.recent || [];
    state.charts = new Map();
    Object.keys(doc.charts || {}).forEach(function (pid) { setChart(pid, doc.charts[pid]); });
    if (doc.server_time) state.skew = doc.server_time - Date.now();
    state.loaded = true;
    render();
  }
  function onAlert(doc) {
    var card = doc.card;
    if (doc.chart) setChart(card.patient_id, doc.chart);
    var note = state.notes.get(card.alert_id);
    if (note && (card.acknowledged || card.status === "resolved")) state.notes.delete(card.alert_id);
    if (card.status === "resolved") {
      state.open.delete(card.alert_id);
      state.recent.unshift(card);
      state.recent = state.recent.slice(0, 50);
    } else {
      state.open.set(card.alert_id, card);
      if (card.notify && state.loaded) cue(card);
    }
    render();
  }
  function onVitals(doc) {
    setChart(doc.patient_id, doc.chart);
    if (Array.from(state.open.values()).some(function (c) { return c.patient_id === doc.patient_id; })) render();
  }
  function setConn(cls, text) {
    var c = $("conn");
    c.className = "conn " + cls;
    c.textContent = text;
    document.body.dataset.conn = cls;
  }
  function connect() {
    if (state.es) state.es.close();
    var es = new EventSource("console/api/stream");
    state.es = es;
    es.addEventListener("open", function () { setConn("conn-live", "live"); });
    es.addEventListener("snapshot", function (e) { onSnapshot(JSON.parse(e.data)); });
    es.addEventListener("alert", function (e) { onAlert(JSON.parse(e.data)); });
    es.addEventListener("vitals", function (e) { onVitals(JSON.parse(e.data)); });
    es.addEventListener("error", function () {
      setConn("conn-wait", "reconnecting…");
      fetch("console/api/state", { credentials: "same-origin" }).then(function (r) {
        if (r.status === 401) {
          es.close();
          setConn("conn-down", "signed out");
          toast(state.me ? "Signed out: sign in again." : "Signed out: open the console link with your token again.");
          if (state.me) window.location.assign("console/login");
        }
      }).catch(function () { setConn("conn-down", "offline"); });
    });
  }

  // ---- acknowledge / resolve ----
  function act(button) {
    var node = button.closest(".card");
    var card = node && state.open.get(node.dataset.alertId);
    if (!card) return;
    var by = state.me ? state.me.display_name : $("by").value.trim();
    if (!by) {
      toast("Enter your name first (top of the page).");
      $("by").focus();
      return;
    }
    var action = button.dataset.action;
    state.notes.set(card.alert_id, { busy: true, text: action === "resolve" ? "resolving…" : "sending…" });
    render();
    fetch("console/api/ack", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ alert_id: card.alert_id, patient_id: card.patient_id, action: action, by: by })
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.status === 202) {
          var current = state.open.get(card.alert_id);
          if (current && !(action === "acknowledge" && current.acknowledged)) {
            state.notes.set(card.alert_id, { busy: action === "resolve",
              text: (action === "resolve" ? "resolve" : "acknowledgement") + " sent, waiting for the worker…" });
          }
        } else {
          state.notes.set(card.alert_id, { error: true, text: "not sent: " + (body.error || r.status) });
        }
        render();
      });
    }).catch(function () {
      state.notes.set(card.alert_id, { error: true, text: "not sent: no connection" });
      render();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    try {
      $("by").value = localStorage.getItem("wardwatch.by") || "";
      setSound(localStorage.getItem("wardwatch.sound") === "1");
    } catch (e) { /* private mode */ }
    $("by").addEventListener("change", function () {
      try { localStorage.setItem("wardwatch.by", $("by").value.trim()); } catch (e) { /* ignore */ }
    });
    $("sound").addEventListener("click", function () { setSound(!state.sound); if (state.sound) beep(); });
    $("open").addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest("button[data-action]");
      if (b && !b.disabled) act(b);
    });
    // Browsers only allow audio after a gesture: any tap unlocks it if sound is on.
    document.addEventListener("pointerdown", function () {
      if (state.sound) { var ctx = audioContext(); if (ctx && ctx.state === "suspended") ctx.resume(); }
    }, { once: true });
    setInterval(render, 15000); // ages
    // Signed in as a person? Then the acknowledgement names them, not a typed name. The live stream
    // starts after the answer, so the first cards are already drawn for this person's role.
    fetch("console/api/me", { credentials: "same-origin" }).then(function (r) {
      return r.status === 200 ? r.json() : null;
    }).then(function (me) {
      if (!me || !me.username) return;
      state.me = me;
      $("who-free").hidden = true;
      $("who-signed").hidden = false;
      $("me-name").textContent = me.display_name;
      $("me-role").textContent = "(" + me.role.replace("_", " ") + (me.wards.length ? ", " + me.wards.join(", ") : "") + ")";
      document.body.dataset.role = me.role;
    }).catch(function () { /* token or demo access: the name box stays */ }).then(connect);
  });
})();
