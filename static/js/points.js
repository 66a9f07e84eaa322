// Points sign-up STEP2: the agree box is enabled once both documents were opened, 次へ
// once it is ticked. Without this file the server checks the same (the document pages
// record that they were opened from this draft), so the page works without JavaScript.
(function () {
  function setUp(root) {
    var docs = root.querySelector && root.querySelector("[data-points-docs]");
    if (!docs || docs.dataset.ready) { return; }
    docs.dataset.ready = "1";
    var form = docs.closest("form");
    var agree = form && form.querySelector("[data-points-agree] input[type=checkbox]");
    var next = form && form.querySelector("button[type=submit]");
    if (!agree || !next) { return; }
    var opened = (docs.dataset.opened || "").split(" ").filter(Boolean);
    function refresh() {
      var both = opened.indexOf("terms") >= 0 && opened.indexOf("privacy") >= 0;
      agree.disabled = !both;
      if (!both) { agree.checked = false; }
      next.disabled = !(both && agree.checked);
    }
    Array.prototype.forEach.call(docs.querySelectorAll("[data-points-doc]"), function (link) {
      link.addEventListener("click", function () {
        var name = link.getAttribute("data-points-doc");
        if (opened.indexOf(name) < 0) { opened.push(name); }
        // The page records the opening when it loads in the new tab; give it a moment
        // before the box can be ticked and the form posted.
        window.setTimeout(refresh, 300);
      });
    });
    agree.addEventListener("change", refresh);
    refresh();
  }
  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:load", function (event) { setUp(event.detail.elt); });
})();
