/**
 * Switchboard Mini App shell: session, API calls, screens, Telegram's buttons. No build step.
 *
 * Contract for screens: each is its own file static/screens/NAME.js (index.html loads every
 * file there as a module, after this one), registering itself:
 *
 *   import { registerScreen, api, el, navigate, toast, haptic, mainButton, state } from "../app.js";
 *   registerScreen("clients", {
 *     title: "Clients",          // header title: a string or (params) => string
 *     menu: "Clients",           // optional: a link on the home screen with this label
 *     start: 10,                 // optional: the highest `start` is the first screen shown
 *     render(root, params) {     // root: an empty <div> in <main>; may be async
 *       root.append(el("p", {}, "Hello"));
 *       return () => {};         // optional cleanup (timers, event sources) when it is left
 *     },
 *   });
 *
 * - navigate(name, params) opens a screen on top (Telegram's BackButton appears), back() returns,
 *   replace(name, params) swaps the top one. Tap handlers should call haptic.selection().
 * - The first screen: /app/?screen=NAME&key=value (the admin bot's "Open in app" buttons use
 *   /app/?screen=client&id=42), else the registered screen with the highest `start`.
 * - api(method, path, body) -> Promise of the JSON answer; `path` is below /app/api/v1. It sends
 *   the session token, renews the session once with initData on 401, and on any error shows the
 *   server's one line as a toast and rejects with ApiError (pass {quiet: true} to skip the toast).
 * - state.me is GET /me's answer; can(capability) asks it. setUnread(n) sets the header badge;
 *   the shell also refreshes it from /me every 30 s while visible (refreshMe() does it now).
 * - mainButton.show(text, onClick) / hide(): Telegram's MainButton (a bottom button in a plain
 *   browser). el(tag, attrs, ...children) builds DOM without innerHTML (no markup injection).
 */

const tg = window.Telegram && window.Telegram.WebApp;
const API_ROOT = "/app/api/v1";
const inTelegram = Boolean(tg && tg.platform && tg.platform !== "unknown");

export const state = { me: null, token: null, expiresAt: 0 };
const screens = new Map();
const stack = [];

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let toastTimer = null;
export function toast(text, { error = false } = {}) {
  const box = document.getElementById("toast");
  box.textContent = String(text).split("\n")[0];
  box.className = error ? "error" : "";
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, error ? 5000 : 3000);
}

function supports(version) {
  return Boolean(tg && tg.isVersionAtLeast && tg.isVersionAtLeast(version));
}

export const haptic = {
  impact(style = "light") { if (supports("6.1")) tg.HapticFeedback.impactOccurred(style); },
  notify(type = "success") { if (supports("6.1")) tg.HapticFeedback.notificationOccurred(type); },
  selection() { if (supports("6.1")) tg.HapticFeedback.selectionChanged(); },
};

// ---- Telegram's MainButton, or a bottom button of our own outside Telegram ----------------
let mainHandler = null;
export const mainButton = {
  show(text, onClick) {
    mainButton.hide();
    mainHandler = () => { haptic.impact("medium"); onClick(); };
    if (inTelegram) {
      tg.MainButton.setText(text);
      tg.MainButton.onClick(mainHandler);
      tg.MainButton.show();
      return;
    }
    const button = el("button", { id: "main-button", onclick: mainHandler }, text);
    document.body.append(button);
  },
  hide() {
    if (mainHandler && inTelegram) {
      tg.MainButton.offClick(mainHandler);
      tg.MainButton.hide();
    }
    document.getElementById("main-button")?.remove();
    mainHandler = null;
  },
};

// ---- session and API -----------------------------------------------------------------------
async function request(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined && method !== "GET" && method !== "DELETE") {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  } else if (body !== undefined) {
    path += (path.includes("?") ? "&" : "?") + new URLSearchParams(body).toString();
  }
  let response;
  try {
    response = await fetch(API_ROOT + path, init);
  } catch (err) {
    throw new ApiError(0, "the service cannot be reached; check the connection");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.error || `HTTP ${response.status}`);
  return data;
}

async function openSession() {
  const answer = await request("POST", "/session", { init_data: tg ? tg.initData : "" });
  state.token = answer.token;
  state.expiresAt = answer.expires_at;
}

export async function api(method, path, body, { quiet = false } = {}) {
  try {
    try {
      return await request(method, path, body, state.token);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
      await openSession(); // expired or revoked: one renewal with initData, then give up
      return await request(method, path, body, state.token);
    }
  } catch (err) {
    if (!quiet) { toast(err.message, { error: true }); haptic.notify("error"); }
    throw err;
  }
}

export function can(capability) {
  return Boolean(state.me && state.me.capabilities.includes(capability));
}

