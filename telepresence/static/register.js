// Registering a device: choosing the kind ticks that kind's usual capabilities and
// hides a robot's own (head, lights) for a tablet. The server applies the same rule.
document.addEventListener("DOMContentLoaded", () => {
  const kind = document.getElementById("kind");
  if (!kind || !kind.dataset.capabilityDefaults) return;
  const defaults = JSON.parse(kind.dataset.capabilityDefaults);
  kind.addEventListener("change", () => {
    const wanted = defaults[kind.value] || [];
    for (const label of document.querySelectorAll("#capabilities [data-capability]")) {
      const name = label.dataset.capability;
      const box = label.querySelector("input");
      box.checked = wanted.includes(name);
      label.hidden = kind.value === "tablet" && (name === "head_pan_tilt" || name === "lights");
    }
  });
});
