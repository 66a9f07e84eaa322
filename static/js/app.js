// Enelink: small progressive enhancements. Every page works without this file.
// htmx itself is configured by <meta name="htmx-config"> (no inline script: the CSP forbids it).
document.addEventListener("htmx:afterSwap", function (event) {
  // Move focus to the first field with an error after a step is swapped in, so that
  // keyboard and screen-reader users land where the message is.
  var invalid = event.detail.target.querySelector && event.detail.target.querySelector("[aria-invalid=true]");
  if (invalid && event.detail.xhr && event.detail.xhr.status === 422) {
    invalid.focus();
  }
});

// 設置先住所 (registration STEP2) is not asked while 「お客様住所と同じ」 is chosen. CSS :has()
// hides it without JavaScript; this does the same in browsers that do not know :has().
function showSiteAddress(choice) {
  var same = choice.querySelector("input[type=radio][value=same]");
  var block = choice.querySelector(".site-address");
  if (same && block) {
    block.hidden = same.checked;
  }
}
function showSiteAddresses(root) {
  if (root && root.querySelectorAll) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-same-address]"), showSiteAddress);
  }
}
document.addEventListener("change", function (event) {
  var choice = event.target.closest && event.target.closest("[data-same-address]");
  if (choice && event.target.type === "radio") {
    showSiteAddress(choice);
  }
});
document.addEventListener("DOMContentLoaded", function () { showSiteAddresses(document); });
document.addEventListener("htmx:load", function (event) { showSiteAddresses(event.detail.elt); });
