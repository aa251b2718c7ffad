// Browser tests of the challenge web UI in headless Debian Chromium driven by playwright-core:
//   1. log in, submit through the submit page (chunked upload + sha256 in the browser), see
//      the leaderboard update;
//   2. the organiser's drill-down viewer shows the GT | recon | residual x5 | SSIM figure;
//   1b. a hidden phase reads as one sentence; the header's token box fits; n < intervals_min_n
//      shows "n too small"; a failed submission shows its stored reason;
//   3. the account page lists, creates and revokes API tokens; log-out revokes the token; the
//      admin page flags files another team submitted too;
//   4. a finalist marks its final submission on the submission page; a reader zooms, pans,
//      windows and scrolls the case's panels together, completes a reader-study case with the
//      keyboard only, and resumes.
// Screenshots go to $RB_WEB_ARTIFACTS. Usage: node test_web.mjs (env: RECONBENCH, RB_WEB_*).
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const src = process.env.RECONBENCH_SOURCE_DIR;
const require = createRequire(path.join(src, "web", "package.json"));
const { chromium } = require("playwright-core");

const RB = process.env.RECONBENCH;
const work = process.env.RB_WEB_WORK;
const artifacts = process.env.RB_WEB_ARTIFACTS;
const data = path.join(work, "data");
const db = "sqlite:" + path.join(work, "challenge.db");
fs.mkdirSync(artifacts, { recursive: true });

const rb = (...args) => execFileSync(RB, args, { encoding: "utf8" }).trim();
const orgToken = rb("challenge", "add-user", "org", "--role", "organiser", "--data", data, "--db", db);
rb("challenge", "add-user", "alice", "--password", "alice-password", "--team", "Team Alice", "--data", data, "--db", db);
const readerToken = rb("challenge", "add-user", "rad", "--role", "reader", "--data", data, "--db", db);

const portFile = path.join(work, "port");
const server = spawn(RB, ["serve", "--data", data, "--db", db, "--port", "0", "--port-file", portFile, "--workers", "1"],
  { stdio: ["ignore", fs.openSync(path.join(work, "serve.log"), "a"), fs.openSync(path.join(work, "serve.log"), "a")] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; i < 100 && !fs.existsSync(portFile); i++) await sleep(100);
const url = `http://127.0.0.1:${fs.readFileSync(portFile, "utf8").trim()}`;

// One connection per call (Connection: close): a keep-alive socket the server closes while
// this process sits in execFileSync would be reused for the next POST and fail with EPIPE.
async function api(method, p, token, body) {
  const headers = { Authorization: `Bearer ${token}`, Connection: "close" };
  let payload = body;
  if (body && !(body instanceof FormData)) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const r = await fetch(url + p, { method, headers, body: payload });
  return { status: r.status, json: await r.json() };
}

// Three finalists in the challenge phase (multipart API), so closing forms a reader study.
async function finalist(name, dir) {
  const tok = rb("challenge", "add-user", name, "--team", "Team " + name, "--data", data, "--db", db);
  const fd = new FormData();
  fd.append("phase", "challenge");
  fd.append("track", "multicoil_4x");
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".h5")))
    fd.append("file", new Blob([fs.readFileSync(path.join(dir, f))]), f);
  const r = await api("POST", "/api/submissions", tok, fd);
  assert.equal(r.status, 202, JSON.stringify(r.json));
  assert.equal(r.json.state, "validating", "validation runs after the request returns");
  return { id: r.json.id, tok };
}

