// Shared helpers for the reconbench challenge pages: the API token (localStorage), fetch
// wrappers that surface the server's {"error": ...} reasons, the header with login/register,
// and number formatting. No build step: plain ES2020.
"use strict";

const RB = {
  token() { return localStorage.getItem("rb_token") || ""; },
  setToken(t) { t ? localStorage.setItem("rb_token", t) : localStorage.removeItem("rb_token"); },

  async api(method, path, body, raw) {
    const headers = {};
    if (RB.token()) headers["Authorization"] = "Bearer " + RB.token();
    let payload = body;
    if (body !== undefined && !raw) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(path, { method, headers, body: payload });
    const type = res.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await res.json() : await res.text();
    if (!res.ok && !(data && data.id)) {
      const reason = data && data.error ? data.error : "HTTP " + res.status;
      const err = new Error(reason);
      err.status = res.status;
      err.data = data;
      throw err;
    }
    return data;
  },

  // An authenticated image as an object URL (img tags cannot send the token).
  async imageUrl(path) {
    const res = await fetch(path, { headers: { Authorization: "Bearer " + RB.token() } });
    if (!res.ok) {
      let reason = "HTTP " + res.status;
      try { reason = (await res.json()).error; } catch (e) { /* not JSON */ }
      throw new Error(reason);
    }
    return URL.createObjectURL(await res.blob());
  },

  fmt(v, digits = 4) {
    return typeof v === "number" && isFinite(v) ? v.toFixed(digits) : "n/a";
  },
  // The server's rule (eval::kMinVolumesForIntervals, /api/challenge "intervals_min_n"):
  // over fewer volumes an interval or P(rank 1) suggests false certainty.
  minN: 0,
  tooFew(m) { return !!m && typeof m.n === "number" && m.n < RB.minN; },
  tooFewHtml(m) {
    return `<span class="muted too-few" title="${m.n} volume${m.n === 1 ? "" : "s"}; intervals need at least ${RB.minN}">n too small</span>`;
  },
  // An interval as HTML: "[lo, hi]", or "n too small".
  interval(m, key, digits = 4) {
    if (RB.tooFew(m)) return RB.tooFewHtml(m);
    return m && Array.isArray(m[key]) ? `[${RB.fmt(m[key][0], digits)}, ${RB.fmt(m[key][1], digits)}]` : "";
  },
  // A failed submission's kind and the reason the server stored, as escaped HTML.
  failure(f) { return f ? `${RB.esc(f.kind)}: ${RB.esc(f.reason || "no reason stored")}` : ""; },
  // GET /api/challenge once per page (tracks, phases, limits, intervals_min_n).
  async challenge() {
    if (!RB._challenge) {
      RB._challenge = await RB.api("GET", "/api/challenge");
      RB.minN = RB._challenge.intervals_min_n || 0;
    }
    return RB._challenge;
  },
  esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  },
  param(name) { return new URLSearchParams(location.search).get(name); },
  el(id) { return document.getElementById(id); },
  show(id, text, cls) {
    const e = RB.el(id);
    e.textContent = text;
    e.className = cls || "";
  },

  async me() {
    if (!RB.token()) return null;
    try { return await RB.api("GET", "/api/me"); } catch (e) { if (e.status === 401) RB.setToken(""); return null; }
  },

  // Header: navigation + login/register/logout.
  async header() {
    const h = document.createElement("header");
    h.innerHTML = `<nav><b>reconbench challenge</b>
      <a href="index.html">Leaderboards</a><a href="submit.html">Submit</a>
      <a href="submissions.html">My submissions</a><a href="reader.html">Reader study</a>
      <a href="account.html">Account</a><a href="admin.html">Admin</a></nav><div id="account"></div>`;
    document.body.prepend(h);
    try { await RB.challenge(); } catch (e) { /* the page reports its own errors */ }
    const me = await RB.me();
    const acc = RB.el("account");
    if (me) {
      acc.innerHTML = `<span id="whoami">${RB.esc(me.user.username)} (${RB.esc(me.user.role)}${me.team ? ", " + RB.esc(me.team.name) : ""})</span>
        <button id="logout">Log out</button>`;
      // Revoked on the server too: a copied token stops working at log-out.
      RB.el("logout").onclick = async () => {
        try { await RB.api("POST", "/api/logout"); } catch (e) { /* expired already */ }
        RB.setToken("");
        location.reload();
      };
    } else {
      acc.innerHTML = `<form id="login-form"><input id="login-user" placeholder="username" autocomplete="username">
        <input id="login-pass" type="password" placeholder="password" autocomplete="current-password">
        <button id="login-btn">Log in</button><button id="register-btn" type="button">Register</button>
        <input id="token-input" placeholder="or paste an API token"><span id="login-msg"></span></form>`;
      const go = async (path) => {
        try {
          const body = { username: RB.el("login-user").value, password: RB.el("login-pass").value };
          const r = await RB.api("POST", path, body);
          RB.setToken(r.token);
          location.reload();
        } catch (e) { RB.show("login-msg", e.message, "error"); }
      };
      RB.el("login-form").onsubmit = (ev) => { ev.preventDefault(); const t = RB.el("token-input").value.trim(); if (t) { RB.setToken(t); location.reload(); } else go("/api/login"); };
      RB.el("register-btn").onclick = () => go("/api/register");
    }
    return me;
  },
};
