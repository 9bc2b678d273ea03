// Technician workspace: give each photo picked from the camera its own angle selector.
(function () {
  "use strict";
  var form = document.getElementById("photo-form");
  if (!form) { return; }
  var input = form.querySelector("input[type=file]");
  var holder = document.getElementById("photo-angles");
  var angles = holder.getAttribute("data-angles").split(";").map(function (pair) {
    var parts = pair.split("=");
    return { value: parts[0], label: parts[1] };
  });
  var fallback = form.querySelector("select[name=default_angle]");

  input.addEventListener("change", function () {
    holder.textContent = "";
    Array.prototype.forEach.call(input.files, function (file, index) {
      var wrap = document.createElement("div");
      wrap.className = "mb-2";
      var id = "photo-angle-" + index;
      var label = document.createElement("label");
      label.className = "form-label";
      label.htmlFor = id;
      label.textContent = "Angle for photo " + (index + 1) + " (" + file.name + ")";
      var select = document.createElement("select");
      select.className = "form-select form-select-lg";
      select.name = "angles";
      select.id = id;
      // Preset to "the angle above" (an empty value the server reads as the default angle), not
      // to a copy of it: a default changed after the photos were picked must still apply to them.
      var same = document.createElement("option");
      same.value = "";
      same.className = "photo-angle-same";
      same.selected = true;
      select.appendChild(same);
      angles.forEach(function (angle) {
        var option = document.createElement("option");
        option.value = angle.value;
        option.textContent = angle.label;
        select.appendChild(option);
      });
      wrap.appendChild(label);
      wrap.appendChild(select);
      holder.appendChild(wrap);
    });
    nameDefault();
  });

  function nameDefault() {
    var chosen = fallback ? fallback.options[fallback.selectedIndex].text : "";
    Array.prototype.forEach.call(holder.querySelectorAll("option.photo-angle-same"), function (option) {
      option.textContent = "Same as above (" + chosen + ")";
    });
  }
  if (fallback) { fallback.addEventListener("change", nameDefault); }
}());
