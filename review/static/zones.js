// StreetWatch zone and mask editor: draw a camera's zones and masks on its
// current picture; the server checks them with check-config's rules and
// answers the YAML block to paste under the camera. No framework, no
// network access beyond this server.
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var setup = JSON.parse(document.getElementById("zone-setup").textContent);
  var L = setup.labels || {};
  var img = document.getElementById("zone-img");
  var svg = document.getElementById("zone-svg");
  var status = document.getElementById("zone-status");
  var list = document.getElementById("zone-list");
  var yaml = document.getElementById("zone-yaml");
  var verdict = document.getElementById("zone-verdict");
  var errorsEl = document.getElementById("zone-errors");
  var normalised = document.getElementById("zone-normalised");

  // areas: {kind: "zone"|"mask", name, types, points: [[x, y]] in native pixels}
  var areas = [];
  var selected = -1;
  var width = 0, height = 0, detections = [], loaded = false;
  var checkTimer = null, checkSeq = 0, dragging = null;

  function isNormalised(poly) {
    return poly.length > 0 && poly.every(function (p) { return p[0] >= 0 && p[0] <= 1 && p[1] >= 0 && p[1] <= 1; });
  }

  // The configured areas, once the picture's size is known.
  function loadAreas() {
    var masks = setup.areas.masks || [], zones = setup.areas.zones || [];
    var polys = masks.concat(zones.map(function (z) { return z.polygon || []; }));
    normalised.checked = polys.length > 0 && polys.every(isNormalised);
    function px(poly) {
      var n = isNormalised(poly);
      return (poly || []).map(function (p) { return n ? [p[0] * width, p[1] * height] : [p[0], p[1]]; });
    }
    masks.forEach(function (m) { areas.push({kind: "mask", points: px(m)}); });
    zones.forEach(function (z) { areas.push({kind: "zone", name: z.name, types: z.types || [], points: px(z.polygon)}); });
    selected = areas.length ? 0 : -1;
  }

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }

  function label(a, i) {
    if (a.kind === "zone") { return (L["zones.zone"] || "zone") + " " + a.name; }
    return (L["zones.mask"] || "mask") + " " + (areas.slice(0, i + 1).filter(function (b) { return b.kind === "mask"; }).length);
  }

  function draw() {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    if (!width) { return; }
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("preserveAspectRatio", "none");
    var r = Math.max(width, height) / 160;
    var font = Math.max(width, height) / 70;
    detections.forEach(function (d) {
      var b = d.box;
      el("rect", {"class": "det", x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1]}, svg);
      el("text", {"class": "det-label", x: b[0], y: Math.max(font, b[1] - 3), "font-size": font}, svg)
        .textContent = d.class + " " + d.score.toFixed(2);
    });
    areas.forEach(function (a, i) {
      var pts = a.points.map(function (p) { return p[0] + "," + p[1]; }).join(" ");
      var shape = el(a.points.length > 2 ? "polygon" : "polyline",
        {"class": "area " + a.kind + (i === selected ? " selected" : ""), points: pts, "data-index": i}, svg);
      shape.addEventListener("mousedown", function (e) { if (i !== selected) { e.stopPropagation(); select(i); } });
      if (a.points.length) {
        el("text", {"class": "area-label", x: a.points[0][0] + r, y: a.points[0][1] - r, "font-size": font}, svg)
          .textContent = label(a, i);
      }
    });
    if (selected >= 0) {
      areas[selected].points.forEach(function (p, k) {
        var h = el("circle", {"class": "handle", cx: p[0], cy: p[1], r: r, "data-point": k}, svg);
        h.addEventListener("mousedown", function (e) {
          e.stopPropagation();
          e.preventDefault();
          if (e.shiftKey) { // shift-click removes the point
            areas[selected].points.splice(k, 1);
            changed();
            return;
          }
          dragging = k;
        });
      });
    }
    renderList();
  }

  function renderList() {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    areas.forEach(function (a, i) {
      var li = document.createElement("li");
      li.textContent = label(a, i) + " · " + a.points.length + " " + (L["zones.points"] || "points") +
        (a.kind === "zone" && a.types.length ? " · " + a.types.join(", ") : "");
      li.setAttribute("data-index", i);
      if (i === selected) { li.className = "selected"; }
      li.addEventListener("click", function () { select(i); });
      list.appendChild(li);
    });
  }

  function select(i) {
    selected = i;
    draw();
  }

  function at(e) {
    var pt = svg.createSVGPoint();
    pt.x = e.clientX;
    pt.y = e.clientY;
    var p = pt.matrixTransform(svg.getScreenCTM().inverse());
    return [Math.round(Math.max(0, Math.min(width, p.x))), Math.round(Math.max(0, Math.min(height, p.y)))];
  }

  svg.addEventListener("mousedown", function (e) {
    if (selected < 0 || e.button !== 0) { return; }
    areas[selected].points.push(at(e));
    changed();
  });
  window.addEventListener("mousemove", function (e) {
    if (dragging === null) { return; }
    areas[selected].points[dragging] = at(e);
    draw();
  });
  window.addEventListener("mouseup", function () {
    if (dragging === null) { return; }
    dragging = null;
    changed();
  });

  document.getElementById("zone-new").addEventListener("click", function () {
    var name = document.getElementById("zone-name").value.trim();
    var types = Array.prototype.slice.call(document.querySelectorAll("input[name=zone-type]:checked"))
      .map(function (c) { return c.value; });
    areas.push({kind: "zone", name: name, types: types, points: []});
    selected = areas.length - 1;
    changed();
  });
  document.getElementById("mask-new").addEventListener("click", function () {
    areas.push({kind: "mask", points: []});
    selected = areas.length - 1;
    changed();
  });
  document.getElementById("zone-undo").addEventListener("click", function () {
    if (selected >= 0 && areas[selected].points.length) {
      areas[selected].points.pop();
      changed();
    }
  });
  document.getElementById("zone-delete").addEventListener("click", function () {
    if (selected < 0) { return; }
    areas.splice(selected, 1);
    selected = Math.min(selected, areas.length - 1);
    changed();
  });
  normalised.addEventListener("change", changed);

  function changed() {
    draw();
    clearTimeout(checkTimer);
    checkTimer = setTimeout(check, 250);
  }

  function out(points) {
    if (!normalised.checked) { return points.map(function (p) { return [p[0], p[1]]; }); }
    return points.map(function (p) {
      return [Math.round(p[0] / width * 10000) / 10000, Math.round(p[1] / height * 10000) / 10000];
    });
  }

  // check sends the areas to the server, which validates them as
  // check-config does and answers the camera's YAML block.
  function check() {
    var body = {
      masks: areas.filter(function (a) { return a.kind === "mask"; }).map(function (a) { return out(a.points); }),
      zones: areas.filter(function (a) { return a.kind === "zone"; })
        .map(function (a) { return {name: a.name, polygon: out(a.points), types: a.types}; })
    };
    var seq = ++checkSeq;
    fetch(location.pathname, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": setup.csrf, "Accept": "application/json"},
      body: JSON.stringify(body)
    }).then(function (r) { return r.json(); }).then(function (res) {
      if (seq !== checkSeq) { return; } // a newer check is on its way
      yaml.textContent = res.yaml || "";
      while (errorsEl.firstChild) { errorsEl.removeChild(errorsEl.firstChild); }
      (res.errors || []).forEach(function (fe) {
        var li = document.createElement("li");
        li.textContent = fe.field + ": " + fe.message;
        errorsEl.appendChild(li);
      });
      verdict.textContent = (res.valid ? L["zones.valid"] : L["zones.invalid"]) + (res.field ? " (" + res.field + ")" : "");
      verdict.setAttribute("data-valid", res.valid ? "true" : "false");
      document.body.setAttribute("data-checked", String(seq));
    }).catch(function (err) { verdict.textContent = String(err); });
  }

  // refresh asks for the camera's next frame and its detections.
  var fetching = false;
  function refresh() {
    if (fetching) { return; }
    fetching = true;
    fetch(location.pathname.replace(/\/zones$/, "/picture"), {headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (res) {
        if (!res.picture) {
          status.textContent = (L["zones.no_picture"] || "") + " " + (res.error || "");
          return;
        }
        detections = res.detections || [];
        img.onload = function () {
          width = res.width;
          height = res.height;
          if (!loaded) {
            loaded = true;
            loadAreas();
            check();
          }
          status.textContent = res.time + " · " + res.width + "×" + res.height + " · " + detections.length;
          document.body.setAttribute("data-picture", res.time);
          document.body.setAttribute("data-detections", String(detections.length));
          draw();
        };
        img.src = res.picture;
      })
      .catch(function (err) { status.textContent = String(err); })
      .then(function () { fetching = false; });
  }
  document.getElementById("zone-refresh").addEventListener("click", refresh);
  setInterval(function () { if (document.getElementById("zone-live").checked) { refresh(); } }, 3000);
  refresh();
}());
