// Telling an agent about a new assignment when they look elsewhere: a short tone (made with Web
// Audio, no sound file) and a browser notification when the agent allowed them.

let audio: AudioContext | null = null;

/** enableNotifications asks for permission and readies the sound; call it from a click or a
 * key (browsers require a gesture for both). */
export function enableNotifications() {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") void audio.resume();
    if ("Notification" in window && Notification.permission === "default") void Notification.requestPermission();
  } catch {
    // no audio or notifications in this browser
  }
}

/** armNotifications readies sound and notifications at the agent's first click or key on the
 * page: an agent who stays online never touches the status switch, and a sound context made
 * without a gesture stays silent. It returns a function that stops waiting. */
export function armNotifications(): () => void {
  const once = () => {
    enableNotifications();
    off();
  };
  const off = () => {
    document.removeEventListener("pointerdown", once, true);
    document.removeEventListener("keydown", once, true);
  };
  document.addEventListener("pointerdown", once, true);
  document.addEventListener("keydown", once, true);
  return off;
}

/** chime plays two short notes. */
export function chime() {
  try {
    audio ??= new AudioContext();
    const t = audio.currentTime;
    for (const [i, f] of [660, 880].entries()) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, t + i * 0.15);
      g.gain.exponentialRampToValueAtTime(0.2, t + i * 0.15 + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.15 + 0.14);
      o.connect(g).connect(audio.destination);
      o.start(t + i * 0.15);
      o.stop(t + i * 0.15 + 0.15);
    }
  } catch {
    // no audio
  }
}

/** notify shows a browser notification; clicking it focuses the tab and calls open. */
export function notify(title: string, body: string, open: () => void) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const n = new Notification(title, { body, tag: title });
    n.onclick = () => {
      window.focus();
      open();
      n.close();
    };
  } catch {
    // some browsers only allow notifications from a service worker
  }
}
