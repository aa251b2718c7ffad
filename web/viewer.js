// The reader study's image viewer: the ground truth and the candidates of a case, each in a
// canvas at the image's full resolution, with one zoom, pan and window/level for all panels
// (a reader compares the same structure across them).
//   zoom    mouse wheel, + / - (about the centre), f: 1 image pixel per screen pixel;
//           z = 1 fits the image to its panel, z in [1, 16]
//   pan     drag (left button), Shift + arrow keys
//   window  right-drag or Shift-drag: horizontal changes the width, vertical the level;
//           w cycles the presets, r resets zoom, pan and window
// The server's PNGs are 8-bit greys over [0, W] of the case's ground truth (W its 99.5 %
// quantile, eval::figure_window); window/level maps a grey g to
//   out = 255 clamp((g - (level - width / 2)) / width, 0, 1)
// so level 127.5, width 255 shows the PNG as served.
"use strict";

const Viewer = {
  PRESETS: [
    { name: "full range", level: 127.5, width: 255 },
    { name: "high contrast (20–80 %)", level: 127.5, width: 153 },
    { name: "dark detail (0–50 %)", level: 64, width: 128 },
    { name: "bright detail (50–100 %)", level: 191, width: 128 },
  ],
  zoom: 1, tx: 0, ty: 0, level: 127.5, width: 255, preset: 0,
  panels: [],  // {el, view, canvas, orig: ImageData | null}
  onChange: null,

  // The .panel elements under `root`, each with a .view (square, clips) holding a canvas.
  attach(root) {
    Viewer.panels = [...root.querySelectorAll(".panel")].map((el) => ({
      el, view: el.querySelector(".view"), canvas: el.querySelector("canvas"), orig: null,
    }));
    for (const p of Viewer.panels) Viewer.bindPointer(p.view);
    Viewer.applyTransform();
  },

  // Draws the image at `url` into the panel unless isCurrent() says a later load replaced it.
  async load(panel, url, isCurrent = () => true) {
    const img = new Image();
    img.src = url;
    await img.decode();
    URL.revokeObjectURL(url);
    if (!isCurrent()) return;
    const cv = panel.canvas;
    cv.width = img.naturalWidth;
    cv.height = img.naturalHeight;
    const ctx = cv.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, 0, 0);
    panel.orig = ctx.getImageData(0, 0, cv.width, cv.height);
    Viewer.applyWindow(panel);
    cv.dataset.loaded = "1";
  },

  applyWindow(panel) {
    if (!panel.orig) return;
    const lo = Viewer.level - Viewer.width / 2, lut = new Uint8ClampedArray(256);
    for (let g = 0; g < 256; g++) lut[g] = Math.round(255 * Math.min(1, Math.max(0, (g - lo) / Viewer.width)));
    const src = panel.orig.data, out = new ImageData(panel.orig.width, panel.orig.height), d = out.data;
    for (let i = 0; i < src.length; i += 4) {
      d[i] = lut[src[i]]; d[i + 1] = lut[src[i + 1]]; d[i + 2] = lut[src[i + 2]]; d[i + 3] = src[i + 3];
    }
    panel.canvas.getContext("2d").putImageData(out, 0, 0);
  },

  // Pan limited so that the image covers its panel: tx in [s (1 - z), 0], s the panel size.
  applyTransform() {
    const s = Viewer.panels.length ? Viewer.panels[0].view.clientWidth : 0;
    Viewer.tx = Math.min(0, Math.max(s * (1 - Viewer.zoom), Viewer.tx));
    Viewer.ty = Math.min(0, Math.max(s * (1 - Viewer.zoom), Viewer.ty));
    for (const p of Viewer.panels)
      p.canvas.style.transform = `translate(${Viewer.tx}px, ${Viewer.ty}px) scale(${Viewer.zoom})`;
    Viewer.changed();
  },

  // Zoom by `factor` about the point (cx, cy) of a panel (CSS pixels).
  zoomBy(factor, cx, cy) {
    const s = Viewer.panels.length ? Viewer.panels[0].view.clientWidth : 0;
    if (cx === undefined) { cx = s / 2; cy = s / 2; }
    const z = Math.min(16, Math.max(1, Viewer.zoom * factor));
    Viewer.tx = cx - (cx - Viewer.tx) * (z / Viewer.zoom);
    Viewer.ty = cy - (cy - Viewer.ty) * (z / Viewer.zoom);
    Viewer.zoom = z;
    Viewer.applyTransform();
  },

  // One image pixel per screen pixel (device pixels), about the centre.
  actualSize() {
    const p = Viewer.panels[0];
    if (!p || !p.canvas.width) return;
    Viewer.zoomBy((p.canvas.width / window.devicePixelRatio) / p.view.clientWidth / Viewer.zoom);
  },

  setWindow(level, width) {
    Viewer.level = Math.min(255, Math.max(0, level));
    Viewer.width = Math.min(512, Math.max(4, width));
    for (const p of Viewer.panels) Viewer.applyWindow(p);
    Viewer.changed();
  },

  nextPreset() {
    Viewer.preset = (Viewer.preset + 1) % Viewer.PRESETS.length;
    const p = Viewer.PRESETS[Viewer.preset];
    Viewer.setWindow(p.level, p.width);
  },

  reset() {
    Viewer.zoom = 1; Viewer.tx = Viewer.ty = 0; Viewer.preset = 0;
    Viewer.applyTransform();
    Viewer.setWindow(Viewer.PRESETS[0].level, Viewer.PRESETS[0].width);
  },

  status() {
    const p = Viewer.PRESETS.find((q) => q.level === Viewer.level && q.width === Viewer.width);
    return `zoom ${Viewer.zoom.toFixed(2)}×, window level ${Viewer.level.toFixed(0)} width ${Viewer.width.toFixed(0)}` +
      (p ? ` (${p.name})` : "");
  },
  changed() { if (Viewer.onChange) Viewer.onChange(Viewer.status()); },

  bindPointer(view) {
    view.addEventListener("contextmenu", (ev) => ev.preventDefault());
    view.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const r = view.getBoundingClientRect();
      Viewer.zoomBy(ev.deltaY < 0 ? 1.25 : 0.8, ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    view.addEventListener("pointerdown", (ev) => {
      const wl = ev.button === 2 || ev.shiftKey;
      if (ev.button !== 0 && ev.button !== 2) return;
      ev.preventDefault();
      view.setPointerCapture(ev.pointerId);
      let x = ev.clientX, y = ev.clientY;
      const move = (e) => {
        const dx = e.clientX - x, dy = e.clientY - y;
        x = e.clientX; y = e.clientY;
        if (wl) Viewer.setWindow(Viewer.level - dy, Viewer.width + dx);
        else { Viewer.tx += dx; Viewer.ty += dy; Viewer.applyTransform(); }
      };
      const up = () => { view.removeEventListener("pointermove", move); view.removeEventListener("pointerup", up); };
      view.addEventListener("pointermove", move);
      view.addEventListener("pointerup", up);
    });
  },

  // The viewer's keys; true when `ev` was one of them.
  key(ev) {
    if (ev.shiftKey && ev.key.startsWith("Arrow")) {
      const step = 40, d = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[ev.key];
      Viewer.tx += d[0]; Viewer.ty += d[1];
      Viewer.applyTransform();
      return true;
    }
    if (ev.key === "+" || ev.key === "=") Viewer.zoomBy(1.25);
    else if (ev.key === "-") Viewer.zoomBy(0.8);
    else if (ev.key === "f") Viewer.actualSize();
    else if (ev.key === "w") Viewer.nextPreset();
    else if (ev.key === "r") Viewer.reset();
    else return false;
    return true;
  },
};
