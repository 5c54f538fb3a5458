// The chat page: plain JavaScript, no build step, everything from this server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  sessionId: localStorage.getItem("ragstream.session") || null,
  apiKey: localStorage.getItem("ragstream.key") || "",
  controller: null,   // the AbortController of the answer being streamed
  rewritten: false,
  sourceCount: 0,     // cards shown for the current answer
};

// -- talking to the server ----------------------------------------------------

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (state.apiKey) h["Authorization"] = "Bearer " + state.apiKey;
  return h;
}

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function errorFrom(response) {
  let message = response.status + " " + response.statusText;
  try {
    const body = await response.json();
    const detail = body.message || body.detail || (body.error && body.error.message);
    if (typeof detail === "string") message = detail;
    else if (Array.isArray(detail) && detail.length) message = detail[0].msg;
  } catch (_) { /* not JSON */ }
  if (response.status === 401) askForKey();
  return new HttpError(response.status, message);
}

async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = headers(opts.headers);
  let response;
  try {
    response = await fetch(path, opts);
  } catch (err) {
    throw new Error("Cannot reach the server. Is it still running?");
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

// Read a server-sent event stream from a fetch response, calling onEvent(name, data).
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      let name = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (!line || line.startsWith(":")) continue;  // keep-alive comments
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = text;
        else if (field === "data") data.push(text);
      }
      if (!data.length && name === "message") continue;
      let parsed = null;
      if (data.length) {
        try { parsed = JSON.parse(data.join("\n")); } catch (_) { parsed = data.join("\n"); }
      }
      if (onEvent(name, parsed) === false) return;
    }
  }
}

// -- messages -------------------------------------------------------------------

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() { $("error").hidden = true; $("error").textContent = ""; }