// The reader's viewer: zoom and pan move all four panels together; window/level changes the
// displayed pixel values; the slice scrolls; r resets. All with the keyboard, wheel and drags.
async function viewerChecks(page, loaded) {
  const rects = () => page.$$eval(".panel canvas", (cs) => cs.map((c) => { const r = c.getBoundingClientRect(); return { w: r.width, x: r.left - c.parentElement.getBoundingClientRect().left }; }));
  const gtSum = () => page.$eval('.panel[data-letter="GT"] canvas', (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let s = 0;
    for (let i = 0; i < d.length; i += 4) s += d[i];
    return s;
  });
  const r0 = await rects();
  assert.equal(r0.length, 4);
  assert.equal(await page.$eval('.panel[data-letter="GT"] canvas', (c) => c.width), 48, "drawn at the image's resolution");
  for (const r of r0) assert.ok(r.w >= 400, `panel shown ${r.w} px wide`);
  const same = (a, b, f, what) => a.forEach((r, i) => assert.ok(Math.abs(b[i].w - f * r.w) < 1, `${what}: panel ${i} ${r.w} -> ${b[i].w}`));
  await page.keyboard.press("+");
  const r1 = await rects();
  same(r0, r1, 1.25, "+");
  const view = await page.$('.panel[data-letter="GT"] .view');
  const box = await view.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -100);
  await page.waitForFunction((w) => document.querySelector(".panel canvas").getBoundingClientRect().width > w + 1, r1[0].w);
  const r2 = await rects();
  same(r1, r2, 1.25, "wheel");
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 - 60, box.y + box.height / 2 - 20, { steps: 4 });
  await page.mouse.up();
  const r3 = await rects();
  r3.forEach((r, i) => assert.ok(Math.abs(r.x - (r2[i].x - 60)) < 1, `drag pans panel ${i}: ${r2[i].x} -> ${r.x}`));
  const s0 = await gtSum();
  await page.keyboard.press("w");  // next window preset
  const s1 = await gtSum();
  assert.notEqual(s1, s0, "window preset changed no pixel");
  await page.keyboard.down("Shift");
  await page.mouse.move(box.x + 50, box.y + 50);
  await page.mouse.down();
  await page.mouse.move(box.x + 10, box.y + 90, { steps: 4 });  // narrower window, lower level
  await page.mouse.up();
  await page.keyboard.up("Shift");
  assert.notEqual(await gtSum(), s1, "shift-drag changed no pixel");
  assert.match(await page.textContent("#view-state"), /zoom 1\.56×, window level \d+ width \d+/);
  await page.keyboard.press("r");
  assert.equal(await gtSum(), s0, "r restores the served pixels");
  same(r0, await rects(), 1, "r");
  const before = await page.textContent("#slice-no");
  assert.match(before, /^\d of 2/);
  await page.keyboard.press(before.startsWith("1") ? "j" : "k");
  await page.waitForFunction((b) => document.querySelector("#slice-no").textContent !== b, before);
  await loaded();
  assert.notEqual(await gtSum(), s0, "another slice, the same pixels");
  await page.keyboard.press(before.startsWith("1") ? "k" : "j");
  await page.waitForFunction((b) => document.querySelector("#slice-no").textContent === b, before);
  await loaded();
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let failed = false;
const step = async (name, fn) => {
  const t0 = Date.now();
  try { await fn(); console.log(`ok   ${name} (${Date.now() - t0} ms)`); }
  catch (e) { failed = true; console.log(`FAIL ${name}: ${e.stack || e}${e.cause ? "\ncause: " + (e.cause.stack || e.cause) : ""}`); }
};

