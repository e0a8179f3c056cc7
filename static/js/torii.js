// Small enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  const messages = () => document.getElementById("messages");

  // Say something in the page's aria-live region (#messages), as a server message would.
  const announce = (text, kind = "success") => {
    const region = messages();
    if (!region || !text) return;
    const line = document.createElement("p");
    line.className = `message message-${kind}`;
    line.textContent = text;
    region.replaceChildren(line);
  };

  // Copy buttons: <button data-copy="text" hidden> is shown only when scripts run.
  // A <button> is reached and pressed by keyboard (Enter, Space) like any other.
  document.body.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const label = button.querySelector("[data-copy-label]") || button;
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
    } catch {
      announce("Copying was refused by the browser: select the address and copy it.", "warning");
      return;
    }
    label.textContent = "Copied";
    announce(`Copied ${button.dataset.copy}`);
    setTimeout(() => { label.textContent = "Copy"; }, 2000);
  });
  const reveal = (root) => root.querySelectorAll("button[data-copy][hidden]").forEach((b) => { b.hidden = false; });
  reveal(document);
  document.body.addEventListener("htmx:load", (event) => reveal(event.detail.elt));

  // The server names what happened in an HX-Trigger header: {"announce": "Disabled …"}.
  document.body.addEventListener("announce", (event) => announce(event.detail.value));

  // After a swap, focus goes where the person continues: the server marks that element
  // with data-focus (a form: its first invalid field, else its first field).
  const field = "input:not([type=hidden]), select, textarea, button";
  document.body.addEventListener("htmx:afterSettle", (event) => {
    const marked = document.querySelector("[data-focus]");
    if (!marked) {
      // Unmarked swaps (a Cancel that brings a row back): if the focused control went
      // away with the old content, focus the first control of what replaced it.
      const lost = !document.activeElement || document.activeElement === document.body;
      const id = event.detail.target && event.detail.target.id;
      const swapped = id && document.getElementById(id);
      const control = swapped && swapped.querySelector(`a[href], ${field}`);
      if (lost && control) control.focus();
      return;
    }
    marked.removeAttribute("data-focus");
    const target = marked.matches("form, section, div, tr, td")
      ? marked.querySelector("[aria-invalid=true]") || marked.querySelector(field)
      : marked;
    if (target) target.focus();
  });

  // Bulk actions: a confirmation for delete happens on the server's own page; the
  // "select all" box only ticks the rows' boxes.
  document.body.addEventListener("change", (event) => {
    const all = event.target.closest("input[data-select-all]");
    if (!all) return;
    document.querySelectorAll(`input[form="${all.dataset.selectAll}"][name=slug]`)
      .forEach((box) => { box.checked = all.checked; });
  });
  document.querySelectorAll("input[data-select-all][hidden]").forEach((box) => { box.hidden = false; });

  // Polling elements (data-poll-visible) refresh only while the page is visible:
  // the CSP forbids eval, so htmx's [filter] trigger syntax is not available.
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    if (document.hidden && event.detail.elt.hasAttribute("data-poll-visible")) event.preventDefault();
  });
});