// The header's unread count (F15) stays current on any screen: /me again every
// UNREAD_EVERY_MS while the app is visible, and at once when it becomes visible again.
const UNREAD_EVERY_MS = 30000;
let unreadTimer = null;

export async function refreshMe() {
  try {
    state.me = await api("GET", "/me", undefined, { quiet: true });
    setUnread(state.me.unread);
  } catch (err) {
    // Offline or signed out: the next visible tick tries again; the screens show errors.
  }
}

function keepUnreadCurrent() {
  const tick = () => {
    clearTimeout(unreadTimer);
    unreadTimer = setTimeout(async () => {
      if (document.visibilityState === "visible") await refreshMe();
      tick();
    }, UNREAD_EVERY_MS);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") { refreshMe(); tick(); }
  });
  tick();
}

export function setUnread(count) {
  const badge = document.getElementById("unread");
  badge.textContent = String(count);
  badge.hidden = !(count > 0);
  badge.title = `${count} unread`;
}

// ---- screens ---------------------------------------------------------------------------------
export function registerScreen(name, screen) {
  if (screens.has(name)) throw new Error(`screen ${name} registered twice`);
  screens.set(name, { start: 0, ...screen, name });
}

export function registeredScreens() {
  return [...screens.values()];
}

async function show(entry) {
  const screen = screens.get(entry.name);
  const main = document.getElementById("screen");
  const root = el("div", { class: "screen", dataset: { screen: entry.name } });
  main.replaceChildren(root);
  mainButton.hide();
  const title = typeof screen.title === "function" ? screen.title(entry.params) : screen.title;
  document.getElementById("title").textContent = title || "Switchboard";
  const back = stack.length > 1;
  if (inTelegram && supports("6.1")) {
    if (back) tg.BackButton.show(); else tg.BackButton.hide();
  }
  document.getElementById("back")?.remove();
  if (back && !inTelegram) {
    document.getElementById("bar").prepend(
      el("button", { id: "back", class: "plain", "aria-label": "Back", onclick: () => goBack() }, "‹"));
  }
  // The first screen (the list) reaches the home menu (broadcast, jobs, More) from the header.
  document.getElementById("menu-button")?.remove();
  if (!back && entry.name !== "home" && screens.has("home")) {
    document.getElementById("bar").append(el("button", { id: "menu-button", class: "plain",
      "aria-label": "Menu", onclick: () => navigate("home") }, "☰"));
  }
  try {
    entry.cleanup = (await screen.render(root, entry.params)) || null;
  } catch (err) {
    if (!(err instanceof ApiError)) toast(err.message || String(err), { error: true });
    root.append(el("p", { class: "muted" }, "This screen could not be shown."));
  }
}

function leave() {
  const top = stack[stack.length - 1];
  if (top && typeof top.cleanup === "function") top.cleanup();
}

export function navigate(name, params = {}) {
  if (!screens.has(name)) { toast(`no screen ${name}`, { error: true }); return Promise.resolve(); }
  leave();
  stack.push({ name, params });
  return show(stack[stack.length - 1]);
}

export function replace(name, params = {}) {
  if (!screens.has(name)) { toast(`no screen ${name}`, { error: true }); return Promise.resolve(); }
  leave();
  stack.pop();
  stack.push({ name, params });
  return show(stack[stack.length - 1]);
}

export function goBack() {
  if (stack.length < 2) return Promise.resolve();
  leave();
  stack.pop();
  haptic.selection();
  return show(stack[stack.length - 1]);
}

function firstScreen() {
  const query = new URLSearchParams(location.search);
  const asked = query.get("screen");
  if (asked && screens.has(asked)) {
    const params = Object.fromEntries([...query.entries()].filter(([key]) => key !== "screen"));
    return { name: asked, params };
  }
  const best = [...screens.values()].sort((a, b) => b.start - a.start)[0];
  return { name: best ? best.name : null, params: {} };
}

// ---- start -----------------------------------------------------------------------------------
async function start() {
  const main = document.getElementById("screen");
  if (!tg || !tg.initData) {
    main.replaceChildren(el("p", { class: "muted", id: "outside" },
      "Open this app from the Switchboard admin bot in Telegram (its menu button or /app)."));
    return;
  }
  tg.ready();
  tg.expand();
  if (inTelegram && supports("6.1")) tg.BackButton.onClick(() => goBack());
  try {
    await openSession();
    state.me = await request("GET", "/me", undefined, state.token);
  } catch (err) {
    main.replaceChildren(el("p", { class: "muted", id: "refused" }, err.message));
    document.body.dataset.ready = "refused";
    return;
  }
  setUnread(state.me.unread);
  keepUnreadCurrent();
  const first = firstScreen();
  if (first.name) await navigate(first.name, first.params);
  // The first screen is interactive: bench/app.py reads this mark.
  window.switchboardFirstRender = performance.now();
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", start);
