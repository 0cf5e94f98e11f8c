import { client, call } from "../api/client";
import type { components } from "../api/schema";
import { useLoad } from "./useLoad";

type Health = components["schemas"]["ChannelHealth"] | components["schemas"]["DeskHealth"];

const statusText: Record<string, [string, string]> = {
  available: ["Available", "ok"],
  unavailable: ["Unavailable", "bad"],
  not_configured: ["Not configured", "queued"],
};

/** Connections shows the channels customers write from and the desks conversations go to, with
 * their health and the webhook addresses to paste in each platform's settings. */
export function Connections() {
  const channels = useLoad(() => call(client.GET("/api/v1/channels")).then((r) => r.channels));
  const desks = useLoad(() => call(client.GET("/api/v1/desks")).then((r) => r.desks));
  return (
    <>
      <div className="admin-head">
        <h1>Channels and desks</h1>
        <button className="btn" onClick={() => (channels.reload(), desks.reload())}>
          Check again
        </button>
      </div>
      <p className="muted lead">Channels are where customers write from (tandem.yaml, channels:); desks are where conversations go when the bot hands over (desks:; the inbox is built in).</p>
      <h2>Channels</h2>
      {channels.error && <p className="form-error">{channels.error}</p>}
      {channels.data && channels.data.length === 0 && (
        <div className="empty-state">
          <h3>No channels yet</h3>
          <p className="muted">Add one to tandem.yaml under channels: (for example {"{"}id: web, kind: web{"}"} for the website widget) and restart Tandem. docs/channels.md says how to connect WhatsApp and Telegram.</p>
        </div>
      )}
      {channels.data && channels.data.length > 0 && <HealthTable rows={channels.data.map((c) => ({ id: c.id, kind: c.kind, health: c.health }))} what="Channel" />}
      <h2>Desks</h2>
      {desks.error && <p className="form-error">{desks.error}</p>}
      {desks.data && <HealthTable rows={desks.data.map((d) => ({ id: d.id, kind: d.kind, health: d.health }))} what="Desk" />}
    </>
  );
}

function HealthTable({ rows, what }: { rows: { id: string; kind: string; health: Health }[]; what: string }) {
  return (
    <div className="table-wrap">
      <table className="data">
        <caption className="sr-only">{what}s</caption>
        <thead>
          <tr>
            <th scope="col">{what}</th>
            <th scope="col">Health</th>
            <th scope="col">Webhook addresses to paste</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const [label, tone] = statusText[r.health.status] ?? [r.health.status, ""];
            return (
              <tr key={r.id}>
                <td>
                  <strong>{r.id}</strong> <span className="muted">({r.kind})</span>
                </td>
                <td>
                  <span className={"badge " + tone}>{label}</span>
                  {r.health.detail && <p className="small muted">{r.health.detail}</p>}
                </td>
                <td>
                  {(r.health.webhooks ?? []).length === 0 ? (
                    <span className="muted">none needed</span>
                  ) : (
                    <ul className="hooks">
                      {(r.health.webhooks ?? []).map((h) => {
                        const url = h.url.startsWith("/") ? location.origin + h.url : h.url;
                        return (
                          <li key={h.name + h.url}>
                            <span className="small">{h.name}</span>
                            <span className="hook-url">
                              <code>{url}</code>
                              <button className="btn small" onClick={() => navigator.clipboard?.writeText(url)} aria-label={`Copy ${h.name} of ${r.id}`}>
                                Copy
                              </button>
                            </span>
                            {h.note && <span className="small muted">{h.note}</span>}
                          </li>
                        );
                      })}
                    </ul>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
