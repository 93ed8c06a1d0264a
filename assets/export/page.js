// The layer slider: re-shades the prompt by relevance at that level and moves the cursors of
// the heatmap and the charts. The colour ramp is export::colour's (square-root, white middle).
(function () {
  var data = JSON.parse(document.getElementById("xmrc-data").textContent);
  var slider = document.getElementById("layer");
  var out = document.getElementById("layer-value");
  var segs = document.querySelectorAll("#prompt .seg[data-tokens]");
  function colour(v) {
    var t = Math.sqrt(Math.min(1, Math.abs(v)));
    var end = v >= 0 ? [214, 39, 40] : [31, 119, 180];
    var c = [255, 255, 255].map(function (a, i) { return Math.round(a + (end[i] - a) * t); });
    return "rgb(" + c.join(",") + ")";
  }
  function show(level) {
    if (out) { out.textContent = level; }
    var row = (data.display && data.display[level]) || [];
    segs.forEach(function (s) {
      var best = 0;
      s.getAttribute("data-tokens").split(" ").forEach(function (t) {
        var v = row[+t] || 0;
        if (Math.abs(v) > Math.abs(best)) { best = v; }
      });
      s.style.background = best === 0 ? "" : colour(best);
      s.style.color = Math.abs(best) > 0.55 ? "#fff" : "";
    });
    var cursor = document.getElementById("cursor");
    if (cursor) { cursor.setAttribute("x", data.heatmap_x0 + level * data.heatmap_cell); }
    document.querySelectorAll("svg.chart").forEach(function (svg) {
      var x0 = +svg.getAttribute("data-x0"), dx = +svg.getAttribute("data-dx");
      svg.querySelectorAll(".cursor").forEach(function (line) {
        line.setAttribute("x1", x0 + dx * level);
        line.setAttribute("x2", x0 + dx * level);
      });
    });
    var top = document.getElementById("lens-top");
    if (top && data.lens && data.lens.levels[level]) {
      var l = data.lens.levels[level];
      top.textContent = "";
      l.top.forEach(function (t) {
        var span = document.createElement("span");
        span.textContent = "«" + t.piece + "» " + t.prob.toPrecision(2) + " " + t.script;
        top.appendChild(span);
      });
      var gen = document.getElementById("lens-generated");
      if (gen) {
        gen.textContent = "generated «" + data.lens.generated_piece + "»: p " +
          l.generated_prob.toPrecision(2) + ", rank " + l.generated_rank;
      }
    }
  }
  if (slider) {
    slider.addEventListener("input", function () { show(+slider.value); });
    show(+slider.value);
  }
})();
