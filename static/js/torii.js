// Small enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: <button data-copy="text" hidden> is shown only when scripts run.
  document.body.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    await navigator.clipboard.writeText(button.dataset.copy);
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  });
  const reveal = (root) => root.querySelectorAll("button[data-copy][hidden]").forEach((b) => { b.hidden = false; });
  reveal(document);
  document.body.addEventListener("htmx:load", (event) => reveal(event.detail.elt));

  // Polling elements (data-poll-visible) refresh only while the page is visible:
  // the CSP forbids eval, so htmx's [filter] trigger syntax is not available.
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    if (document.hidden && event.detail.elt.hasAttribute("data-poll-visible")) event.preventDefault();
  });
});
