/* Small SVG charts, no dependencies: lines per series over days, horizontal bars. */
"use strict";
var Charts = (function () {
  var NS = "http://www.w3.org/2000/svg";
  var COLOURS = ["#b22222", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"];

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function svg(width, height, label) {
    return el("svg", {viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": label});
  }

  function empty(container, message) {
    container.textContent = "";
    var p = document.createElement("p");
    p.textContent = message || "所选时段没有数据。";
    container.appendChild(p);
  }

  /* series: [{name, values: [numbers or null]}], labels: x labels (days or periods) */
  function lines(container, labels, series, title) {
    if (!labels.length) { return empty(container); }
    var W = 760, H = 260, L = 44, R = 12, T = 24, B = 36;
    var max = 1;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > max) { max = v; } }); });
    var x = function (i) { return L + (labels.length === 1 ? (W - L - R) / 2 : i * (W - L - R) / (labels.length - 1)); };
    var y = function (v) { return T + (H - T - B) * (1 - v / max); };
    var chart = svg(W, H, title);
    chart.appendChild(el("line", {x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: "#999"}));
    [0, 0.5, 1].forEach(function (f) {
      chart.appendChild(el("text", {x: L - 6, y: y(max * f) + 4, "text-anchor": "end", "font-size": 11},
        String(Math.round(max * f * 10) / 10)));
    });
    var step = Math.max(1, Math.ceil(labels.length / 8));
    labels.forEach(function (label, i) {
      if (i % step === 0) {
        chart.appendChild(el("text", {x: x(i), y: H - B + 16, "text-anchor": "middle", "font-size": 11}, label.slice(5)));
      }
    });
    series.forEach(function (s, n) {
      var colour = COLOURS[n % COLOURS.length];
      var points = [];
      s.values.forEach(function (v, i) { if (v !== null && v !== undefined) { points.push(x(i) + "," + y(v)); } });
      var line = el("polyline", {points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 2,
        "class": "series", "data-series": s.key || s.name, "data-values": JSON.stringify(s.values)});
      chart.appendChild(line);
      s.values.forEach(function (v, i) {
        if (v !== null && v !== undefined) {
          var dot = el("circle", {cx: x(i), cy: y(v), r: 2.5, fill: colour});
          dot.appendChild(el("title", {}, s.name + " " + labels[i] + "：" + v));
          chart.appendChild(dot);
        }
      });
      chart.appendChild(el("rect", {x: L + n * 110, y: 4, width: 10, height: 10, fill: colour}));
      chart.appendChild(el("text", {x: L + n * 110 + 14, y: 13, "class": "legend"}, s.name));
    });
    container.textContent = "";
    container.appendChild(chart);
  }

  /* bars: [{name, value}] */
  function bars(container, items, title) {
    if (!items.length) { return empty(container); }
    var W = 760, row = 26, L = 170, R = 70, H = items.length * row + 10;
    var max = 1;
    items.forEach(function (item) { if (item.value > max) { max = item.value; } });
    var chart = svg(W, H, title);
    items.forEach(function (item, i) {
      var width = (W - L - R) * item.value / max;
      chart.appendChild(el("text", {x: L - 8, y: i * row + 22, "text-anchor": "end", "font-size": 13}, item.name));
      chart.appendChild(el("rect", {x: L, y: i * row + 8, width: Math.max(width, 1), height: row - 8,
        fill: COLOURS[i % COLOURS.length], "class": "bar", "data-key": item.key, "data-value": item.value}));
      chart.appendChild(el("text", {x: L + width + 6, y: i * row + 22, "font-size": 13}, String(item.value)));
    });
    container.textContent = "";
    container.appendChild(chart);
  }

  /* stacked columns: labels (days), series [{key, name, values}] stacked per label */
  function stacked(container, labels, series, title) {
    if (!labels.length) { return empty(container); }
    var W = 760, H = 260, L = 44, R = 12, T = 24, B = 36;
    var totals = labels.map(function (_, i) {
      return series.reduce(function (sum, s) { return sum + (s.values[i] || 0); }, 0);
    });
    var max = Math.max.apply(null, totals.concat([1]));
    var slot = (W - L - R) / labels.length;
    var chart = svg(W, H, title);
    var y = function (v) { return T + (H - T - B) * (1 - v / max); };
    chart.appendChild(el("line", {x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: "#999"}));
    chart.appendChild(el("text", {x: L - 6, y: y(max) + 4, "text-anchor": "end", "font-size": 11}, String(max)));
    var step = Math.max(1, Math.ceil(labels.length / 8));
    labels.forEach(function (label, i) {
      var base = 0;
      series.forEach(function (s, n) {
        var v = s.values[i] || 0;
        if (v > 0) {
          var rect = el("rect", {x: L + i * slot + slot * 0.1, y: y(base + v), width: slot * 0.8,
            height: y(base) - y(base + v), fill: COLOURS[n % COLOURS.length], "class": "segment",
            "data-series": s.key, "data-day": label, "data-value": v});
          rect.appendChild(el("title", {}, label + " " + s.name + "：" + v));
          chart.appendChild(rect);
          base += v;
        }
      });
      if (i % step === 0) {
        chart.appendChild(el("text", {x: L + i * slot + slot / 2, y: H - B + 16, "text-anchor": "middle", "font-size": 11}, label.slice(5)));
      }
    });
    series.forEach(function (s, n) {
      chart.appendChild(el("rect", {x: L + n * 90, y: 4, width: 10, height: 10, fill: COLOURS[n % COLOURS.length]}));
      chart.appendChild(el("text", {x: L + n * 90 + 14, y: 13, "class": "legend"}, s.name));
    });
    container.textContent = "";
    container.appendChild(chart);
  }

  return {lines: lines, bars: bars, stacked: stacked, empty: empty};
}());
