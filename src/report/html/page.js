(function () {
  "use strict";
  var root = document.documentElement;

  function showErrors() {
    var text = root.getAttribute("data-script-errors");
    var box = document.querySelector(".errors");
    if (text && box) {
      box.textContent = "The page's script failed: " + text;
      box.hidden = false;
    }
  }

  function sig(v) {
    var a = Math.abs(v);
    var d = a >= 100 || a === 0 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
    var s = v.toFixed(d);
    if (s.indexOf(".") >= 0) s = s.replace(/0+$/, "").replace(/\.$/, "");
    return s;
  }
  function thousands(v) {
    return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  function format(unit, v) {
    switch (unit) {
      case "us":
        if (Math.abs(v) >= 1e6) return sig(v / 1e6) + " s";
        if (Math.abs(v) >= 1e3) return sig(v / 1e3) + " ms";
        return sig(v) + " µs";
      case "rate": case "count":
        return Math.abs(v) >= 100 || v % 1 === 0 ? thousands(v) : sig(v);
      case "pct":
        return v.toFixed(5).replace(/0+$/, "").replace(/\.$/, "") + "%";
      case "s": return sig(v) + " s";
      case "bytes":
        var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
        while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
        return sig(v) + " " + units[i];
      default: return String(v);
    }
  }

  function transform(scale, v) {
    if (scale === "log") return Math.log10(Math.max(v, 1e-300));
    if (scale === "tail") return -Math.log10(1 - Math.min(v / 100, 1 - 1e-12));
    return v;
  }
  function untransform(scale, t) {
    if (scale === "log") return Math.pow(10, t);
    if (scale === "tail") return 100 * (1 - Math.pow(10, -t));
    return t;
  }
  function pos(map, v) {
    var a = transform(map.scale, map.domain[0]), b = transform(map.scale, map.domain[1]);
    var t = (transform(map.scale, v) - a) / (b - a);
    t = Math.max(-0.02, Math.min(1.02, t));
    return map.px[0] + t * (map.px[1] - map.px[0]);
  }
  function value(map, p) {
    var a = transform(map.scale, map.domain[0]), b = transform(map.scale, map.domain[1]);
    var t = (p - map.px[0]) / (map.px[1] - map.px[0]);
    return untransform(map.scale, a + t * (b - a));
  }

  var SVGNS = "http://www.w3.org/2000/svg";

  function setupChart(fig) {
    var dataEl = fig.querySelector("script.chart-data");
    var svg = fig.querySelector("svg.plot");
    if (!dataEl || !svg) return;
    var data = JSON.parse(dataEl.textContent);
    var hover = svg.querySelector("g.hover");
    var tip = document.createElement("div");
    tip.className = "tip";
    tip.hidden = true;
    fig.appendChild(tip);
    var off = {};

    fig.querySelectorAll(".legend button[data-series]").forEach(function (b) {
      b.addEventListener("click", function () {
        var i = b.getAttribute("data-series");
        off[i] = !off[i];
        b.setAttribute("aria-pressed", off[i] ? "false" : "true");
        svg.querySelectorAll('g.series[data-series="' + i + '"]').forEach(function (g) {
          g.classList.toggle("off", !!off[i]);
        });
      });
    });

    var yIndex = 0;
    var groups = svg.querySelectorAll("g.yscale");
    groups.forEach(function (g, i) { if (g.getAttribute("display") !== "none") yIndex = i; });
    var sw = fig.querySelector(".yswitch");
    if (sw) {
      sw.addEventListener("click", function () {
        yIndex = 1 - yIndex;
        groups.forEach(function (g, i) {
          if (i === yIndex) g.removeAttribute("display"); else g.setAttribute("display", "none");
        });
        var log = data.y.maps[yIndex].scale === "log";
        fig.classList.toggle("ylog", log);
        sw.textContent = log ? "y axis: log" : "y axis: linear";
        sw.setAttribute("data-log", log ? "true" : "false");
      });
    }

    function clear() {
      while (hover.firstChild) hover.removeChild(hover.firstChild);
      tip.hidden = true;
    }
    svg.addEventListener("pointerleave", clear);
    svg.addEventListener("pointermove", function (ev) {
      var ctm = svg.getScreenCTM();
      if (!ctm) return;
      var pt = svg.createSVGPoint();
      pt.x = ev.clientX; pt.y = ev.clientY;
      var p = pt.matrixTransform(ctm.inverse());
      var xm = data.x.map, ym = data.y.maps[yIndex];
      if (p.x < xm.px[0] - 4 || p.x > xm.px[1] + 4) { clear(); return; }
      var xv = value(xm, p.x);
      var rows = [], anchor = null;
      data.series.forEach(function (s, i) {
        if (off[i] || !s.points.length) return;
        var best = null, dist = Infinity;
        s.points.forEach(function (q) {
          var d = Math.abs(pos(xm, q[0]) - p.x);
          if (d < dist) { dist = d; best = q; }
        });
        if (best && dist < 40) {
          rows.push({ s: s, q: best });
          if (anchor === null) anchor = best[0];
        }
      });
      while (hover.firstChild) hover.removeChild(hover.firstChild);
      if (!rows.length) { tip.hidden = true; return; }
      var x = pos(xm, anchor);
      var line = document.createElementNS(SVGNS, "line");
      line.setAttribute("x1", x); line.setAttribute("x2", x);
      line.setAttribute("y1", ym.px[1]); line.setAttribute("y2", ym.px[0]);
      hover.appendChild(line);
      tip.textContent = "";
      var head = document.createElement("b");
      head.textContent = data.x.title + " " + format(data.x.unit, rows.length ? rows[0].q[0] : xv);
      tip.appendChild(head);
      rows.forEach(function (r) {
        if (ym.scale === "log" && r.q[1] <= 0) return;
        var c = document.createElementNS(SVGNS, "circle");
        c.setAttribute("cx", pos(xm, r.q[0])); c.setAttribute("cy", pos(ym, r.q[1]));
        c.setAttribute("r", 4); c.setAttribute("class", "c" + r.s.color);
        hover.appendChild(c);
        var line = document.createElement("div");
        var sw = document.createElement("i");
        sw.className = "c" + r.s.color;
        line.appendChild(sw);
        line.appendChild(document.createTextNode(r.s.name + ": " + format(data.y.unit, r.q[1])));
        tip.appendChild(line);
      });
      tip.hidden = false;
      var box = fig.getBoundingClientRect();
      var left = ev.clientX - box.left + 14;
      if (left + tip.offsetWidth > box.width) left = ev.clientX - box.left - tip.offsetWidth - 14;
      tip.style.left = Math.max(0, left) + "px";
      tip.style.top = (ev.clientY - box.top + 12) + "px";
    });
  }

  function setupMatrix() {
    var dataEl = document.querySelector("script.matrix-data");
    var table = document.querySelector("table.matrix");
    if (!dataEl || !table) return;
    var data = JSON.parse(dataEl.textContent);
    var dialog = document.getElementById("detail");
    var content = dialog.querySelector(".content");
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-case]"));
    var areas = Array.prototype.slice.call(table.querySelectorAll("tbody tr.area"));
    var filter = "all", query = "";
    var shown = document.querySelector(".filters .shown");

    function apply() {
      var count = 0;
      rows.forEach(function (r) {
        var ok = (filter === "all" || r.getAttribute("data-" + filter) === "true") &&
          (!query || r.getAttribute("data-case").indexOf(query) >= 0);
        r.classList.toggle("hidden", !ok);
        if (ok) count++;
      });
      areas.forEach(function (a) {
        var any = false;
        for (var n = a.nextElementSibling; n && !n.classList.contains("area"); n = n.nextElementSibling) {
          if (!n.classList.contains("hidden")) { any = true; break; }
        }
        a.classList.toggle("hidden", !any);
      });
      if (shown) shown.textContent = count + " of " + rows.length + " cases";
    }
    document.querySelectorAll(".filters button[data-filter]").forEach(function (b) {
      b.addEventListener("click", function () {
        filter = b.getAttribute("data-filter");
        document.querySelectorAll(".filters button[data-filter]").forEach(function (o) {
          o.setAttribute("aria-pressed", o === b ? "true" : "false");
        });
        apply();
      });
    });
    var search = document.querySelector(".filters input");
    if (search) search.addEventListener("input", function () { query = search.value.trim(); apply(); });
    apply();

    function el(tag, cls, text) {
      var e = document.createElement(tag);
      if (cls) e.className = cls;
      if (text !== undefined && text !== null) e.textContent = text;
      return e;
    }
    function badge(outcome) {
      var b = el("span", "badge o-" + outcome, outcome === "pass" ? "pass" : String(outcome).toUpperCase());
      return b;
    }
    function open(ci, si) {
      var kase = data.cases[ci], cell = data.cells[ci][si];
      if (!kase || !cell) return;
      content.textContent = "";
      var h = el("h3", null, kase.id + " ");
      h.appendChild(badge(cell.outcome));
      content.appendChild(h);
      content.appendChild(el("div", "note", data.stacks[si] + " · " + String(kase.level || "").toUpperCase()));
      if (data.stacks.length > 1) {
        var others = el("div", "others");
        data.cells[ci].forEach(function (c, j) {
          if (!c) return;
          var b = el("button");
          b.type = "button";
          var dot = el("i", "o-" + c.outcome);
          b.appendChild(dot);
          b.appendChild(document.createTextNode(data.stacks[j]));
          if (j === si) b.setAttribute("aria-current", "true");
          b.addEventListener("click", function () { open(ci, j); });
          others.appendChild(b);
        });
        content.appendChild(others);
      }
      if (kase.requirement) {
        var q = el("blockquote", null, kase.requirement);
        q.appendChild(el("cite", null, kase.source || ""));
        content.appendChild(q);
      }
      var kv = el("dl", "kv");
      function pair(k, v) {
        if (v === undefined || v === null || v === "") return;
        kv.appendChild(el("dt", null, k));
        kv.appendChild(el("dd", null, v));
      }
      pair("stimulus", kase.stimulus);
      pair("expected", cell.expected);
      pair("actual", cell.actual);
      if (cell.quirk) {
        pair("declared quirk", (cell.quirk.downgraded === false ? "(not applied) " : "") +
          cell.quirk.reason + " — " + cell.quirk.source);
      }
      pair("note", kase.note);
      if (kase.covers && kase.covers.length) pair("covers", kase.covers.join(", "));
      if (typeof cell.elapsed_ms === "number") pair("time", cell.elapsed_ms.toFixed(1) + " ms");
      content.appendChild(kv);
      content.appendChild(el("h4", null, "request sent"));
      content.appendChild(el("pre", null, cell.request || "(none)"));
      content.appendChild(el("h4", null, "response head received"));
      content.appendChild(el("pre", null, cell.response_head || "(no response)"));
      if (typeof dialog.showModal === "function") {
        if (!dialog.open) dialog.showModal();
      } else {
        dialog.setAttribute("open", "");
      }
    }
    table.addEventListener("click", function (ev) {
      var a = ev.target.closest ? ev.target.closest("a[data-c]") : null;
      if (!a) return;
      ev.preventDefault();
      open(+a.getAttribute("data-c"), +a.getAttribute("data-s"));
    });
    dialog.addEventListener("click", function (ev) {
      if (ev.target === dialog) dialog.close();
    });
  }

  function setupLevels() {
    document.querySelectorAll("select[data-levels]").forEach(function (sel) {
      var set = sel.getAttribute("data-levels");
      sel.addEventListener("change", function () {
        document.querySelectorAll('.levelpane[data-levels="' + set + '"]').forEach(function (p) {
          p.hidden = p.getAttribute("data-level") !== sel.value;
        });
      });
    });
  }

  try {
    document.querySelectorAll("figure[data-chart]").forEach(setupChart);
    setupLevels();
    setupMatrix();
    root.setAttribute("data-charts", String(document.querySelectorAll("svg.plot .series path").length));
    if (!root.getAttribute("data-script-errors")) root.setAttribute("data-ready", "true");
  } catch (e) {
    root.setAttribute("data-script-errors", (root.getAttribute("data-script-errors") || "") + (e && e.message || e) + "\n");
  }
  showErrors();
})();