try {
  await step("submit through the page and see the leaderboard update", async () => {
    const page = await browser.newPage();
    await page.goto(url + "/submit.html");
    await page.fill("#login-user", "alice");
    await page.fill("#login-pass", "alice-password");
    await page.click("#login-btn");
    await page.waitForSelector("#whoami");
    assert.match(await page.textContent("#whoami"), /Team Alice/);
    await page.selectOption("#phase", "test");
    await page.selectOption("#track", "multicoil_4x");
    await page.waitForFunction(() => /Remaining submissions: \d/.test(document.querySelector("#quota").textContent));
    const dir = path.join(work, "sub-good-multicoil_test");
    await page.setInputFiles("#files", fs.readdirSync(dir).filter((f) => f.endsWith(".h5")).map((f) => path.join(dir, f)));
    await page.click("#submit-btn");
    await page.waitForSelector("#submitted", { timeout: 30000 });
    await page.screenshot({ path: path.join(artifacts, "submit.png"), fullPage: true });
    await page.goto(url + "/index.html?phase=test&track=multicoil_4x");
    await page.waitForSelector('#leaderboard tr[data-team="Team Alice"] td.ssim', { timeout: 30000 });
    const ssim = parseFloat(await page.textContent('#leaderboard tr[data-team="Team Alice"] td.ssim'));
    assert.ok(ssim > 0.5 && ssim <= 1, `SSIM ${ssim}`);
    // Two volumes < the server's intervals_min_n: no interval or P(rank 1) is shown as a number.
    const minN = (await (await fetch(url + "/api/challenge", { headers: { Connection: "close" } })).json()).intervals_min_n;
    assert.ok(minN > 2, `intervals_min_n ${minN}`);
    for (const td of ["ci", "qi", "p-first"])
      assert.equal(await page.textContent(`#leaderboard tr[data-team="Team Alice"] td.${td}`), "n too small", td);
    await page.screenshot({ path: path.join(artifacts, "leaderboard.png"), fullPage: true });
    await page.close();
  });

  await step("hidden phase: one sentence; the header's token box is not cut off", async () => {
    const page = await browser.newPage();
    await page.goto(url + "/index.html?phase=challenge&track=multicoil_4x");
    await page.waitForFunction(() => /hidden/.test(document.querySelector("#lb-status").textContent));
    assert.equal(await page.textContent("#lb-status"), "Scores of this phase are hidden until the organisers publish the results.");
    assert.equal(await page.isVisible("#leaderboard"), false, "empty table shown");
    assert.deepEqual(await page.$$eval("h3", (hs) => hs.filter((h) => h.offsetParent !== null).map((h) => h.textContent)), []);
    for (const width of [1280, 900]) {
      await page.setViewportSize({ width, height: 700 });
      const box = await page.evaluate(() => {
        const i = document.querySelector("#token-input"), cs = getComputedStyle(i);
        const ctx = document.createElement("canvas").getContext("2d");
        ctx.font = `${cs.fontSize} ${cs.fontFamily}`;
        const r = i.getBoundingClientRect();
        return { text: ctx.measureText(i.placeholder).width, inner: i.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight),
                 right: r.right, vw: document.documentElement.clientWidth };
      });
      assert.ok(box.text <= box.inner, `token box ${box.inner}px for a ${box.text}px placeholder at ${width}px`);
      assert.ok(box.right <= box.vw, `token box ends at ${box.right} of ${box.vw}px`);
    }
    await page.screenshot({ path: path.join(artifacts, "hidden-phase.png"), fullPage: true });
    await page.close();
  });

  await step("a failed submission shows the reason the server stored", async () => {
    const tok = rb("challenge", "add-user", "hasty", "--team", "Team Hasty", "--data", data, "--db", db);
    const fd = new FormData();
    fd.append("phase", "test");
    fd.append("track", "multicoil_4x");
    fd.append("file", new Blob([fs.readFileSync(path.join(work, "sub-good-multicoil_test", "file_brain_AXT2_001.h5"))]), "file_brain_AXT2_001.h5");
    const id = (await api("POST", "/api/submissions", tok, fd)).json.id;
    let s;
    for (let i = 0; i < 300; i++) {
      s = (await api("GET", `/api/submissions/${id}`, tok)).json;
      if (s.state === "failed") break;
      await sleep(100);
    }
    assert.equal(s.state, "failed", JSON.stringify(s));
    assert.ok(s.failure.reason.length > 0);
    const page = await browser.newPage();
    await page.addInitScript((t) => localStorage.setItem("rb_token", t), tok);
    await page.goto(url + "/submissions.html");
    await page.waitForSelector(".failure");
    assert.equal(await page.textContent(".failure"), `(${s.failure.kind}: ${s.failure.reason})`);
    await page.close();
    // The submit page asks the server first: an organiser's entry is refused before any upload.
    const uploads = () => execFileSync("/usr/bin/python3", ["-c", "import sqlite3,sys;print(sqlite3.connect(sys.argv[1]).execute('select count(*) from uploads').fetchone()[0])",
      db.slice("sqlite:".length)], { encoding: "utf8" }).trim();
    const u0 = uploads();
    const org = await browser.newPage();
    await org.addInitScript((t) => localStorage.setItem("rb_token", t), orgToken);
    await org.goto(url + "/submit.html");
    await org.waitForSelector("#track option", { state: "attached" });
    await org.setInputFiles("#files", [path.join(work, "sub-good-multicoil_test", "file_brain_AXT2_001.h5")]);
    await org.click("#submit-btn");
    await org.waitForFunction(() => /only participants submit/.test(document.querySelector("#status").textContent));
    assert.equal(uploads(), u0, "the page uploaded before asking");
    await org.close();
  });

  await step("drill-down viewer shows the residual figure", async () => {
    const subs = (await api("GET", "/api/submissions", orgToken)).json;
    const s = subs.find((x) => x.team === "Team Alice");
    const page = await browser.newPage();
    await page.addInitScript((t) => localStorage.setItem("rb_token", t), orgToken);
    await page.goto(`${url}/submission.html?id=${s.id}`);
    await page.waitForSelector("#volumes a.vol", { timeout: 30000 });
    await page.click("#volumes a.vol");
    await page.waitForFunction(() => { const i = document.querySelector("#figure"); return i && i.complete && i.naturalWidth > 0; });
    const w = await page.evaluate(() => document.querySelector("#figure").naturalWidth);
    assert.ok(w > 3 * 48, `figure width ${w} (four panels expected)`);
    // Four labelled panels, each drawn at the volume's resolution and shown large.
    const panels = await page.$$eval("#drill-panels figure", (fs) => fs.map((f) => {
      const c = f.querySelector("canvas");
      return { label: f.querySelector("figcaption").textContent, px: c.width, shown: c.getBoundingClientRect().width };
    }));
    assert.deepEqual(panels.map((p) => p.label.split(" ")[0]), ["Ground", "Submission", "Difference", "SSIM"]);
    for (const p of panels) {
      assert.equal(p.px, 48, `${p.label}: ${p.px} px drawn (48 x 48 volume)`);
      assert.ok(p.shown >= 400, `${p.label}: shown ${p.shown} px wide`);
    }
    await page.keyboard.press("j");
    await page.waitForFunction(() => document.querySelector("#slice-no").textContent.startsWith("1 "));
    await page.screenshot({ path: path.join(artifacts, "drilldown.png"), fullPage: true });
    await page.close();
  });

  await step("account page tokens, log-out revokes, admin outlier badge", async () => {
    const login = await fetch(url + "/api/login", { method: "POST", headers: { "Content-Type": "application/json", Connection: "close" },
      body: JSON.stringify({ username: "alice", password: "alice-password" }) });
    const session = (await login.json()).token;
    const page = await browser.newPage();
    await page.addInitScript((t) => localStorage.setItem("rb_token", t), session);
    await page.goto(url + "/account.html");
    await page.waitForFunction(() => /this session/.test(document.querySelector("#tokens").textContent));
    await page.fill("#t-label", "ci-token");
    await page.click("#token-form button");
    await page.waitForFunction(() => /\(shown once\): rbt_/.test(document.querySelector("#new-token").textContent) ||
                                     document.querySelector("#status").textContent);
    assert.equal(await page.textContent("#status"), "", "creating a token on the account page");
    const made = (await page.textContent("#new-token")).match(/rbt_\w+/)[0];
    assert.equal((await api("GET", "/api/me", made)).status, 200);
    const row = await page.waitForSelector('tr:has(td:text("ci-token")) button[data-revoke]');
    await row.click();
    await page.waitForFunction(() => /revoked/.test(document.querySelector("#tokens").textContent));
    assert.equal((await api("GET", "/api/me", made)).status, 401, "revoked on the account page");
    await page.screenshot({ path: path.join(artifacts, "account.png"), fullPage: true });
    await page.click("#logout");
    await page.waitForSelector("#login-form");
    assert.equal((await api("GET", "/api/me", session)).status, 401, "log-out revokes the token");
    await page.close();
    // Another team submits Alice's bytes: the organisers' table shows the badge.
    const copy = rb("challenge", "add-user", "copycat", "--team", "Team Copy", "--data", data, "--db", db);
    const dir = path.join(work, "sub-good-multicoil_test");
    const fd = new FormData();
    fd.append("phase", "test");
    fd.append("track", "multicoil_4x");
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".h5"))) fd.append("file", new Blob([fs.readFileSync(path.join(dir, f))]), f);
    assert.equal((await api("POST", "/api/submissions", copy, fd)).status, 202);
    const admin = await browser.newPage();
    await admin.addInitScript((t) => localStorage.setItem("rb_token", t), orgToken);
    await admin.goto(url + "/admin.html");
    await admin.waitForSelector(".flag-shared", { timeout: 30000 });
    assert.match(await admin.textContent(".flag-shared"), /files? as in Team (Alice|Copy) #\d/);
    await admin.screenshot({ path: path.join(artifacts, "admin-flags.png"), fullPage: true });
    await admin.close();
  });

  await step("complete a reader-study case with the keyboard, then resume", async () => {
    const ids = [], toks = [];
    for (const [name, team] of [["f1", "good"], ["f2", "fair"], ["f3", "poor"]]) {
      const f = await finalist(name, path.join(work, `sub-${team}-multicoil_challenge`));
      ids.push(f.id);
      toks.push(f.tok);
    }
    for (const id of ids)
      for (let i = 0; i < 300; i++) {
        const s = (await api("GET", `/api/submissions/${id}`, orgToken)).json;
        if (s.state === "scored") break;
        assert.notEqual(s.state, "failed");
        await sleep(100);
      }
    // A finalist selects its final submission with the button on the submission page.
    const fp = await browser.newPage();
    await fp.addInitScript((t) => localStorage.setItem("rb_token", t), toks[0]);
    await fp.goto(`${url}/submission.html?id=${ids[0]}`);
    await fp.waitForFunction(() => /latest scored/.test(document.querySelector("#final-state").textContent));
    await fp.click("#final-btn");
    await fp.waitForFunction(() => /selected final/.test(document.querySelector("#final-state").textContent));
    assert.equal((await api("GET", `/api/submissions/${ids[0]}`, toks[0])).json.final_selected, true);
    await fp.close();
    const closed = await api("POST", "/api/admin/phases/challenge/close", orgToken);
    assert.equal(closed.json.studies.length, 1, JSON.stringify(closed.json));
    const study = closed.json.studies[0].id;
    const page = await browser.newPage();
    await page.addInitScript((t) => localStorage.setItem("rb_token", t), readerToken);
    await page.goto(url + "/reader.html");
    await page.waitForSelector("#case-title");
    await page.waitForFunction(() => document.querySelector("#case-title").textContent.startsWith("Case 1 of 2"));
    const loaded = () => page.waitForFunction(() => [...document.querySelectorAll(".panel canvas")].every((c) => c.dataset.loaded === "1"));
    await loaded();
    await viewerChecks(page, loaded);
    // Keyboard only: candidate letter, rank digit, then x/s/v + digit for the Likert items.
    const keys = [["a", "1", "1", "1", "1"], ["b", "2", "2", "2", "2"], ["c", "3", "3", "2", "4"]];
    for (const [L, rank, art, sharp, cnr] of keys)
      for (const k of [L, rank, "x", art, "s", sharp, "v", cnr]) await page.keyboard.press(k);
    await page.waitForFunction(() => document.querySelector('input[data-l="C"][data-f="cnr"]').value === "4");
    await page.screenshot({ path: path.join(artifacts, "reader-case.png"), fullPage: true });
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector("#case-title").textContent.startsWith("Case 2 of 2"));
    await page.waitForFunction(() => /1 of 2 cases complete/.test(document.querySelector("#study-list").textContent));
    const cases = (await api("GET", `/api/studies/${study}/cases`, readerToken)).json;
    assert.equal(cases[0].complete, true, JSON.stringify(cases));
    assert.equal(cases[1].complete, false);
    // Autosave + resume: a partial answer on case 2 survives a reload.
    await page.keyboard.press("b");
    await page.keyboard.press("1");
    await page.waitForFunction(() => document.querySelector("#saved").textContent.includes("incomplete"));
    await page.reload();
    await page.waitForFunction(() => document.querySelector("#case-title").textContent.startsWith("Case 2 of 2"));
    await page.waitForFunction(() => document.querySelector('input[data-l="B"][data-f="rank"]').value === "1");
    await page.screenshot({ path: path.join(artifacts, "reader-resume.png"), fullPage: true });
    const results = (await api("GET", `/api/studies/${study}/results`, orgToken)).json;
    assert.equal(results.reads, 1);
    const ranks = results.teams.map((t) => t.rank.mean).sort();
    assert.deepEqual(ranks, [1, 2, 3]);
    await page.close();
  });
} finally {
  await browser.close();
  server.kill("SIGTERM");
}
process.exit(failed ? 1 : 0);
