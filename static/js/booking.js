// Progressive enhancement for /book/: the summary under the details repeats the time chosen,
// and for a time marked "no online changes" the notice that it can't be moved or cancelled
// online. Without JavaScript the notice stands beside those times and the server asks the
// client to confirm it before booking; the day links and the date jump are plain links and a
// GET form (htmx, when loaded, swaps only the day's times).
(function () {
  "use strict";
  var form = document.getElementById("booking-form");
  var summary = document.getElementById("choice-summary");
  if (!form || !summary) return;
  var when = document.getElementById("choice-when");
  var late = document.getElementById("choice-late");

  function show(input) {
    if (!input) {
      summary.hidden = true;
      return;
    }
    when.textContent = input.getAttribute("data-when") || "";
    late.hidden = !input.hasAttribute("data-late");
    summary.hidden = false;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.name === "start" && target.form === form) show(target);
  });
  show(form.querySelector("input[name=start]:checked"));
})();
