// The RUES event explorer: a browser client of the Rusk Universal Event
// System, using the browser's own WebSocket and fetch exactly as a wallet
// does (docs/protocol.md: sessions §2, requests §5, CORS §5.3, frames §6).
// No dependencies, no build step. Everything that comes from the node is put
// in the page with textContent, never parsed as HTML.
"use strict";

(() => {
  /** The requirement on the node's version that Dusk's own clients send. */
  const RUSK_VERSION = "1.0.0-rc.0";
  /** Events kept in the list; older ones are dropped. */
  const MAX_EVENTS = 200;
  /** Errors kept in the error list. */
  const MAX_ERRORS = 20;
  /** Seconds shown by the events-per-second chart. */
  const RATE_SECONDS = 60;
  /** The first wait before reconnecting, doubled per attempt up to the last. */
  const RECONNECT_FIRST_MS = 500;
  const RECONNECT_MAX_MS = 8000;
  /** Blocks kept in the strip of recent blocks. */
  const MAX_BLOCKS = 12;
  /** Payload bytes shown per event or reply (the rest is summarized). */
  const MAX_SHOWN_BYTES = 16 * 1024;
  /**
   * Streams whose last position is kept for resuming; past it the oldest
   * is forgotten (its subscriptions then renew as "events may be lost").
   */
  const MAX_STREAMS = 1024;
  /** The greatest Rues-Seq a node may send: a u64. */
  const MAX_SEQ = 2n ** 64n - 1n;

  const CLOSE_CODES = {
    1000: "normal closure",
    1001: "the node is shutting down",
    1005: "no close code",
    1006: "connection lost without a close frame",
    1009: "a message was too big",
    1011: "internal error of the node",
    4001: "keep-alive timeout",
    4008: "slow consumer: the session's queue overflowed",
  };

  const $ = (id) => document.getElementById(id);
  const utf8 = new TextDecoder("utf-8", { fatal: true });

  const state = {
    /** The current WebSocket, or null. */
    ws: null,
    /** Whether the current WebSocket opened. */
    opened: false,
    /** Whether the user asked to disconnect. */
    closing: false,
    /** The session id (the first Text frame), or null. */
    sessionId: null,
    /** The node the session is on: "http(s)://host:port". */
    node: null,
    /** Active subscriptions: path -> list item. */
    subscriptions: new Map(),
    /** Events received in this session list (also those dropped). */
    eventCount: 0,
    /** Whether the list is paused: rows are kept aside, not shown. */
    paused: false,
    /** Rows received while paused, oldest first (at most MAX_EVENTS). */
    held: [],
    /** Events received while paused, also those beyond MAX_EVENTS. */
    heldCount: 0,
    /** Rows (events and notes) held while paused, also those dropped. */
    heldRows: 0,
    /** The path filter, lower case ("" shows every row). */
    filter: "",
    /** Events per second, oldest first; the last is the current second. */
    rate: new Array(RATE_SECONDS).fill(0),
    /** The second (Unix time) of the last bucket of `rate`. */
    rateSecond: Math.floor(Date.now() / 1000),
    /** Recent blocks: hash -> strip item. */
    blocks: new Map(),
    /**
     * The last frame that arrived on each stream (component/topic), as
     * { epoch, seq } (seq a BigInt: numbers go up to 2^64 - 1), to resume
     * from after a reconnect (docs/protocol.md §10). Kept across sessions.
     */
    positions: new Map(),
    /** Frames dropped as duplicates (at or before their stream's position). */
    duplicates: 0,
    /** Paths being renewed on a new session, not yet answered. */
    renewing: new Set(),
    /** Reconnecting after the node closed the session (restart, crash). */
    retry: {
      /** The pending reconnect, or null. */
      timer: null,
      /** Attempts since the last session. */
      attempt: 0,
      /** What was subscribed when the session was lost, to subscribe again. */
      paths: [],
    },
  };

  // ---- small helpers -------------------------------------------------

  function element(tag, attributes = {}, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === "className") node.className = value;
      else node.setAttribute(name, value);
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock() {
    const now = new Date();
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${pad(now.getMilliseconds(), 3)}`;
  }

  /** Hex of up to MAX_SHOWN_BYTES bytes, 32 bytes a line. */
  function hex(bytes) {
    const shown = bytes.subarray(0, MAX_SHOWN_BYTES);
    const lines = [];
    for (let i = 0; i < shown.length; i += 32) {
      let line = "";
      for (const b of shown.subarray(i, i + 32)) line += b.toString(16).padStart(2, "0");
      lines.push(line);
    }
    if (bytes.length > shown.length) {
      lines.push(`… ${bytes.length - shown.length} more bytes`);
    }
    return lines.join("\n");
  }

  /** Bytes from hex text: optional 0x, whitespace ignored. */
  function fromHex(text) {
    const digits = text.trim().replace(/^0x/i, "").replace(/\s+/g, "");
    if (digits.length % 2 !== 0 || /[^0-9a-f]/i.test(digits)) {
      throw new Error("the body is not hex (pairs of 0-9 a-f, optionally 0x first)");
    }
    const bytes = new Uint8Array(digits.length / 2);
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
    }
    return bytes;
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  /**
   * How to show a body of the given content type: pretty JSON, text or hex.
   * Returns { kind, text }.
   */
  function describe(bytes, contentType) {
    if (bytes.length === 0) return { kind: "empty", text: "(empty)" };
    const type = (contentType || "").split(";")[0].trim().toLowerCase();
    if (type === "application/json" || type.endsWith("+json")) {
      try {
        return { kind: "json", text: JSON.stringify(JSON.parse(utf8.decode(bytes)), null, 2) };
      } catch {
        // Not JSON after all: shown as text or hex below.
      }
    }
    if (type.startsWith("text/") || type === "application/json") {
      try {
        const text = utf8.decode(bytes);
        return {
          kind: "text",
          text: text.length > MAX_SHOWN_BYTES
            ? `${text.slice(0, MAX_SHOWN_BYTES)}\n… ${text.length - MAX_SHOWN_BYTES} more characters`
            : text,
        };
      } catch {
        // Not UTF-8: hex.
      }
    }
    return { kind: "hex", text: hex(bytes) };
  }

  /** The node base "http(s)://host:port" from what the user typed. */
  function nodeBase(text) {
    let url;
    try {
      url = new URL(text.trim());
    } catch {
      throw new Error(`"${text}" is not a node URL (for example http://127.0.0.1:8080)`);
    }
    const secure = { "http:": false, "ws:": false, "https:": true, "wss:": true }[url.protocol];
    if (secure === undefined) {
      throw new Error(`${url.protocol} is not a node URL scheme: use http(s):// or ws(s)://`);
    }
    return `${secure ? "https" : "http"}://${url.host}`;
  }

  /** "/on/<target>/<topic>" from "blocks/accepted", "/on/blocks/accepted", ... */
  function eventPath(text) {
    let path = text.trim().replace(/^\/+/, "");
    if (path.startsWith("on/")) path = path.slice(3);
    path = path.replace(/\/+$/, "");
    if (!path) throw new Error("name an event, for example blocks/accepted");
    return `/on/${path}`;
  }

  /**
   * The stream (component/topic) of an event path "/on/<component>[:<entity>]/<topic>":
   * { key, entity } (entity: whether the path names one), or null.
   */
  function streamOf(path) {
    const match = /^\/on\/([^/:]+)(:[^/]*)?\/(.+)$/.exec(path);
    return match ? { key: `${match[1]}/${match[3]}`, entity: match[2] !== undefined } : null;
  }

  // ---- errors and messages -------------------------------------------

  function showError(message) {
    const list = $("error-list");
    const item = element("li", { className: "error" });
    item.append(element("time", {}, clock()), " ", element("span", { className: "error-text" }, message));
    list.prepend(item);
    while (list.children.length > MAX_ERRORS) list.lastElementChild.remove();
    $("errors").hidden = false;
  }

  function say(id, message, kind) {
    const target = $(id);
    target.textContent = message;
    target.dataset.state = kind;
  }

  /** The node's reason from an error reply: `{"error": ...}`, or its text. */
  function reason(reply) {
    try {
      const body = JSON.parse(utf8.decode(reply.bytes));
      if (body && typeof body.error === "string") return body.error;
    } catch {
      // Not the JSON error shape.
    }
    try {
      const text = utf8.decode(reply.bytes).trim();
      if (text) return text;
    } catch {
      // Binary.
    }
    return reply.statusText || "no reason given";
  }

  // ---- HTTP requests -------------------------------------------------

  /**
   * A RUES request. Resolves to { status, statusText, ok, contentType,
   * bytes }; rejects with a readable Error when there is no answer at all
   * (node unreachable, or the browser refused it under CORS).
   */
  async function request(node, method, path, headers = {}, body = undefined) {
    const url = node + path;
    let response;
    try {
      response = await fetch(url, {
        method,
        headers: { "Rusk-Version": RUSK_VERSION, ...headers },
        body,
        mode: "cors",
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw new Error(
        `${method} ${url}: no answer. The node is unreachable, or it does not allow ` +
        `this page's origin (${location.origin}) (CORS). The browser says: ${error.message || error}`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    return {
      status: response.status,
      statusText: response.statusText,
      ok: response.ok,
      contentType: response.headers.get("content-type") || "",
      // What a Rues-Resume achieved (null without one, or from a node that
      // does not resume); readable cross-origin since the node exposes it.
      resumeResult: response.headers.get("rues-resume-result"),
      bytes,
    };
  }

  // ---- the session ---------------------------------------------------

  function setConnection(kind, text) {
    const target = $("connection-state");
    target.dataset.state = kind;
    target.textContent = text;
    const active = state.ws !== null || state.retry.timer !== null;
    $("disconnect").disabled = !active;
    document.body.dataset.connection = kind;
  }

  function setSessionId(id) {
    state.sessionId = id;
    $("session-id").textContent = id || "";
  }

  function cancelRetry() {
    clearTimeout(state.retry.timer);
    Object.assign(state.retry, { timer: null, attempt: 0, paths: [] });
  }

  /** Reconnects later, waiting longer after each failed attempt. */
  function scheduleReconnect(detail) {
    state.retry.attempt += 1;
    const wait = Math.min(RECONNECT_FIRST_MS * 2 ** (state.retry.attempt - 1), RECONNECT_MAX_MS);
    state.retry.timer = setTimeout(() => {
      state.retry.timer = null;
      connect({ retry: true });
    }, wait);
    setConnection("reconnecting",
      `session lost (${detail}); reconnecting in ${(wait / 1000).toFixed(1)} s (attempt ${state.retry.attempt})`);
    document.body.dataset.reconnects = String(Number(document.body.dataset.reconnects || 0) + 1);
  }

  function connect({ retry = false } = {}) {
    // A connection the user asks for replaces any pending reconnect, and
    // starts afresh: nothing will be resumed, so no position is kept.
    if (!retry) {
      cancelRetry();
      state.positions.clear();
      state.renewing.clear();
    }
    let node;
    try {
      node = nodeBase($("node-url").value);
    } catch (error) {
      showError(error.message);
      return;
    }
    if (state.ws) {
      closeSession();
      clearSubscriptions();
    }
    const wsUrl = `${node.replace(/^http/, "ws")}/on`;
    let ws;
    try {
      ws = new WebSocket(wsUrl);
    } catch (error) {
      showError(`Cannot open ${wsUrl}: ${error.message}`);
      return;
    }
    ws.binaryType = "arraybuffer";
    Object.assign(state, { ws, opened: false, closing: false, node });
    setSessionId(null);
    setConnection("connecting", `connecting to ${wsUrl}`);
    rememberNode(node);

    ws.addEventListener("open", () => {
      if (state.ws !== ws) return;
      state.opened = true;
      setConnection("open", "open, waiting for the session id");
    });
    ws.addEventListener("message", (message) => {
      if (state.ws !== ws) return;
      if (typeof message.data === "string") {
        if (state.sessionId === null) onSessionId(message.data);
        // Later Text frames carry nothing (docs/protocol.md §2): ignored.
      } else {
        onFrame(message.data);
      }
    });
    ws.addEventListener("close", (event) => {
      if (state.ws !== ws) return;
      onClosed(event, wsUrl);
    });
    // "error" is always followed by "close", which says what happened.
  }

  function onSessionId(text) {
    if (!/^[0-9a-f]{32}$/i.test(text)) {
      showError(`The node's first message is not a session id (32 hex characters): ${JSON.stringify(text.slice(0, 80))}`);
      closeSession();
      return;
    }
    setSessionId(text.toLowerCase());
    const again = state.retry.paths;
    const reconnected = state.retry.attempt > 0;
    cancelRetry();
    if (!reconnected) {
      setConnection("connected", `connected to ${state.node}`);
      return;
    }
    // A new session has no subscriptions: make the old ones again,
    // resuming each from the last frame of its stream.
    setConnection("connected", `reconnected to ${state.node}, subscribing again to ${plural(again.length, "event")}`);
    renew(again);
  }

  /**
   * The paths to renew grouped by stream, each group's path without entity
   * first, with the position to resume each from. A node queues a stream's
   * frames to a session in growing order only: the widest path must replay
   * first, or the entity paths' replays would hold back its numbers.
   */
  function resumePlan(paths) {
    const groups = new Map();
    for (const path of paths) {
      const stream = streamOf(path);
      const key = stream ? stream.key : path;
      if (!groups.has(key)) groups.set(key, []);
      // Taken now, before any answer: replayed frames move the position.
      const from = stream ? state.positions.get(stream.key) || null : null;
      groups.get(key).push({ path, from, entity: stream ? stream.entity : false });
    }
    for (const group of groups.values()) {
      group.sort((a, b) => Number(a.entity) - Number(b.entity));
    }
    return [...groups.values()];
  }

  /**
   * Subscribes again to `paths` on the new session with Rues-Resume
   * (docs/protocol.md §10): the streams at once, each stream's paths one
   * after the other; then says per path what the node answered.
   */
  async function renew(paths) {
    const session = state.sessionId;
    const plan = resumePlan(paths);
    for (const path of paths) state.renewing.add(path);
    const outcomes = new Map();
    await Promise.all(plan.map(async (group) => {
      for (const { path, from } of group) {
        if (state.sessionId !== session) return;
        outcomes.set(path, await renewOne(session, path, from));
        if (state.sessionId === session) state.renewing.delete(path);
      }
    }));
    // Lost meanwhile: the next session renews them (onClosed kept them).
    if (state.sessionId !== session) return;
    const results = paths.map((path) => ({ path, ...outcomes.get(path) }));
    say("subscribe-message", results.map(renewText).join("\n"),
      results.every((r) => r.kind === "complete") ? "ok" : "warning");
    const made = results.filter((r) => r.kind !== "failed").length;
    setConnection("connected",
      `reconnected to ${state.node}` +
      (paths.length ? ` (subscribed again: ${made} of ${paths.length}${resumeSummary(results)})` : ""));
  }

  /**
   * One path's renewal: { kind, ... } with kind "complete" (replayed),
   * "gap" (replayed, first, last), "unknown" (why: events may be lost) or
   * "failed" (why: not subscribed again).
   */
  async function renewOne(session, path, from) {
    const headers = { "Rusk-Session-Id": session };
    if (from) headers["Rues-Resume"] = `${from.epoch}:${from.seq}`;
    let reply;
    try {
      reply = await request(state.node, "GET", path, headers);
    } catch (error) {
      showError(error.message);
      return { kind: "failed", why: error.message };
    }
    if (!reply.ok) {
      const why = `${reply.status} ${reason(reply)}`;
      showError(`Subscribe ${path} again: ${why}`);
      return { kind: "failed", why };
    }
    if (state.sessionId !== session) return { kind: "failed", why: "the session ended" };
    const outcome = resumeOutcome(from, reply.resumeResult);
    addSubscription(path);
    showResume(path, outcome);
    // Noted when the node says so: its replayed events, queued before its
    // answer, are in the list already.
    if (outcome.kind !== "complete") addRow(noteRow(path, outcome.kind, lossText({ path, ...outcome })));
    return outcome;
  }

  /** What a renewal's Rues-Resume-Result says (or its absence). */
  function resumeOutcome(from, value) {
    if (!from) return { kind: "unknown", why: "nothing had arrived on its stream to resume from" };
    if (value === null) return { kind: "unknown", why: "the node does not resume (no Rues-Resume-Result)" };
    const [result, ...rest] = value.split(";").map((part) => part.trim());
    const params = {};
    for (const part of rest) {
      const at = part.indexOf("=");
      if (at > 0) params[part.slice(0, at).trim()] = part.slice(at + 1).trim();
    }
    const count = (text) => (/^[0-9]{1,20}$/.test(text || "") ? BigInt(text) : null);
    const replayed = count(params.replayed);
    if (result === "complete" && replayed !== null) return { kind: "complete", replayed };
    if (result === "gap" && replayed !== null) {
      const lost = /^([0-9]{1,20})-([0-9]{1,20})$/.exec(params.lost || "");
      if (lost) return { kind: "gap", replayed, first: BigInt(lost[1]), last: BigInt(lost[2]) };
    }
    if (result === "reset") {
      return { kind: "unknown", why: "the node has another history (restarted, or another node): nothing replayed" };
    }
    return { kind: "unknown", why: `the node answered an unreadable Rues-Resume-Result: ${value.slice(0, 120)}` };
  }

  /** The lost numbers, "5" or "5–9". */
  function lostRange({ first, last }) {
    return first === last ? `${first}` : `${first}–${last}`;
  }

  function lossText(result) {
    const stream = streamOf(result.path);
    const name = stream ? stream.key : result.path;
    if (result.kind === "gap") {
      return `lost while reconnecting: ${result.first === result.last ? "event" : "events"} ${lostRange(result)} ` +
        `of ${name} (the node could not replay them); ${plural(Number(result.replayed), "later event")} replayed`;
    }
    return `events may have been lost while reconnecting: ${result.why}`;
  }

  /** One line of the subscribe message per renewed path. */
  function renewText(result) {
    switch (result.kind) {
      case "complete":
        return `${result.path}: resumed, nothing lost (${plural(Number(result.replayed), "event")} replayed)`;
      case "gap":
        return `${result.path}: resumed, events ${lostRange(result)} of its stream lost ` +
          `(${plural(Number(result.replayed), "event")} replayed)`;
      case "unknown":
        return `${result.path}: subscribed again, events may have been lost (${result.why})`;
      default:
        return `${result.path}: not subscribed again (${result.why})`;
    }
  }

  /** The connection line's account of the renewals. */
  function resumeSummary(results) {
    const made = results.filter((r) => r.kind !== "failed");
    if (made.length === 0) return "";
    const complete = made.filter((r) => r.kind === "complete");
    if (complete.length === made.length) {
      const replayed = complete.reduce((sum, r) => sum + r.replayed, 0n);
      return `; nothing lost, ${plural(Number(replayed), "event")} replayed`;
    }
    const parts = [];
    if (complete.length) parts.push(`${complete.length} resumed with nothing lost`);
    const gaps = made.filter((r) => r.kind === "gap");
    if (gaps.length) parts.push(`events lost on ${gaps.length} (${gaps.map(lostRange).join(", ")})`);
    const unknown = made.filter((r) => r.kind === "unknown");
    if (unknown.length) parts.push(`events may have been lost on ${unknown.length}`);
    return `; ${parts.join(", ")}`;
  }

  function onClosed(event, wsUrl) {
    const why = CLOSE_CODES[event.code] || "";
    const detail = `code ${event.code}${why ? `: ${why}` : ""}${event.reason ? ` (${event.reason})` : ""}`;
    const retrying = state.retry.attempt > 0;
    let reconnect = false;
    if (!state.opened && retrying && !state.closing) {
      // The node is not back yet: try again, later.
      reconnect = true;
    } else if (!state.opened) {
      showError(
        `Could not open a session on ${wsUrl}: the node refused it or is unreachable. ` +
        "A browser does not say which; a node answers 403 to origins it does not allow " +
        `(this page's origin is ${location.origin}).`);
      setConnection("error", "refused or unreachable");
    } else if (state.closing) {
      setConnection("disconnected", `disconnected (${detail})`);
    } else {
      showError(`The session closed: ${detail}. Reconnecting; Disconnect stops it.`);
      reconnect = true;
    }
    state.ws = null;
    setSessionId(null);
    if (reconnect) {
      // With those still being renewed when this session ended.
      const paths = new Set([...state.subscriptions.keys(), ...state.renewing, ...state.retry.paths]);
      if (paths.size > 0) {
        state.retry.paths = [...paths];
        say("subscribe-message",
          `The session ended; ${plural(paths.size, "subscription")} will be resumed on reconnect.`, "info");
      }
      scheduleReconnect(detail);
    } else {
      $("disconnect").disabled = true;
      if (state.subscriptions.size > 0) {
        say("subscribe-message", "The session ended, and its subscriptions with it.", "info");
      }
    }
    state.renewing.clear();
    clearSubscriptions();
  }

  function closeSession() {
    const ws = state.ws;
    if (!ws && state.retry.timer !== null) {
      cancelRetry();
      setConnection("disconnected", "disconnected (reconnecting stopped)");
      return;
    }
    cancelRetry();
    if (!ws) return;
    state.closing = true;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) {
      ws.close(1000, "explorer disconnect");
    }
  }

  /** Keeps ?node= in the address bar when the node is not this page's origin. */
  function rememberNode(node) {
    if (!window.history || !/^https?:$/.test(location.protocol)) return;
    const url = new URL(location.href);
    if (node === location.origin) url.searchParams.delete("node");
    else url.searchParams.set("node", node);
    if (url.href !== location.href) history.replaceState(null, "", url.href);
  }

  // ---- subscriptions -------------------------------------------------

  function clearSubscriptions() {
    state.subscriptions.clear();
    $("subscriptions").replaceChildren();
    renderSubscriptionCount();
  }

  function renderSubscriptionCount() {
    $("subscription-count").textContent = String(state.subscriptions.size);
    $("no-subscriptions").hidden = state.subscriptions.size > 0;
  }

  function addSubscription(path) {
    if (state.subscriptions.has(path)) return;
    const item = element("li", { className: "subscription", "data-path": path });
    const button = element("button", {
      type: "button",
      className: "secondary small",
      "aria-label": `Unsubscribe from ${path}`,
    }, "Unsubscribe");
    button.addEventListener("click", () => changeSubscription(path, false));
    item.append(element("code", { className: "path" }, path), button);
    $("subscriptions").append(item);
    state.subscriptions.set(path, item);
    renderSubscriptionCount();
  }

  /** Shows on the subscription's item what its renewal got back. */
  function showResume(path, outcome) {
    const item = state.subscriptions.get(path);
    if (!item) return;
    const text = {
      complete: () => `resumed · ${Number(outcome.replayed)} replayed`,
      gap: () => `lost ${lostRange(outcome)}`,
      unknown: () => "events may be lost",
    }[outcome.kind];
    if (!text) return;
    item.dataset.resume = outcome.kind;
    if (outcome.replayed !== undefined) item.dataset.replayed = String(outcome.replayed);
    const badge = element("span", { className: "resume", "data-resume": outcome.kind }, text());
    if (outcome.why) badge.title = outcome.why;
    item.querySelector(".path").after(badge);
  }

  function removeSubscription(path) {
    const item = state.subscriptions.get(path);
    if (item) item.remove();
    state.subscriptions.delete(path);
    renderSubscriptionCount();
  }

  async function changeSubscription(path, subscribe) {
    const verb = subscribe ? "Subscribe" : "Unsubscribe";
    if (!state.sessionId) {
      const message = `${verb}: connect first, subscriptions belong to a session.`;
      say("subscribe-message", message, "error");
      showError(message);
      return;
    }
    say("subscribe-message", `${verb === "Subscribe" ? "Subscribing to" : "Unsubscribing from"} ${path} …`, "pending");
    try {
      const reply = await request(state.node, subscribe ? "GET" : "DELETE", path, {
        "Rusk-Session-Id": state.sessionId,
      });
      if (reply.ok) {
        if (subscribe) addSubscription(path);
        else removeSubscription(path);
        say("subscribe-message", `${subscribe ? "Subscribed to" : "Unsubscribed from"} ${path} (${reply.status}).`, "ok");
      } else {
        const message = `${verb} ${path}: ${reply.status} ${reason(reply)}`;
        if (!subscribe && reply.status === 404) removeSubscription(path);
        say("subscribe-message", message, "error");
        showError(message);
      }
    } catch (error) {
      say("subscribe-message", error.message, "error");
      showError(error.message);
    }
  }

  // ---- events --------------------------------------------------------

  function header(headers, name) {
    for (const [key, value] of Object.entries(headers)) {
      if (key.toLowerCase() === name) return value;
    }
    return undefined;
  }

  /** Decodes an event frame (docs/protocol.md §6); throws on malformed input. */
  function decodeFrame(buffer) {
    if (buffer.byteLength < 4) {
      throw new Error(`a frame of ${buffer.byteLength} bytes has no header length`);
    }
    const length = new DataView(buffer).getUint32(0, true);
    if (length > buffer.byteLength - 4) {
      throw new Error(`header length ${length} exceeds the frame (${buffer.byteLength} bytes)`);
    }
    let headers;
    try {
      headers = JSON.parse(utf8.decode(new Uint8Array(buffer, 4, length)));
    } catch (error) {
      throw new Error(`the headers are not UTF-8 JSON: ${error.message}`);
    }
    if (headers === null || typeof headers !== "object" || Array.isArray(headers)) {
      throw new Error("the headers are not a JSON object");
    }
    for (const [key, value] of Object.entries(headers)) {
      if (typeof value !== "string") throw new Error(`header ${key} is not a string`);
    }
    const payload = new Uint8Array(buffer, 4 + length);
    const declared = header(headers, "content-length");
    if (declared !== undefined && Number(declared) !== payload.length) {
      throw new Error(`Content-Length ${declared} but the payload has ${payload.length} bytes`);
    }
    return { headers, payload };
  }

  // ---- the events-per-second chart ----------------------------------

  /** Moves the chart's window to the current second. */
  function rollRate() {
    const now = Math.floor(Date.now() / 1000);
    const steps = Math.min(now - state.rateSecond, RATE_SECONDS);
    for (let i = 0; i < steps; i++) {
      state.rate.shift();
      state.rate.push(0);
    }
    if (now > state.rateSecond) state.rateSecond = now;
  }

  function renderRate() {
    rollRate();
    const svg = $("rate-chart");
    if (svg.childElementCount !== RATE_SECONDS) {
      const bars = [];
      for (let i = 0; i < RATE_SECONDS; i++) {
        bars.push(document.createElementNS("http://www.w3.org/2000/svg", "rect"));
      }
      svg.replaceChildren(...bars);
    }
    const max = Math.max(1, ...state.rate);
    const width = 300 / RATE_SECONDS;
    state.rate.forEach((count, i) => {
      const bar = svg.children[i];
      const height = (count / max) * 46;
      bar.setAttribute("x", String(i * width + 0.5));
      bar.setAttribute("width", String(width - 1));
      bar.setAttribute("y", String(48 - height));
      bar.setAttribute("height", String(height));
    });
    const total = state.rate.reduce((a, b) => a + b, 0);
    // The last complete second: the current one is still filling.
    const last = state.rate[RATE_SECONDS - 2];
    svg.dataset.total = String(total);
    svg.dataset.last = String(last);
    svg.dataset.max = String(max);
    $("rate-text").textContent =
      `${last} events/s · ${total} in the last ${RATE_SECONDS} s · peak ${Math.max(...state.rate)}/s`;
  }

  function countRate() {
    rollRate();
    state.rate[RATE_SECONDS - 1] += 1;
  }

  // ---- the strip of recent blocks -------------------------------------

  /** Updates the strip from a block event; other events are ignored. */
  function trackBlock(headers, payload) {
    const location = header(headers, "content-location") || "";
    const match = /^\/on\/blocks:([0-9a-f]{64})\/(accepted|statechange|reverted)$/i.exec(location);
    if (!match) return;
    const [, hash, topic] = match;
    let body;
    try {
      body = JSON.parse(utf8.decode(payload));
    } catch {
      return; // Not the JSON the demo chain and rusk publish: nothing to show.
    }
    if (topic === "accepted") {
      const height = body && body.header ? body.header.height : undefined;
      const txs = body && Array.isArray(body.transactions) ? body.transactions.length : 0;
      addBlock(hash.toLowerCase(), height, txs);
    } else {
      const item = state.blocks.get(hash.toLowerCase());
      if (!item) return; // Accepted before the strip saw it.
      setFinality(item, topic === "reverted" ? "reverted" : String((body && body.state) || "unknown"));
    }
  }

  function addBlock(hash, height, txs) {
    if (state.blocks.has(hash)) return;
    const item = element("li", {
      className: "block",
      "data-hash": hash,
      "data-height": String(height),
      "data-txs": String(txs),
      title: `block ${hash}`,
    });
    item.append(
      element("span", { className: "block-height" }, `#${height}`),
      element("span", { className: "block-txs" }, plural(txs, "tx")),
      element("span", { className: "block-finality" }));
    setFinality(item, "accepted");
    const strip = $("blocks");
    strip.prepend(item);
    state.blocks.set(hash, item);
    while (strip.children.length > MAX_BLOCKS) {
      state.blocks.delete(strip.lastElementChild.dataset.hash);
      strip.lastElementChild.remove();
    }
    $("no-blocks").hidden = true;
  }

  function setFinality(item, finality) {
    item.dataset.finality = finality;
    item.querySelector(".block-finality").textContent = finality;
  }

  async function followBlocks() {
    for (const topic of ["accepted", "statechange"]) {
      const path = `/on/blocks/${topic}`;
      if (!state.subscriptions.has(path)) await changeSubscription(path, true);
    }
  }

  /**
   * Records that a frame of `location`'s stream arrived; false when one at
   * its number or past it already had (a duplicate: dropped). Frames
   * without numbers (a node without resume) are always new.
   */
  function advance(location, headers) {
    const seqText = header(headers, "rues-seq");
    const epochText = header(headers, "rues-epoch");
    if (seqText === undefined && epochText === undefined) return true;
    const seq = /^[0-9]{1,20}$/.test(seqText || "") ? BigInt(seqText) : null;
    const epoch = /^[0-9a-f]{16}$/i.test(epochText || "") ? epochText.toLowerCase() : null;
    if (seq === null || seq > MAX_SEQ || epoch === null) {
      showError(`An event of ${location || "(no Content-Location)"} has a malformed Rues-Seq or Rues-Epoch ` +
        `(${JSON.stringify(String(seqText).slice(0, 40))}, ${JSON.stringify(String(epochText).slice(0, 40))}): ` +
        "it is shown, but its stream cannot be resumed from it.");
      return true;
    }
    const stream = streamOf(location);
    if (!stream) return true;
    const last = state.positions.get(stream.key);
    if (last && last.epoch === epoch && seq <= last.seq) return false;
    // Another epoch is another numbering (the node restarted): it replaces
    // the old one. Re-inserted, so the oldest stream is the first key.
    state.positions.delete(stream.key);
    state.positions.set(stream.key, { epoch, seq });
    if (state.positions.size > MAX_STREAMS) state.positions.delete(state.positions.keys().next().value);
    return true;
  }

  function onFrame(buffer) {
    let item;
    try {
      const frame = decodeFrame(buffer);
      const location = header(frame.headers, "content-location") || "";
      if (!advance(location, frame.headers)) {
        state.duplicates += 1;
        document.body.dataset.duplicates = String(state.duplicates);
        return;
      }
      const gap = header(frame.headers, "rues-gap");
      if (gap !== undefined) {
        // A notice, not an event: the node (a relay that lost its upstream,
        // say) could not deliver events of this stream.
        addRow(noteRow(location, "notice",
          `the node lost events of ${location || "(no Content-Location)"}: ${gap || "no reason given"}`), false);
        return;
      }
      trackBlock(frame.headers, frame.payload);
      item = renderEvent(frame);
    } catch (error) {
      const message = `A malformed event frame (${buffer.byteLength} bytes): ${error.message}`;
      showError(message);
      item = element("li", { className: "event malformed", "data-kind": "malformed" });
      const head = rowHead(clock(), "malformed frame", "", buffer.byteLength);
      const body = element("div", { className: "event-body" });
      body.append(
        element("p", { className: "event-error" }, message),
        element("pre", { className: "payload", "data-kind": "hex", tabindex: "0" }, hex(new Uint8Array(buffer))));
      item.append(head, body);
    }
    state.eventCount += 1;
    $("event-count").textContent = String(state.eventCount);
    countRate();
    addRow(item, true);
  }

  /** Adds a row to the list (an event's, or a note), or holds it while paused. */
  function addRow(item, isEvent = false) {
    $("no-events").hidden = true;
    applyFilter(item);
    if (state.paused) {
      if (isEvent) state.heldCount += 1;
      state.heldRows += 1;
      state.held.push(item);
      if (state.held.length > MAX_EVENTS) state.held.shift();
      renderPause();
      return;
    }
    showRow(item);
  }

  /**
   * A note in the event list about `path` (kind "gap": the resume lost
   * events; "unknown": events may have been lost; "notice": the node's
   * Rues-Gap notice).
   */
  function noteRow(path, kind, text) {
    const item = element("li", { className: "event note", "data-kind": kind, "data-location": path });
    const line = element("p", { className: "event-note" });
    line.append(element("time", {}, clock()), element("code", { className: "location" }, path),
      element("span", { className: "note-text" }, text));
    item.append(line);
    return item;
  }

  function showRow(item) {
    const list = $("events");
    list.prepend(item);
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  }

  /** Hides a row whose path does not contain the filter text. */
  function applyFilter(item) {
    const path = (item.dataset.location || "").toLowerCase();
    item.hidden = state.filter !== "" && !path.includes(state.filter);
  }

  function setFilter(text) {
    state.filter = text.trim().toLowerCase();
    for (const item of $("events").children) applyFilter(item);
  }

  /** While paused, events are counted and kept aside; resume shows them. */
  function setPaused(paused) {
    state.paused = paused;
    const button = $("pause");
    button.textContent = paused ? "Resume" : "Pause";
    button.setAttribute("aria-pressed", String(paused));
    if (!paused) {
      for (const item of state.held) showRow(item);
      const dropped = state.heldRows - state.held.length;
      say("pause-state", state.heldCount === 0 ? ""
        : `resumed: ${plural(state.heldCount, "event")} received while paused`
          + (dropped > 0 ? ` (${dropped} oldest dropped)` : ""), "info");
      state.held = [];
      state.heldCount = 0;
      state.heldRows = 0;
    } else {
      renderPause();
    }
    document.body.dataset.paused = String(paused);
  }

  function renderPause() {
    say("pause-state", `paused: ${plural(state.heldCount, "event")} waiting`, "paused");
  }

  function toggleRow(item) {
    const expanded = !item.classList.contains("expanded");
    item.classList.toggle("expanded", expanded);
    const head = item.querySelector(".event-head");
    if (head) head.setAttribute("aria-expanded", String(expanded));
  }

  /** The one-line summary of an event: time, path, content type, size. */
  function rowHead(time, path, contentType, size) {
    const head = element("button", {
      type: "button",
      className: "event-head",
      "aria-expanded": "false",
    });
    head.append(
      element("time", {}, time),
      element("code", { className: "location" }, path),
      element("span", { className: "content-type" }, contentType || "no Content-Type"),
      element("span", { className: "content-length" }, plural(size, "byte")));
    return head;
  }

  function renderEvent({ headers, payload }) {
    const location = header(headers, "content-location") || "(no Content-Location)";
    const contentType = header(headers, "content-type") || "";
    const shown = describe(payload, contentType);
    const item = element("li", {
      className: "event",
      "data-location": location,
      "data-content-type": contentType,
      "data-kind": shown.kind,
    });
    // Every header, as received, in the expanded view.
    const list = element("dl", { className: "event-headers" });
    for (const [key, value] of Object.entries(headers)) {
      list.append(element("dt", {}, key), element("dd", {}, value));
    }
    const body = element("div", { className: "event-body" });
    body.append(list,
      element("pre", { className: "payload", "data-kind": shown.kind, tabindex: "0" }, shown.text));
    item.append(rowHead(clock(), location, contentType, payload.length), body);
    return item;
  }

  // ---- dispatch ------------------------------------------------------

  async function dispatch() {
    const output = $("dispatch-output");
    // A counter of dispatches, so a reader can tell this reply from the last.
    output.dataset.seq = String(Number(output.dataset.seq || 0) + 1);
    const show = (status, kind, contentType, text) => {
      output.dataset.state = kind;
      $("dispatch-status").textContent = status;
      $("dispatch-content-type-out").textContent = contentType;
      $("dispatch-result").textContent = text;
    };
    let node;
    let path;
    let body;
    const headers = {};
    try {
      node = state.node && state.ws ? state.node : nodeBase($("node-url").value);
      path = eventPath($("dispatch-path").value);
      const contentType = $("dispatch-content-type").value;
      const text = $("dispatch-body").value;
      body = contentType === "application/octet-stream" ? fromHex(text) : text;
      headers["Content-Type"] = contentType;
      if ($("dispatch-raw").checked) headers.Accept = "application/octet-stream";
      if ($("dispatch-with-session").checked) {
        if (!state.sessionId) throw new Error("no session to send: connect first, or uncheck the session id");
        headers["Rusk-Session-Id"] = state.sessionId;
      }
    } catch (error) {
      show("not sent", "error", "", error.message);
      showError(`Dispatch: ${error.message}`);
      return;
    }
    show("sending …", "pending", "", `POST ${node}${path}`);
    $("dispatch").disabled = true;
    try {
      const reply = await request(node, "POST", path, headers, body);
      const shown = describe(reply.bytes, reply.contentType);
      const status = `${reply.status} ${reply.statusText}`.trim();
      if (reply.ok) {
        const text = reply.status === 202 && reply.bytes.length === 0
          ? "(accepted, nothing to return)" : shown.text;
        show(status, "ok", reply.contentType, text);
      } else {
        show(status, "error", reply.contentType, shown.text);
        showError(`Dispatch ${path}: ${reply.status} ${reason(reply)}`);
      }
      $("dispatch-result").dataset.kind = shown.kind;
    } catch (error) {
      show("no answer", "error", "", error.message);
      showError(error.message);
    } finally {
      $("dispatch").disabled = false;
    }
  }

  // The body and format the last suggestion filled in, so that choosing
  // another suggestion replaces it, while a body the user typed is kept.
  let presetBody = "";

  // A suggestion of the dispatch list may carry an example body
  // (`data-body`) and its format (`data-content-type`): choosing it fills
  // them in, unless the user has written a body of their own.
  function applyDispatchPreset() {
    const value = $("dispatch-path").value;
    const option = [...$("dispatch-suggestions").options].find((o) => o.value === value);
    if (!option) return;
    const body = $("dispatch-body");
    if (body.value !== "" && body.value !== presetBody) return;
    presetBody = option.dataset.body || "";
    body.value = presetBody;
    $("dispatch-content-type").value = option.dataset.contentType || "text/plain";
  }

  // ---- wiring --------------------------------------------------------

  function start() {
    $("rusk-version").textContent = RUSK_VERSION;
    $("event-limit").textContent = String(MAX_EVENTS);
    const fromQuery = new URLSearchParams(location.search).get("node");
    $("node-url").value = fromQuery
      || (/^https?:$/.test(location.protocol) ? location.origin : "http://127.0.0.1:8080");

    $("connect-form").addEventListener("submit", (event) => {
      event.preventDefault();
      connect();
    });
    $("disconnect").addEventListener("click", closeSession);
    $("subscribe-form").addEventListener("submit", (event) => {
      event.preventDefault();
      try {
        changeSubscription(eventPath($("subscribe-target").value), true);
      } catch (error) {
        say("subscribe-message", error.message, "error");
      }
    });
    $("unsubscribe").addEventListener("click", () => {
      try {
        changeSubscription(eventPath($("subscribe-target").value), false);
      } catch (error) {
        say("subscribe-message", error.message, "error");
      }
    });
    $("dispatch-form").addEventListener("submit", (event) => {
      event.preventDefault();
      dispatch();
    });
    for (const kind of ["input", "change"]) {
      $("dispatch-path").addEventListener(kind, applyDispatchPreset);
    }
    $("events").addEventListener("click", (event) => {
      const head = event.target.closest(".event-head");
      if (head) toggleRow(head.closest(".event"));
    });
    // "change" too: clearing a field from a script or a tool fires only that.
    for (const kind of ["input", "change"]) {
      $("event-filter").addEventListener(kind, (event) => setFilter(event.target.value));
    }
    $("pause").addEventListener("click", () => setPaused(!state.paused));
    $("follow-blocks").addEventListener("click", followBlocks);
    renderRate();
    setInterval(renderRate, 1000);
    $("clear-events").addEventListener("click", () => {
      state.eventCount = 0;
      $("event-count").textContent = "0";
      $("events").replaceChildren();
      $("no-events").hidden = false;
      // Rows held by a pause are cleared too, not shown on resume.
      state.held = [];
      state.heldCount = 0;
      state.heldRows = 0;
      if (state.paused) renderPause();
    });
    $("clear-errors").addEventListener("click", () => {
      $("error-list").replaceChildren();
      $("errors").hidden = true;
    });
    renderSubscriptionCount();
    setConnection("disconnected", "disconnected");
    document.body.dataset.ready = "true";
  }

  start();
})();
