// ゲートウェイの譲渡: the done page's 「伝票を印刷」 button (without JavaScript the page says
// to use the browser's print command; the print stylesheet prints the slip alone).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  });
});
