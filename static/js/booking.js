// Progressive enhancement for /book/: with JavaScript, changing the clinic, treatment or
// first day refreshes the free times from /api/availability/ without reloading the page.
// Without it, the GET form ("Show free times") and the day links do the same job.
(function () {
  "use strict";
  var root = document.getElementById("booking");
  var search = document.getElementById("search-form");
  if (!root || !search) return;
  var api = root.getAttribute("data-api");
  var DAYS = 7;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function dayLabel(iso) {
    var d = new Date(iso + "T12:00:00Z");
    return d.toLocaleDateString("en-GB", { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" });
  }

  function render(times, data) {
    var checked = times.querySelector("input[name=start]:checked");
    var keep = checked ? checked.value : null;
    times.replaceChildren();
    data.days.forEach(function (day, i) {
      var fs = el("fieldset", { "class": "mb-3" });
      fs.appendChild(el("legend", { "class": "h6 mb-2" }, dayLabel(day.date)));
      if (!day.times.length) {
        fs.appendChild(el("p", { "class": "text-body-secondary small mb-0" }, "No free times this day."));
      } else {
        var wrap = el("div", { "class": "d-flex flex-wrap gap-2" });
        day.times.forEach(function (t, j) {
          var id = "t-" + (i + 1) + "-" + (j + 1);
          var input = el("input", { type: "radio", "class": "btn-check", name: "start", id: id, value: t.start, autocomplete: "off" });
          if (t.start === keep) input.checked = true;
          wrap.appendChild(input);
          // The API gives local times with their offset: HH:MM is characters 11-16.
          wrap.appendChild(el("label", { "class": "btn btn-outline-primary", "for": id }, t.start.slice(11, 16)));
        });
        fs.appendChild(wrap);
      }
      times.appendChild(fs);
    });
  }

  function refresh() {
    var form = document.getElementById("booking-form");
    var times = document.getElementById("times");
    var location = search.elements.location.value;
    if (!location) return;
    // Before a clinic's times are on the page, the "Show free times" button loads them:
    // submitting on change would move keyboard users away mid-choice.
    if (!form || !times) return;
    var treatment = search.elements.treatment.value;
    var start = search.elements.start.value;
    form.elements.location.value = location;
    form.elements.treatment.value = treatment;
    var params = new URLSearchParams({ location: location, kind: "consultation", days: String(DAYS) });
    if (treatment) params.set("treatment", treatment);
    if (start) params.set("start", start);
    times.setAttribute("aria-busy", "true");
    fetch(api + "?" + params.toString(), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        render(times, data);
        var heading = form.querySelector("h2");
        var option = search.elements.location.options[search.elements.location.selectedIndex];
        if (heading && option) heading.textContent = "2. Choose a time at " + option.text;
      })
      .catch(function () { search.submit(); })
      .finally(function () { times.removeAttribute("aria-busy"); });
  }

  ["location", "treatment", "start"].forEach(function (name) {
    var field = search.elements[name];
    if (field) field.addEventListener("change", refresh);
  });
})();
