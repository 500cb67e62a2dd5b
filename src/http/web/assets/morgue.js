// Progressive enhancement: a slider for the time control. Without JavaScript the date input
// and its button do the same job.
(function () {
  var form = document.querySelector("form.time");
  if (!form) return;
  var date = form.querySelector("input[type=date]");
  var slider = form.querySelector("input[type=range]");
  if (!date || !slider) return;
  slider.hidden = false;
  var label = form.querySelector(".year");
  if (date.value) slider.value = date.value.slice(0, 4);
  slider.addEventListener("input", function () {
    if (label) label.textContent = slider.value;
  });
  slider.addEventListener("change", function () {
    date.value = slider.value + "-12-31";
    form.submit();
  });
})();
