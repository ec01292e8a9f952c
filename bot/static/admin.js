// The editors' console (bot/web): the little JavaScript it has. Pages work without it except
// «Прослушать» and the live training progress.
(() => {
  "use strict";
  const csrf = document.body.dataset.csrf || "";

  // Drag-and-drop onto .drop zones: the file goes into the zone's <input type=file>.
  for (const zone of document.querySelectorAll(".drop")) {
    const input = zone.querySelector("input[type=file]");
    const label = zone.querySelector(".file-name");
    const show = () => { if (label && input.files.length) label.textContent = input.files[0].name; };
    input.addEventListener("change", show);
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
    });
  }

  // «Прослушать»: the text of the field named by data-listen, synthesized by the bot's TTS.
  for (const button of document.querySelectorAll("button[data-listen]")) {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.listen);
      const player = document.getElementById(button.dataset.player);
      const spoken = document.getElementById(button.dataset.spoken);
      button.disabled = true;
      player.dataset.state = "loading";
      try {
        const response = await fetch("/admin/replies/listen", {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ text: field.value, key: button.dataset.key || "" }),
        });
        if (!response.ok) {
          const problem = await response.json().catch(() => ({ error: response.statusText }));
          spoken.textContent = problem.error || "Не удалось синтезировать речь.";
          player.dataset.state = "error";
          return;
        }
        spoken.textContent = "Бот скажет: " + decodeURIComponent(response.headers.get("X-Spoken-Text") || "");
        const blob = await response.blob();
        if (player.src) URL.revokeObjectURL(player.src);
        player.src = URL.createObjectURL(blob);
        player.hidden = false;
        player.onended = () => { player.dataset.state = "ended"; };
        player.onplaying = () => { player.dataset.state = "playing"; };
        await player.play();
      } catch (error) {
        spoken.textContent = "Ошибка: " + error;
        player.dataset.state = "error";
      } finally {
        button.disabled = false;
      }
    });
  }

  // Training progress: poll the job's status, then reload to show the result.
  const progress = document.getElementById("train-progress");
  if (progress) {
    const bar = progress.querySelector(".progress > div");
    const stage = progress.querySelector(".stage");
    const poll = async () => {
      const response = await fetch(progress.dataset.url, { headers: { Accept: "application/json" } });
      const job = await response.json();
      bar.style.width = Math.round((100 * job.step) / job.steps) + "%";
      stage.textContent = `Шаг ${job.step} из ${job.steps}: ${job.stage} · ${job.seconds} с`;
      if (job.running) setTimeout(poll, 400);
      else location.replace(progress.dataset.done);
    };
    poll();
  }
})();
