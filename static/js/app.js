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
