// featurestore UI: draw every chart of the page with Plotly (figures are built server-side) and
// submit filter forms when a selection changes. No inline script, so the UI runs under a
// strict Content-Security-Policy.
(function () {
  "use strict";
  function draw() {
    var charts = document.querySelectorAll(".fs-chart[data-figure]");
    for (var i = 0; i < charts.length; i++) {
      var el = charts[i];
      var fig = JSON.parse(el.getAttribute("data-figure"));
      el.removeAttribute("data-figure");
      Plotly.newPlot(el, fig.data, fig.layout, { displaylogo: false, responsive: true });
    }
    var selects = document.querySelectorAll("[data-autosubmit]");
    for (var j = 0; j < selects.length; j++) {
      selects[j].addEventListener("change", function (event) {
        event.target.form.submit();
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
