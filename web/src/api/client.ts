// The API client: openapi-fetch typed by the generated schema, with the session's token on
// every request and one place that turns error answers into messages a person can read.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import { session } from "../session/session";

/** HTTPError is an API error answer: its status, code and the server's sentence. */
export class HTTPError extends Error {
  status: number;
  code: string;
  retryAfter: number;
  constructor(status: number, code: string, message: string, retryAfter = 0) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
  onResponse({ response }) {
    // A token that stopped working (expired, revoked, agent deactivated) ends the session.
    if (response.status === 401 && session.token() && !response.url.endsWith("/inbox/login")) {
      session.expire("Your session has ended; log in again.");
    }
    return response;
  },
};

// Same origin in the browser; an absolute base in unit tests, where there is no page.
export const client = createClient<paths>({ baseUrl: globalThis.location?.origin ?? "http://localhost" });
client.use(auth);

/** call unwraps an openapi-fetch result: the data, or an HTTPError. */
export async function call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let res;
  try {
    res = await p;
  } catch {
    throw new HTTPError(0, "network", "The server cannot be reached; check your connection.");
  }
  if (res.error !== undefined || !res.response.ok) {
    throw toError(res.response, res.error);
  }
  return res.data as T;
}

/** toError makes an HTTPError of an error answer ({"error": {"code", "message"}}). */
export function toError(r: Response, body: unknown): HTTPError {
  const e = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const retry = Number(r.headers.get("Retry-After") ?? "0") || 0;
  return new HTTPError(r.status, e?.code ?? "http_" + r.status, e?.message ?? `The server answered ${r.status}.`, retry);
}
