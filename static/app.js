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
  document.addEventListener("keydown", function (e) {
    if (e.metaKey || e.ctrlKey || e.altKey) return;
    var help = document.getElementById("help");
    if (e.key === "Escape" && help) { help.hidden = true; return; }
    if (typing(e)) return;
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
      default: return;
    }
  });
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (t && t.hasAttribute && t.hasAttribute("data-close-help")) document.getElementById("help").hidden = true;
    var row = t && t.closest && t.closest("tr.row");
    if (row && !t.closest("a") && !t.closest("td.pick")) window.location = row.getAttribute("data-href");
  });
  // Size each sandboxed message frame to its content (same origin, no scripts inside).
  function fit(f) {
    try { f.style.height = (f.contentDocument.documentElement.scrollHeight + 8) + "px"; } catch (_) {}
  }
  document.querySelectorAll("iframe.body-html").forEach(function (f) {
    f.addEventListener("load", function () { fit(f); });
  });
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
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
})();