function addMessage(role, text, opts) {
  const welcome = $("welcome");
  if (welcome) welcome.remove();
  const item = document.createElement("li");
  item.className = "message " + role;
  const who = document.createElement("div");
  who.className = "who";
  who.textContent = role === "user" ? "You" : "Answer";
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text || "";
  item.append(who, body);
  if (opts && opts.incomplete) markIncomplete(item, "Stopped — this answer is incomplete.");
  $("messages").append(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

function markIncomplete(item, note) {
  item.classList.add("incomplete");
  let tag = item.querySelector(".note");
  if (!tag) {
    tag = document.createElement("div");
    tag.className = "note";
    item.append(tag);
  }
  tag.textContent = note;
}

// -- steps panel ----------------------------------------------------------------

function resetSteps() {
  state.rewritten = false;
  const rewrite = $("rewrite");
  rewrite.textContent = "";
  rewrite.classList.remove("muted");
  rewrite.classList.add("live");
  $("rewrite-kind").textContent = "";
  $("sources").replaceChildren();
  $("source-count").textContent = "";
  $("timings").textContent = "";
  state.sourceCount = 0;
  // the cards the earlier answers' markers pointed to are gone: the links go too
  for (const link of document.querySelectorAll("#messages a.cite")) {
    link.replaceWith(document.createTextNode(link.textContent));
  }
}

function onRewrite(text) {
  if (!state.rewritten) {
    state.rewritten = true;
    $("rewrite").textContent = "";
    $("rewrite-kind").textContent = "rewritten from the conversation";
  }
  $("rewrite").textContent += text;
}

function onQuery(text) {
  const rewrite = $("rewrite");
  rewrite.classList.remove("live");
  if (!state.rewritten) {
    rewrite.textContent = text;
    $("rewrite-kind").textContent = "as asked";
  }
}

function renderSources(cards) {
  const box = $("sources");
  box.replaceChildren();
  $("source-count").textContent = String(cards.length);
  if (!cards.length) {
    const none = document.createElement("p");
    none.className = "muted";
    none.textContent = "No documents matched.";
    box.append(none);
    return;
  }
  state.sourceCount = cards.length;
  for (const card of cards) {
    const el = document.createElement("article");
    el.className = "source-card";
    el.id = "source-" + card.rank;
    el.tabIndex = -1;  // a citation link moves the focus here
    const head = document.createElement("div");
    head.className = "source-head";
    const rank = document.createElement("span");
    rank.className = "rank";
    rank.textContent = "[" + card.rank + "]";
    const title = document.createElement(card.link ? "a" : "span");
    title.className = "source-title";
    title.textContent = card.title;
    if (card.link) {
      title.href = card.link;
      title.target = "_blank";
      title.rel = "noopener noreferrer";
    }
    head.append(rank, title);
    if (typeof card.score === "number") {
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = card.score.toFixed(2);
      score.title = "relevance score";
      head.append(score);
    }
    const snippet = document.createElement("p");
    snippet.className = "snippet";
    snippet.textContent = card.snippet;
    el.append(head, snippet);
    if (card.source && !card.link) {
      const src = document.createElement("div");
      src.className = "source-path muted";
      // the server shows files relative to the collection's folder; a full
      // path (a server run with full source paths) is cut to folder/name
      const absolute = /^([\\/]|[A-Za-z]:[\\/])/.test(card.source);
      src.textContent = absolute ? card.source.split(/[\\/]/).slice(-2).join("/") : card.source;
      src.title = card.source;
      el.append(src);
    }
    box.append(el);
  }
}

// -- citations ------------------------------------------------------------------

// Where a marker ends, counted in UTF-16 units (the server counts characters).
function utf16Index(text, characters) {
  let i = 0;
  for (let n = 0; n < characters && i < text.length; n++) {
    i += text.codePointAt(i) > 0xffff ? 2 : 1;
  }
  return i;
}

function markCited(index) {
  const card = $("source-" + index);
  if (!card) return;
  if (!card.classList.contains("cited")) {
    card.classList.add("cited");
    const tag = document.createElement("span");
    tag.className = "cited-tag";
    tag.textContent = "cited";
    card.querySelector(".source-head").append(tag);
  }
  // replay the flash for every new citation of this card
  card.classList.remove("just-cited");
  void card.offsetWidth;
  card.classList.add("just-cited");
  const count = document.querySelectorAll("#sources .source-card.cited").length;
  $("source-count").textContent = state.sourceCount + " · " + count + " cited";
}

function focusSource(index) {
  const card = $("source-" + index);
  if (!card) return;
  card.scrollIntoView({ block: "nearest", behavior: "smooth" });
  card.focus({ preventScroll: true });
  for (const other of document.querySelectorAll("#sources .focused")) {
    other.classList.remove("focused");
  }
  card.classList.add("focused");
}

function citeLink(index, text) {
  const link = document.createElement("a");
  link.className = "cite";
  link.href = "#source-" + index;
  link.dataset.index = String(index);
  link.textContent = text;
  const card = $("source-" + index);
  const title = card && card.querySelector(".source-title");
  link.title = "Source " + index + (title ? ": " + title.textContent : "");
  return link;
}

// A marker as written, its cited numbers made links ("[1]" whole; "[1, 2]" each number).
function markerNodes(marker, indices) {
  if (indices.length === 1 && (marker.match(/\d+/g) || []).length === 1) {
    return [citeLink(indices[0], marker)];
  }
  const nodes = [];
  let last = 0;
  for (const m of marker.matchAll(/\d+/g)) {
    const n = Number(m[0]);
    if (!indices.includes(n)) continue;
    if (m.index > last) nodes.push(document.createTextNode(marker.slice(last, m.index)));
    nodes.push(citeLink(n, m[0]));
    last = m.index + m[0].length;
  }
  if (last < marker.length) nodes.push(document.createTextNode(marker.slice(last)));
  return nodes;
}

// The answer's text again, with each cited marker's numbers as links to their cards.
function renderAnswer(answer) {
  const raw = answer.raw;
  const marks = [...answer.marks.values()].sort((a, b) => a.start - b.start);
  const nodes = [];
  let at = 0;
  for (const mark of marks) {
    if (mark.start < at) continue;
    if (mark.start > at) nodes.push(document.createTextNode(raw.slice(at, mark.start)));
    const span = document.createElement("span");
    span.className = "marker";
    span.append(...markerNodes(raw.slice(mark.start, mark.end), mark.indices));
    nodes.push(span);
    at = mark.end;
  }
  if (at < raw.length) nodes.push(document.createTextNode(raw.slice(at)));
  answer.querySelector(".text").replaceChildren(...nodes);
}

function onCitation(answer, data) {
  markCited(data.index);
  const end = utf16Index(answer.raw, data.offset);
  const start = end - data.marker.length;
  if (answer.raw.slice(start, end) !== data.marker) return;  // not where it was said to be
  const mark = answer.marks.get(end) || { start: start, end: end, indices: [] };
  if (!mark.indices.includes(data.index)) mark.indices.push(data.index);
  answer.marks.set(end, mark);
  renderAnswer(answer);
}

function appendText(el, text) {
  const last = el.lastChild;
  if (last && last.nodeType === Node.TEXT_NODE) last.appendData(text);
  else el.append(document.createTextNode(text));
}

function showTimings(done) {
  const t = done.timings || {};
  const parts = [];
  if (typeof t.first_token_s === "number") parts.push("first token " + t.first_token_s.toFixed(2) + " s");
  if (typeof t.total_s === "number") parts.push("total " + t.total_s.toFixed(2) + " s");
  if (done.usage && done.usage.total_tokens) parts.push(done.usage.total_tokens + " tokens");
  $("timings").textContent = parts.join(" · ");
}

// -- asking ---------------------------------------------------------------------

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
  $("question").disabled = busy;
  document.body.classList.toggle("busy", busy);
}

async function ask(question) {
  clearError();
  resetSteps();
  addMessage("user", question);
  const answer = addMessage("assistant", "");
  answer.classList.add("streaming");
  answer.raw = "";  // the answer as streamed, and its cited markers by where they end
  answer.marks = new Map();
  const text = answer.querySelector(".text");
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  let finished = false;
  try {
    const response = await api("/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
      body: JSON.stringify({ question: question, session_id: state.sessionId }),
      signal: controller.signal,
    });
    await readEvents(response, (name, data) => {
      switch (name) {
        case "session":
          state.sessionId = data.session_id;
          localStorage.setItem("ragstream.session", data.session_id);
          break;
        case "rewrite": onRewrite(data.text); break;
        case "query": onQuery(data.text); break;
        case "sources": renderSources(data.sources); break;
        case "token":
          answer.raw += data.text;
          appendText(text, data.text);  // (not textContent +=: it would drop the links)
          answer.scrollIntoView({ block: "end" });
          break;
        case "citation": onCitation(answer, data); break;
        case "done":
          finished = true;
          for (const index of data.citations || []) {
            if (!$("source-" + index) || !$("source-" + index).classList.contains("cited")) {
              markCited(index);
            }
          }
          showTimings(data);
          if (data.incomplete) markIncomplete(answer, "This answer is incomplete.");
          break;
        case "error":
          finished = true;
          answer.classList.add("failed");
          markIncomplete(answer, "The answer failed.");
          showError(data && data.message ? data.message : "The answer failed.");
          return false;
        case "end": return false;
      }
      return true;
    });
    if (!finished) {
      markIncomplete(answer, "The connection ended before the answer was complete.");
    }
  } catch (err) {
    if (err.name === "AbortError") {
      markIncomplete(answer, "Stopped — this answer is incomplete.");
    } else {
      answer.classList.add("failed");
      markIncomplete(answer, "The answer failed.");
      showError(err.message);
    }
  } finally {
    answer.classList.remove("streaming");
    $("rewrite").classList.remove("live");
    state.controller = null;
    setBusy(false);
    $("question").focus();
    loadSessions();
  }
}

