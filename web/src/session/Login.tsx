import { useState, type FormEvent } from "react";
import { client, call, HTTPError } from "../api/client";
import { session } from "./session";

/** Login is the password form at /. Throttled attempts say how long to wait. */
export function Login() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(session.notice);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const r = await call(client.POST("/api/v1/inbox/login", { body: { email, password } }));
      session.start(r.token, r.agent);
      // Logging in means being at work: online, so conversations come.
      try {
        session.update(await call(client.PUT("/api/v1/inbox/presence", { body: { status: "online" } })));
      } catch {
        // the status switch in the top bar shows what counts
      }
    } catch (err) {
      setError(loginMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} aria-describedby={error ? "login-error" : undefined}>
        <h1 className="login-title">
          <img src="/favicon.svg" alt="" width="32" height="32" /> Tandem
        </h1>
        <p className="muted">Log in to answer your customers.</p>
        <label htmlFor="email">E-mail</label>
        <input id="email" type="email" autoComplete="username" required autoFocus value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="password">Password</label>
        <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        <p id="login-error" className="form-error" role="alert">
          {error}
        </p>
        <button className="btn primary wide" type="submit" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </main>
  );
}

/** loginMessage says what went wrong in words for the person at the form. */
export function loginMessage(err: unknown): string {
  if (!(err instanceof HTTPError)) return "Something went wrong; try again.";
  switch (err.status) {
    case 401:
      return "That e-mail and password do not match an agent.";
    case 429: {
      const s = err.retryAfter;
      const m = Math.ceil(s / 60);
      const wait = s >= 60 ? `${m} minute${m === 1 ? "" : "s"}` : `${s} second${s === 1 ? "" : "s"}`;
      return `Too many attempts. Wait ${wait} before trying again.`;
    }
    case 0:
      return err.message;
  }
  return err.message;
}
