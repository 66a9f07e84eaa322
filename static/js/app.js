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

// >>> support cases (helper A)
// Attachments (support center): check the number and the size of the chosen files before
// anything is sent, say what is wrong in the field's error element and keep the submit
// button disabled until it is fixed. The server checks everything again (and answers 413
// above its body limit); without JavaScript it is the only check.
function checkFileInput(input) {
  var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10);
  var maxFiles = parseInt(input.getAttribute("data-max-files"), 10);
  var message = "";
  var files = input.files || [];
  if (maxFiles && files.length > maxFiles) {
    message = input.getAttribute("data-too-many") || "";
  } else {
    for (var i = 0; i < files.length; i++) {
      if (maxBytes && files[i].size > maxBytes) {
        message = (input.getAttribute("data-too-large") || "").replace("{name}", files[i].name);
        break;
      }
    }
  }
  var error = document.getElementById(input.id + "-error");
  if (error) {
    error.textContent = message;
    error.hidden = !message;
  }
  input.setAttribute("aria-invalid", message ? "true" : "false");
  var field = input.closest(".field");
  if (field) { field.classList.toggle("has-error", !!message); }
  if (input.form) {
    Array.prototype.forEach.call(input.form.querySelectorAll("button[type=submit]:not([name=refresh])"),
      function (button) { button.disabled = !!message; });
  }
}
document.addEventListener("change", function (event) {
  var input = event.target;
  if (input.matches && input.matches("input[type=file][data-max-bytes][data-max-files]")) {
    checkFileInput(input);
  }
});
// The 更新 buttons that reload a form's dependent choices are for browsers without htmx:
// where htmx swaps those choices on change, the buttons go.
function hideWithoutHtmx(root) {
  if (window.htmx && root && root.querySelectorAll) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-without-htmx]"),
      function (element) { element.hidden = true; });
  }
}
document.addEventListener("DOMContentLoaded", function () { hideWithoutHtmx(document); });
document.addEventListener("htmx:load", function (event) { hideWithoutHtmx(event.detail.elt); });
// <<< support cases

// >>> join (helper C)
// 会社の検索 answers 429 with its message in the results when searched too often: show it
// (htmx swaps no 4xx by default).
document.addEventListener("htmx:beforeSwap", function (event) {
  var target = event.detail.target;
  if (event.detail.xhr && event.detail.xhr.status === 429 && target && target.closest &&
      target.closest("[data-swap-429]")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
// <<< join
