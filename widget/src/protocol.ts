// The messages the loader (on the host page) and the frame (on Tandem's origin) exchange with
// postMessage: {"tandem": 1, "type", "id"?, "payload"?}. Each side posts with the other's exact
// origin as the target and accepts a message only from that origin and that window.

export type Wire = {
  tandem: 1;
  type: string;
  id?: string;
  payload?: any;
};

// Public configuration of a channel, as the frame gets it from the server and hands to the
// loader with "ready" (the launcher's colour, side and text).
export type Look = {
  color?: string;
  position?: "left" | "right";
  launcher_text?: string;
  title?: string;
};

// Loader → frame.
export const INIT = "init"; // {user, variables, locale, page_url, referrer}: the snippet's settings
export const CALL = "call"; // {method, args}: a window.Tandem method; answered by RESULT
export const SHOWN = "shown"; // {open: boolean}: the chat window was shown or hidden

// Frame → loader.
// INIT (no payload): the frame asks for the snippet's settings before it opens its session.
export const READY = "ready"; // {look, locale}
export const RESULT = "result"; // {ok, value?, error?}, with the call's id
export const EVENT = "event"; // {name, detail}: dispatched to Tandem.on handlers and the window
export const WANT = "want"; // {open: boolean}: the visitor closed the chat inside the frame

export function isWire(d: unknown): d is Wire {
  return typeof d === "object" && d !== null && (d as Wire).tandem === 1 && typeof (d as Wire).type === "string";
}
