// Files kept by Tandem (/api/v1/media/{id}) need the session's token, which an <img src> or a
// link cannot send: they are read with fetch and shown from a blob: URL. Links elsewhere (a
// file a flow sends from the web) are used as they are.
import { useEffect, useState } from "react";
import { toError } from "./client";
import { session } from "../session/session";

/** isStored reports whether url is a file Tandem keeps (read with the session's token). */
export function isStored(url: string): boolean {
  return url.startsWith("/api/v1/media/");
}

/** fetchMedia reads a stored file with the session's token. */
export async function fetchMedia(url: string, signal?: AbortSignal): Promise<Blob> {
  const r = await fetch(url, { headers: { Authorization: `Bearer ${session.token()}` }, signal });
  if (!r.ok) {
    let body: unknown;
    try {
      body = await r.json();
    } catch {
      body = undefined;
    }
    throw toError(r, body);
  }
  return r.blob();
}

/** useMediaURL returns a URL the page can show: a stored file's blob: URL once read ("" until
 * then), any other URL as it is; error says why a stored file could not be read. */
export function useMediaURL(url: string): { src: string; error: string } {
  const stored = isStored(url);
  const [state, setState] = useState({ url: "", src: "", error: "" });
  useEffect(() => {
    if (!stored) return;
    const ac = new AbortController();
    let made = "";
    fetchMedia(url, ac.signal)
      .then((b) => {
        made = URL.createObjectURL(b);
        setState({ url, src: made, error: "" });
      })
      .catch((err: Error) => {
        if (!ac.signal.aborted) setState({ url, src: "", error: err.message });
      });
    return () => {
      ac.abort();
      if (made) URL.revokeObjectURL(made);
    };
  }, [url, stored]);
  if (!stored) return { src: url, error: "" };
  return state.url === url ? { src: state.src, error: state.error } : { src: "", error: "" };
}

/** downloadMedia saves a stored file under its name (a click on a file's link). */
export async function downloadMedia(url: string, name: string) {
  const b = await fetchMedia(url);
  const href = URL.createObjectURL(b);
  const a = document.createElement("a");
  a.href = href;
  a.download = name || "attachment";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

/** sizeText says a file's size as a person reads it: 812 bytes, 34 KB, 2.4 MB. */
export function sizeText(n: number): string {
  if (n < 1000) return `${n} bytes`;
  if (n < 1_000_000) return `${Math.round(n / 1000)} KB`;
  return `${(n / 1_000_000).toFixed(1)} MB`;
}
