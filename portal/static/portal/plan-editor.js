// Staff plan editor (portal/templates/portal/bookings/plan_edit.html): drag desks and rooms onto a floor's plan with
// a pointer, or focus one and move it with the arrow keys; "Save positions" PUTs them all to the API.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function setup() {
    var editor = document.querySelector(".plan-editor");
    if (!editor) return;
    var svg = editor.querySelector(".plan-editor__svg");
    var status = document.getElementById("editor-status");
    var box = svg.dataset.box.split(" ").map(parseFloat);
    var radius = parseFloat(svg.dataset.radius);
    var rows = Array.prototype.slice.call(editor.querySelectorAll(".plan-editor__items li"));
    var dirty = false;

    function say(text) { status.textContent = text; }
    function clamp(v) { return Math.max(0, Math.min(100, Math.round(v * 100) / 100)); }
    function toSvg(x, y) { return [box[0] + box[2] * x / 100, box[1] + box[3] * y / 100]; }
    function where(row) {
      return row.dataset.x === "" ? "" : Math.round(parseFloat(row.dataset.x)) + "% × " + Math.round(parseFloat(row.dataset.y)) + "%";
    }

    function draw(row) {
      var mark = row.mark;
      var placed = row.dataset.x !== "";
      row.querySelector(".plan-editor__where").textContent = where(row);
      row.querySelector('[data-action="place"]').hidden = placed;
      row.querySelector('[data-action="remove"]').hidden = !placed;
      if (!placed) {
        if (mark) { mark.remove(); row.mark = null; }
        return;
      }
      if (!mark) {
        mark = document.createElementNS(SVG, "g");
        mark.setAttribute("class", "spot spot--edit spot--" + row.dataset.kind);
        mark.setAttribute("tabindex", "0");
        mark.setAttribute("role", "button");
        var shape = document.createElementNS(SVG, row.dataset.kind === "room" ? "rect" : "circle");
        shape.setAttribute("class", "spot__mark");
        var text = document.createElementNS(SVG, "text");
        text.setAttribute("class", "spot__label");
        text.setAttribute("text-anchor", "middle");
        text.setAttribute("font-size", (radius * 1.1).toFixed(2));
        text.textContent = row.dataset.short;
        mark.appendChild(shape);
        mark.appendChild(text);
        svg.appendChild(mark);
        row.mark = mark;
        bind(row, mark);
      }
      var p = toSvg(parseFloat(row.dataset.x), parseFloat(row.dataset.y));
      var shapeEl = mark.firstChild;
      if (row.dataset.kind === "room") {
        shapeEl.setAttribute("x", (p[0] - radius * 1.3).toFixed(2));
        shapeEl.setAttribute("y", (p[1] - radius * 1.3).toFixed(2));
        shapeEl.setAttribute("width", (radius * 2.6).toFixed(2));
        shapeEl.setAttribute("height", (radius * 2.6).toFixed(2));
        shapeEl.setAttribute("rx", (radius * 0.4).toFixed(2));
      } else {
        shapeEl.setAttribute("cx", p[0].toFixed(2));
        shapeEl.setAttribute("cy", p[1].toFixed(2));
        shapeEl.setAttribute("r", radius.toFixed(2));
      }
      mark.lastChild.setAttribute("x", p[0].toFixed(2));
      mark.lastChild.setAttribute("y", (p[1] + radius * 2.6).toFixed(2));
      mark.setAttribute("aria-label", row.dataset.label + ", " + where(row));
    }

    function move(row, x, y) {
      row.dataset.x = String(clamp(x));
      row.dataset.y = String(clamp(y));
      dirty = true;
      draw(row);
    }

    function bind(row, mark) {
      var dragging = false;
      mark.addEventListener("pointerdown", function (event) {
        dragging = true;
        mark.setPointerCapture(event.pointerId);
        mark.classList.add("is-dragging");
        event.preventDefault();
        mark.focus();
      });
      mark.addEventListener("pointermove", function (event) {
        if (!dragging) return;
        var point = svg.createSVGPoint();
        point.x = event.clientX;
        point.y = event.clientY;
        var local = point.matrixTransform(svg.getScreenCTM().inverse());
        move(row, (local.x - box[0]) / box[2] * 100, (local.y - box[1]) / box[3] * 100);
      });
      function stop() {
        if (!dragging) return;
        dragging = false;
        mark.classList.remove("is-dragging");
        say(row.dataset.label + " " + editor.dataset.moved + " " + where(row) + ". " + editor.dataset.unsaved);
      }
      mark.addEventListener("pointerup", stop);
      mark.addEventListener("pointercancel", stop);
      mark.addEventListener("keydown", function (event) {
        var step = event.shiftKey ? 5 : 0.5;
        var dx = { ArrowLeft: -step, ArrowRight: step }[event.key] || 0;
        var dy = { ArrowUp: -step, ArrowDown: step }[event.key] || 0;
        if (!dx && !dy) return;
        event.preventDefault();
        move(row, parseFloat(row.dataset.x) + dx, parseFloat(row.dataset.y) + dy);
        say(row.dataset.label + " " + editor.dataset.moved + " " + where(row) + ". " + editor.dataset.unsaved);
      });
    }

    rows.forEach(function (row) {
      draw(row);
      row.querySelector('[data-action="place"]').addEventListener("click", function () {
        move(row, 50, 50);
        row.mark.focus();
      });
      row.querySelector('[data-action="remove"]').addEventListener("click", function () {
        row.dataset.x = "";
        row.dataset.y = "";
        dirty = true;
        draw(row);
        row.querySelector('[data-action="place"]').focus();
      });
    });

    editor.querySelector('[data-action="save"]').addEventListener("click", function () {
      var positions = rows.map(function (row) {
        var placed = row.dataset.x !== "";
        return {
          kind: row.dataset.kind,
          id: parseInt(row.dataset.id, 10),
          x: placed ? parseFloat(row.dataset.x) : null,
          y: placed ? parseFloat(row.dataset.y) : null
        };
      });
      fetch(editor.dataset.api, {
        method: "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": editor.dataset.csrf },
        body: JSON.stringify({ positions: positions })
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.detail || response.statusText);
          dirty = false;
          editor.dataset.state = "saved";
          say(editor.dataset.saved);
        });
      }).catch(function (error) {
        say(editor.dataset.failed + " " + error.message);
      });
    });

    window.addEventListener("beforeunload", function (event) {
      if (dirty) event.preventDefault();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
