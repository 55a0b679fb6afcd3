// Frontdesk keyboard shortcuts and small enhancements. Everything works without this file.
(function () {
  "use strict";
  function typing(e) {
    var t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.row")); }
  var current = -1;
  function select(i) {
    var r = rows();
    if (!r.length) return;
    current = Math.max(0, Math.min(r.length - 1, i));
    r.forEach(function (row, j) { row.classList.toggle("selected", j === current); });
    r[current].scrollIntoView({ block: "nearest" });
  }
  function submit(id) { var f = document.getElementById(id); if (f) f.submit(); }
  function focus(id) { var el = document.getElementById(id); if (el) { el.focus(); el.scrollIntoView({ block: "center" }); } }
  // "g" then a digit within 1.5 s opens that view of the inbox sidebar (data-view-key).
  var gAt = 0;
  document.addEventListener("keydown", function (e) {
    if (e.metaKey || e.ctrlKey || e.altKey) return;
    var help = document.getElementById("help");
    if (e.key === "Escape" && help) { help.hidden = true; return; }
    if (typing(e)) return;
    if (gAt && Date.now() - gAt < 1500 && /^[1-9]$/.test(e.key)) {
      gAt = 0;
      var view = document.querySelector('a[data-view-key="' + e.key + '"]');
      if (view) { e.preventDefault(); window.location = view.getAttribute("href"); }
      return;
    }
    gAt = 0;
    switch (e.key) {
      case "x": {
        var sel = rows()[current];
        var box = sel && sel.querySelector("input[type=checkbox]");
        if (box) box.checked = !box.checked;
        break;
      }
      case "j": select(current + 1); break;
      case "k": select(current - 1); break;
      case "Enter": {
        var r = rows()[current];
        if (r) window.location = r.getAttribute("data-href");
        break;
      }
      case "r": e.preventDefault(); focus("reply-text"); break;
      case "n": e.preventDefault(); focus("note-text"); break;
      case "a": submit("assign-me"); break;
      case "e": submit("close-ticket"); break;
      case "/": e.preventDefault(); focus("q"); break;
      case "?": if (help) help.hidden = !help.hidden; break;
      case "g": gAt = Date.now(); break;
      default: return;
    }
  });
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (t && t.hasAttribute && t.hasAttribute("data-close-help")) document.getElementById("help").hidden = true;
    var row = t && t.closest && t.closest("tr.row");
    if (row && !t.closest("a") && !t.closest("td.pick")) window.location = row.getAttribute("data-href");
  });
  // Size each sandboxed message frame to its content (same origin, no scripts inside), and
  // again when its folded quoted history is opened or closed ("toggle" does not bubble).
  function fit(f) {
    try { f.style.height = (f.contentDocument.documentElement.scrollHeight + 8) + "px"; } catch (_) {}
  }
  function watch(f) {
    f.addEventListener("load", function () {
      fit(f);
      try { f.contentDocument.addEventListener("toggle", function () { fit(f); }, true); } catch (_) {}
    });
  }
  document.querySelectorAll("iframe.body-html").forEach(watch);
  var saved = document.getElementById("saved-reply");
  if (saved) saved.addEventListener("change", function () {
    var opt = saved.options[saved.selectedIndex];
    var text = document.getElementById("reply-text");
    if (!opt || !opt.getAttribute("data-body") || !text) return;
    var at = text.selectionStart || text.value.length;
    text.value = text.value.slice(0, at) + opt.getAttribute("data-body") + text.value.slice(at);
    saved.selectedIndex = 0;
    text.focus();
  });
  // ---- Live: presence on a ticket and updates from every node (Server-Sent Events) ----
  var presenceBox = document.getElementById("presence");
  var banner = document.getElementById("live-banner");
  var ticket = presenceBox ? presenceBox.getAttribute("data-ticket") : null;
  var activity = "viewing", typedAt = 0;
  function beat(what) {
    if (!ticket) return;
    var body = new URLSearchParams({ activity: what });
    fetch("/tickets/" + ticket + "/presence", { method: "POST", body: body, credentials: "same-origin" }).catch(function () {});
  }
  function showPresence() {
    if (!ticket) return;
    fetch("/tickets/" + ticket + "/presence", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (list) {
      presenceBox.textContent = "";
      list.forEach(function (p) {
        var span = document.createElement("span");
        span.className = "who " + p.activity;
        var initials = p.name.split(/\s+/).map(function (w) { return w.charAt(0); }).join("").slice(0, 2).toUpperCase();
        span.textContent = initials + " " + p.name + (p.activity === "viewing" ? " is viewing" : p.activity === "replying" ? " is writing a reply" : " is writing a note");
        presenceBox.appendChild(span);
      });
    }).catch(function () {});
  }
  if (ticket) {
    beat("viewing");
    showPresence();
    setInterval(function () {
      var now = Date.now();
      var next = now - typedAt < 5000 ? activity : "viewing";
      beat(next);
    }, 3000);
    ["reply-text", "note-text"].forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      el.addEventListener("input", function () {
        var was = Date.now() - typedAt < 5000 ? activity : "viewing";
        activity = id === "reply-text" ? "replying" : "noting";
        typedAt = Date.now();
        if (was !== activity) beat(activity);
      });
    });
    window.addEventListener("pagehide", function () {
      navigator.sendBeacon("/tickets/" + ticket + "/presence", new Blob(["activity=left"], { type: "application/x-www-form-urlencoded" }));
    });
  }
  // ---- Shared drafts: saved as typed, visible to colleagues, taken over explicitly ----
  var me = presenceBox ? presenceBox.getAttribute("data-me") : null;
  function post(url, params) {
    return fetch(url, { method: "POST", body: new URLSearchParams(params || {}), credentials: "same-origin" });
  }
  var draftLoaders = [];
  function setupDraft(kind, textId) {
    var text = document.getElementById(textId), box = document.getElementById("draft-" + kind);
    if (!ticket || !text || !box) return;
    var to = kind === "reply" ? document.getElementById("reply-to") : null;
    var cc = kind === "reply" ? document.getElementById("reply-cc") : null;
    var version = 0, saved = text.value, blocked = false;
    var base = "/tickets/" + ticket + "/drafts/" + kind;
    function status(html) { box.innerHTML = html; box.hidden = !html; }
    function mine(d) {
      version = d.version; blocked = false;
      if (!text.value) { text.value = d.body; if (to && d.to_addrs) to.value = d.to_addrs; if (cc) cc.value = d.cc_addrs; }
      saved = text.value;
      status('Draft saved <button type="button" class="link" data-discard>Discard</button>');
    }
    function theirs(d) {
      blocked = true; version = d.version;
      var who = document.createElement("span"); who.textContent = d.owner_name;
      status(who.outerHTML + ' is drafting this ' + kind + '. <button type="button" class="link" data-view>View</button> · <button type="button" class="link" data-take>Take over</button><pre class="draft-view" hidden></pre>');
      box.querySelector(".draft-view").textContent = d.body;
    }
    // Read on load, and again when a live event says this ticket's drafts changed.
    function load() {
      fetch("/tickets/" + ticket + "/drafts", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (list) {
        var d = list.filter(function (x) { return x.kind === kind; })[0];
        if (!d) { if (blocked) { blocked = false; version = 0; status(""); } return; }
        if (String(d.owner_agent_id) === me) { if (!blocked && version === d.version) return; mine(d); } else theirs(d);
      }).catch(function () {});
    }
    load();
    draftLoaders.push(load);
    box.addEventListener("click", function (e) {
      var t = e.target;
      if (t.hasAttribute("data-view")) {
        var v = box.querySelector(".draft-view");
        v.hidden = !v.hidden;
        // Show the newest text: autosaves after the first are not announced.
        if (!v.hidden) fetch("/tickets/" + ticket + "/drafts", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (list) {
          list.forEach(function (d) { if (d.kind === kind) v.textContent = d.body; });
        }).catch(function () {});
      }
      if (t.hasAttribute("data-take")) post(base + "/take").then(function (r) { return r.json(); }).then(function (j) {
        var body = box.querySelector(".draft-view").textContent;
        text.value = body; saved = body; version = j.version; blocked = false;
        status("You took over this draft.");
      });
      if (t.hasAttribute("data-discard")) post(base + "/discard").then(function () { text.value = ""; saved = ""; version = 0; status(""); });
    });
    setInterval(function () {
      if (blocked || text.value === saved || !text.value.trim()) return;
      var body = text.value;
      post(base, { version: version, body: body, to: to ? to.value : "", cc: cc ? cc.value : "" }).then(function (r) {
        if (r.status === 409) return r.json().then(function (j) {
          // Sent or discarded meanwhile: the next save starts a new draft from this text.
          if (j.draft) theirs(j.draft); else { version = 0; saved = ""; status(""); }
        });
        return r.json().then(function (j) { version = j.version; saved = body; status('Draft saved <button type="button" class="link" data-discard>Discard</button>'); });
      }).catch(function () {});
    }, 3000);
  }
  setupDraft("reply", "reply-text");
  setupDraft("note", "note-text");

  function refreshConversation() {
    // Replace the conversation in place; the composer and its draft stay untouched.
    // (X-Frontdesk-Refresh: a background read leaves the page's one-time notices alone.)
    fetch(location.pathname, { credentials: "same-origin", headers: { "X-Frontdesk-Refresh": "1" } }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.querySelector("ol.items"), old = document.querySelector("ol.items");
      if (fresh && old) {
        var before = old.children.length;
        old.replaceWith(fresh);
        fresh.querySelectorAll("iframe.body-html").forEach(watch);
        if (fresh.children.length > before && banner) {
          banner.textContent = "New activity on this ticket (below). Your draft is kept.";
          banner.hidden = false;
        }
      }
    }).catch(function () {});
  }
  // ---- Counts of the sidebar's views (and the views page): pages leave them out unless cached,
  // since counting takes long on a big desk; fetched after load, and again on live events at
  // most every COUNTS_EVERY ms. Without JavaScript the slots stay empty. ----
  var COUNTS_EVERY = 5000;
  var lastCounts = null, countsAt = 0, countsTimer = null;
  // Writes the last counts into the slots; `emptyOnly`: leaves a slot the page filled alone.
  function fillCounts(emptyOnly) {
    if (!lastCounts) return;
    document.querySelectorAll("[data-count-key]").forEach(function (el) {
      var k = el.getAttribute("data-count-key");
      if (!Object.prototype.hasOwnProperty.call(lastCounts, k) || (emptyOnly && el.textContent !== "")) return;
      var n = lastCounts[k];
      el.textContent = n === null ? (el.getAttribute("data-count-none") || "") : String(n);
    });
  }
  function loadCounts() {
    countsTimer = null;
    countsAt = Date.now();
    fetch("/inbox/sidebar-counts", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.statusText); return r.json(); })
      .then(function (counts) { lastCounts = counts; fillCounts(false); })
      .catch(function () {});
  }
  function refreshCounts() {
    if (countsTimer || !document.querySelector("[data-count-key]")) return;
    countsTimer = setTimeout(loadCounts, Math.max(0, countsAt + COUNTS_EVERY - Date.now()));
  }
  refreshCounts();

  var inboxTimer = null;
  function refreshInbox() {
    // Rows, presence marks and folder counts are re-read in place (debounced); ticked rows stay ticked.
    clearTimeout(inboxTimer);
    inboxTimer = setTimeout(function () {
      fetch(location.href, { credentials: "same-origin", headers: { "X-Frontdesk-Refresh": "1" } }).then(function (r) { return r.text(); }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var checked = {};
        document.querySelectorAll("td.pick input:checked").forEach(function (b) { checked[b.value] = true; });
        var pairs = [["table.tickets tbody", "table.tickets tbody"], ["nav.sidebar", "nav.sidebar"]];
        pairs.forEach(function (p) {
          var fresh = doc.querySelector(p[0]), old = document.querySelector(p[1]);
          if (fresh && old) old.replaceWith(fresh);
        });
        fillCounts(true);
        refreshCounts();
        if (!document.querySelector("table.tickets") && doc.querySelector("table.tickets") && banner) banner.hidden = false;
        document.querySelectorAll("td.pick input").forEach(function (b) { if (checked[b.value]) b.checked = true; });
        if (current >= 0) select(current);
      }).catch(function () { if (banner) banner.hidden = false; });
    }, 400);
  }
  if (window.EventSource && (ticket || document.querySelector("table.tickets, p.empty"))) {
    var es = null;
    function onEvent(kind) {
      return function (e) {
        var ev = {};
        try { ev = JSON.parse(e.data); } catch (_) {}
        if (ticket) {
          if (kind === "resync") { showPresence(); refreshConversation(); draftLoaders.forEach(function (f) { f(); }); return; }
          if (String(ev.ticket) !== ticket) return;
          if (kind === "presence") showPresence();
          else if (kind === "draft") draftLoaders.forEach(function (f) { f(); });
          else { refreshConversation(); if (kind === "message") draftLoaders.forEach(function (f) { f(); }); }
        } else if (kind !== "draft") {
          refreshInbox();
        }
      };
    }
    function openStream() {
      es = new EventSource("/events");
      ["presence", "message", "ticket", "draft", "resync"].forEach(function (k) { es.addEventListener(k, onEvent(k)); });
    }
    openStream();
    // A page left for another stays alive in the back/forward cache; with its stream open it
    // would hold one of the browser's six connections to this server, and a few such pages
    // freeze every later page load. So the stream closes when the page is hidden, and a page
    // restored from the cache opens a new one and re-reads what it shows (events of the gap
    // are not kept, as after a reconnect).
    window.addEventListener("pagehide", function () {
      if (es) { es.close(); es = null; }
    });
    window.addEventListener("pageshow", function (e) {
      if (!e.persisted || es) return;
      openStream();
      if (ticket) beat("viewing");
      onEvent("resync")({ data: "{}" });
    });
  }

  // Bulk bar: only the chosen action's value field shows (without JS all of them do).
  var bulkAction = document.getElementById("bulk-action");
  function showBulkValue() {
    document.querySelectorAll("#bulk .bulk-value").forEach(function (el) {
      el.hidden = el.getAttribute("data-action") !== bulkAction.value;
    });
  }
  if (bulkAction) { bulkAction.addEventListener("change", showBulkValue); showBulkValue(); }

  // ---- Ticket sidebar: each field is saved as soon as it changes, and says so ----
  // (Without JavaScript each field has its own Save button.)
  document.querySelectorAll("form[data-autosave]").forEach(function (form) {
    var said = form.querySelector(".saved");
    function body() { return new URLSearchParams(new FormData(form)); }
    var last = body().toString(), sending = null;
    function show(text, cls) { said.textContent = text; said.className = "saved " + cls; }
    function save() {
      var b = body();
      // (Enter in the tags field is both a change and a submit: one request.)
      if (b.toString() === last || b.toString() === sending) return;
      sending = b.toString();
      show("Saving…", "busy");
      fetch(form.action, { method: "POST", body: b, credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          return r.text().then(function (t) {
            var j;
            try { j = JSON.parse(t); } catch (_) { j = { error: "unexpected answer; reload the page" }; }
            if (!r.ok || j.error) throw new Error(j.error || r.statusText);
            return j;
          });
        })
        .then(function (j) {
          // Show what the server kept (tags are trimmed and de-duplicated).
          if (j.tags && form.elements.tags) form.elements.tags.value = j.tags.join(", ");
          last = body().toString();
          sending = null;
          show("Saved", "ok");
        })
        .catch(function (e) { sending = null; show("Not saved: " + e.message, "failed"); });
    }
    form.addEventListener("change", function (e) {
      // A snooze time means snoozed; another status drops the time.
      var st = form.elements.status, until = form.elements.snooze_until;
      if (st && until) {
        if (e.target === until && until.value) st.value = "snoozed";
        if (e.target === st && st.value !== "snoozed") until.value = "";
      }
      save();
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      save();
      // Enter means done with the field: leave it, so the keyboard shortcuts work again.
      if (form.contains(document.activeElement)) document.activeElement.blur();
    });
  });

  // ---- @mentions in the note composer: "@" and a few letters offer matching agents ----
  (function () {
    var box = document.getElementById("note-text");
    if (!box || !ticket) return;
    var menu = document.createElement("ul");
    menu.id = "mention-menu";
    menu.className = "mention-menu";
    menu.setAttribute("role", "listbox");
    menu.setAttribute("aria-label", "Agents to mention");
    menu.hidden = true;
    box.parentNode.insertBefore(menu, box.nextSibling);
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-controls", menu.id);
    box.setAttribute("aria-expanded", "false");
    var agents = null, loading = false, matches = [], active = 0, token = null, dismissed = -1;
    function load(then) {
      if (agents) return then();
      if (loading) return;
      loading = true;
      fetch("/tickets/" + ticket + "/mentionable", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (list) { agents = list; loading = false; then(); })
        .catch(function () { loading = false; });
    }
    // The "@word" just before the caret; an address (dana@example.com) is not one.
    function atCaret() {
      var end = box.selectionStart;
      if (end !== box.selectionEnd) return null;
      var m = /(^|[^\p{L}\p{N}_.+\/-])@([\p{L}\p{N}_.-]*)$/u.exec(box.value.slice(0, end));
      return m ? { start: end - m[2].length - 1, end: end, query: m[2].toLowerCase() } : null;
    }
    function close() {
      menu.hidden = true; matches = [];
      box.setAttribute("aria-expanded", "false");
      box.removeAttribute("aria-activedescendant");
    }
    function render() {
      menu.textContent = "";
      matches.forEach(function (a, i) {
        var li = document.createElement("li");
        li.id = "mention-option-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", String(i === active));
        if (i === active) li.className = "active";
        var name = document.createElement("span"); name.textContent = a.name;
        var handle = document.createElement("span"); handle.className = "handle"; handle.textContent = "@" + a.handle;
        li.appendChild(name); li.appendChild(handle);
        // mousedown, not click: the text box keeps the focus and its caret.
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
        menu.appendChild(li);
      });
      menu.hidden = !matches.length;
      box.setAttribute("aria-expanded", String(!!matches.length));
      if (matches.length) box.setAttribute("aria-activedescendant", "mention-option-" + active);
      else box.removeAttribute("aria-activedescendant");
    }
    function matching(a, q) {
      if (!q) return true;
      var name = a.name.toLowerCase();
      return a.handle.indexOf(q) === 0 || name.indexOf(q) === 0 ||
        name.split(/\s+/).some(function (w) { return w.indexOf(q) === 0; }) ||
        name.replace(/\s+/g, "").indexOf(q) === 0;
    }
    function update() {
      token = atCaret();
      if (!token || token.start === dismissed) { if (!token) dismissed = -1; return close(); }
      load(function () {
        token = atCaret();
        if (!token || token.start === dismissed) return close();
        var q = token.query;
        matches = agents.filter(function (a) { return matching(a, q); }).slice(0, 8);
        active = 0;
        render();
      });
    }
    function pick(i) {
      var a = matches[i];
      if (!a || !token) return;
      var text = "@" + a.handle + " ";
      box.value = box.value.slice(0, token.start) + text + box.value.slice(token.end);
      var caret = token.start + text.length;
      box.setSelectionRange(caret, caret);
      close();
      box.focus();
      // Let the draft autosave and presence see the change.
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }
    box.addEventListener("input", update);
    box.addEventListener("click", update);
    box.addEventListener("blur", close);
    box.addEventListener("keydown", function (e) {
      if (menu.hidden) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
        render();
      } else if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        pick(active);
      } else if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        dismissed = token ? token.start : -1;
        close();
      }
    });
  })();

  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
})();
