// The appointment add form: when reception chooses a client, say at once how many appointments
// they have missed (GET ../attendance/?client=<id>). Without JavaScript the same warning shows
// once the form is sent. Booking them stays allowed either way.
// Loaded in the page's head with the admin's other scripts: wait for the form.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var $ = window.django && window.django.jQuery;
  var select = document.getElementById("id_client");
  var row = document.querySelector(".form-row.field-client");
  if (!$ || !select || !row || !/\/add\/$/.test(window.location.pathname)) return;
  var url = new URL("../attendance/", window.location.href);
  var box = document.createElement("ul");
  box.className = "messagelist";
  box.id = "attendance-warning";
  box.setAttribute("role", "status");
  box.setAttribute("aria-live", "polite");
  row.appendChild(box);

  function show(text) {
    box.replaceChildren();
    if (!text) return;
    var item = document.createElement("li");
    item.className = "warning";
    item.textContent = text;
    box.appendChild(item);
  }

  function check() {
    var id = select.value;
    if (!/^\d+$/.test(id)) { show(""); return; }
    url.searchParams.set("client", id);
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { warning: "" }; })
      .then(function (data) { if (select.value === id) show(data.warning || ""); })
      .catch(function () { show(""); });
  }

  // The client field is a select2 autocomplete, which announces its choice as a jQuery event.
  $(select).on("change", check);
});