function stop() {
  if (state.controller) state.controller.abort();
}

// -- sessions -------------------------------------------------------------------

async function loadSessions() {
  let sessions = [];
  try {
    sessions = (await (await api("/sessions")).json()).sessions;
  } catch (err) {
    if (err.status !== 401) showError(err.message);
    return;
  }
  const list = $("sessions");
  list.replaceChildren();
  $("no-sessions").hidden = sessions.length > 0;
  for (const s of sessions) {
    const item = document.createElement("li");
    item.className = "session" + (s.id === state.sessionId ? " current" : "");
    const open = document.createElement("button");
    open.type = "button";
    open.className = "session-open";
    open.textContent = s.title || "(untitled)";
    open.title = s.message_count + " messages";
    open.addEventListener("click", () => openSession(s.id));
    const del = document.createElement("button");
    del.type = "button";
    del.className = "session-delete ghost";
    del.textContent = "×";
    del.title = "Delete this conversation";
    del.addEventListener("click", () => deleteSession(s.id));
    item.append(open, del);
    list.append(item);
  }
}

async function openSession(id, quiet) {
  if (state.controller) return;
  clearError();
  let data;
  try {
    data = await (await api("/sessions/" + encodeURIComponent(id))).json();
  } catch (err) {
    if (quiet) newChat();  // a remembered conversation that is gone: start afresh
    else showError(err.message);
    return;
  }
  state.sessionId = id;
  localStorage.setItem("ragstream.session", id);
  $("messages").replaceChildren();
  for (const m of data.messages) {
    addMessage(m.type === "human" ? "user" : "assistant", m.content, { incomplete: m.incomplete });
  }
  loadSessions();
}

