// Footfall UI behaviour that htmx does not cover: dialogs, copy to clipboard, focus after swaps.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (dialog) dialog.showModal();
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) open.close();
      return;
    }
    var copier = event.target.closest("[data-copy]");
    if (copier) copyFrom(copier);
  });

  function copyFrom(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentElement.querySelector(".copy-status");
    var say = function (text) { if (status) status.textContent = text; };
    var fallback = function () {
      source.focus();
      source.select();
      say(document.execCommand("copy") ? "Copied" : "Press Ctrl+C to copy");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(function () { say("Copied"); }, fallback);
    } else {
      fallback();
    }
  }

  // A dialog's form replaces the part of the page the dialog lives in: close it first, and put
  // the keyboard focus back on the control that was swapped in.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var dialog = event.target.closest && event.target.closest("dialog[open]");
    if (dialog) dialog.close();
  });
  // A frame showing a saved draft reloads when the page says the draft changed.
  document.body.addEventListener("preview-changed", function () {
    document.querySelectorAll("[data-reload-on='preview-changed']").forEach(function (frame) {
      frame.src = frame.src;
    });
  });

  // A dialog the server sends open (a confirmation of what is on screen) opens as a modal.
  function showServerDialogs(root) {
    root.querySelectorAll("dialog[data-show-modal]").forEach(function (dialog) {
      if (!dialog.open) dialog.showModal();
    });
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target.querySelectorAll) showServerDialogs(event.target);
  });

  // "Insert a field": the chosen merge field ({{ first_name }}) goes where the cursor was in the
  // form's subject, From name or body (the menu's own target until one of them had the focus).
  var lastTarget = new WeakMap();
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-merge-target]") && field.form) lastTarget.set(field.form, field);
  });
  document.addEventListener("change", function (event) {
    var menu = event.target;
    if (!menu.matches || !menu.matches("select[data-insert-field]") || !menu.value) return;
    var target = (menu.form && lastTarget.get(menu.form)) ||
      document.getElementById(menu.getAttribute("data-insert-field"));
    if (!target) return;
    var text = menu.value;
    var start = typeof target.selectionStart === "number" ? target.selectionStart : target.value.length;
    var end = typeof target.selectionEnd === "number" ? target.selectionEnd : start;
    target.value = target.value.slice(0, start) + text + target.value.slice(end);
    target.focus();
    target.setSelectionRange(start + text.length, start + text.length);
    target.dispatchEvent(new Event("input", { bubbles: true }));
    menu.value = "";
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var focusable = event.target.querySelector && event.target.querySelector("[role=switch], [autofocus]");
    if (focusable && event.target.id !== "tracking-status") focusable.focus();
  });
})();
