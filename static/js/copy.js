// Copy buttons: <button data-copy="text" hidden> is shown only when scripts run.
document.addEventListener("DOMContentLoaded", () => {
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
});