async function deleteSession(id) {
  try {
    await api("/sessions/" + encodeURIComponent(id), { method: "DELETE" });
  } catch (err) {
    showError(err.message);
    return;
  }
  if (id === state.sessionId) newChat();
  loadSessions();
}

function newChat() {
  if (state.controller) return;
  state.sessionId = null;
  localStorage.removeItem("ragstream.session");
  $("messages").replaceChildren();
  resetSteps();
  $("rewrite").classList.remove("live");
  $("rewrite").classList.add("muted");
  $("rewrite").textContent = "Ask a question to see the steps.";
  clearError();
  loadSessions();
  $("question").focus();
}

// -- ingest ---------------------------------------------------------------------

async function ingest(urls) {
  const status = $("ingest-status");
  status.textContent = "Starting…";
  $("ingest-start").disabled = true;
  try {
    const job = await (await api("/ingest", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ urls: urls }),
    })).json();
    const events = await api(job.events_url, { headers: { "Accept": "text/event-stream" } });
    await readEvents(events, (name, data) => {
      if (name === "progress") {
        const total = data.total ? "/" + data.total : "";
        status.textContent = data.stage + " " + (data.done ?? "") + total +
          (data.source ? " — " + data.source : "");
      } else if (name === "done") {
        status.textContent = describeReport(data);
        clearError();
        loadInfo();  // the collection may hold documents now
      } else if (name === "error") {
        status.textContent = "Failed: " + data.message;
        return false;
      } else if (name === "end") {
        return false;
      }
      return true;
    });
  } catch (err) {
    status.textContent = "Failed: " + err.message;
  } finally {
    $("ingest-start").disabled = false;
  }
}

function describeReport(report) {
  if (!report || typeof report !== "object") return "Done.";
  const parts = [];
  for (const key of ["added", "updated", "skipped", "deleted"]) {
    const value = report[key];
    if (typeof value === "number" && (value || key === "added")) parts.push(key + " " + value);
  }
  let text = "Done" + (parts.length ? ": chunks " + parts.join(", ") : "") + ".";
  const failures = report.failures || [];
  for (const f of failures) text += "\n" + (f.source || "") + ": " + (f.reason || f.message || "");
  return text;
}

// -- API key --------------------------------------------------------------------

function askForKey() {
  const dialog = $("key-dialog");
  if (!dialog.open) dialog.showModal();
}

// -- start ----------------------------------------------------------------------

async function loadInfo() {
  try {
    const info = await (await api("/info")).json();
    $("model").textContent = info.model;
    $("model").classList.toggle("offline", !!info.offline);
    $("collection").textContent = info.collection ? "collection: " + info.collection : "";
    if (info.documents === false) {
      showError("The collection " + (info.collection ? "\u201c" + info.collection + "\u201d " : "") +
        "holds no documents yet: add web pages under \u201cAdd web pages\u201d, or run " +
        "ragstream ingest on the server.");
    }
  } catch (err) {
    $("model").textContent = "not connected";
    if (err.status !== 401) showError(err.message);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask").addEventListener("submit", (e) => {
    e.preventDefault();
    const question = $("question").value.trim();
    if (!question || state.controller) return;
    $("question").value = "";
    ask(question);
  });
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("ask").requestSubmit();
    }
  });
  $("stop").addEventListener("click", stop);
  $("messages").addEventListener("click", (e) => {
    const link = e.target.closest("a.cite");
    if (!link) return;
    e.preventDefault();
    focusSource(link.dataset.index);
  });
  $("new-chat").addEventListener("click", newChat);
  $("ingest-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const urls = $("ingest-urls").value.split(/\s+/).filter(Boolean);
    if (urls.length) ingest(urls);
  });
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.apiKey = $("key-input").value.trim();
    localStorage.setItem("ragstream.key", state.apiKey);
    $("key-dialog").close();
    loadInfo();
    loadSessions();
  });
  loadInfo();
  loadSessions().then(() => {
    if (state.sessionId) openSession(state.sessionId, true);
  });
});
