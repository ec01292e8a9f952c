// The call page (bot/web/templates/journal_call.html): the recording's speed (×1/×1.5/×2),
// a click on a line of the conversation seeks the recording there, and the line being heard
// is marked as the recording plays. Without JavaScript the page and the player still work.
(() => {
  "use strict";
  const audio = document.getElementById("call-audio");
  const lines = [...document.querySelectorAll("#transcript li[data-at]")];
  if (!audio) return;
  for (const button of document.querySelectorAll("button.speed")) {
    button.addEventListener("click", () => {
      audio.playbackRate = Number(button.dataset.rate);
      for (const other of document.querySelectorAll("button.speed")) {
        other.classList.toggle("active", other === button);
        other.setAttribute("aria-pressed", String(other === button));
      }
    });
  }
  for (const line of lines) {
    line.tabIndex = 0;
    line.title = "Слушать отсюда";
    const seek = () => {
      audio.currentTime = Number(line.dataset.at);
      audio.play().catch(() => {});
    };
    line.addEventListener("click", seek);
    line.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); seek(); } });
  }
  let current = null;
  const mark = () => {
    const t = audio.currentTime + 0.05;
    let found = null;
    for (const line of lines) {
      if (Number(line.dataset.at) <= t) found = line; else break;
    }
    if (found === current) return;
    if (current) current.classList.remove("now");
    current = found;
    if (current) current.classList.add("now");
  };
  audio.addEventListener("timeupdate", mark);
  audio.addEventListener("seeked", mark);
})();
