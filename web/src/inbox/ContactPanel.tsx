import { useEffect, useState } from "react";
import { client, call } from "../api/client";
import type { Conversation, InboxConversation, Run } from "../api/types";
import { ago } from "./time";

/** ContactPanel is the side of a conversation: who the customer is, why the bot handed over, and
 * what the bot did (its run, step by step, collapsed until asked for). */
export function ContactPanel({ conv, onClose, onOpen }: { conv: Conversation; onClose: () => void; onOpen: (id: string) => void }) {
  const ct = conv.contact;
  const runId = conv.active_run?.id ?? conv.last_run?.id ?? "";
  const [run, setRun] = useState<Run | null>(null);
  const [runError, setRunError] = useState("");
  useEffect(() => {
    if (!runId) return;
    let gone = false;
    call(client.GET("/api/v1/runs/{id}", { params: { path: { id: runId } } }))
      .then((r) => !gone && setRun(r))
      .catch((err) => !gone && setRunError((err as Error).message));
    return () => {
      gone = true;
    };
  }, [runId]);
  // Why: what the desk was told (the handoff step's reason, or its agent step's), else what an
  // AI step of the run gave.
  const reason =
    conv.handoff?.reason ||
    (run?.trace?.map((s) => (s.output as Record<string, unknown> | undefined)?.handoff_reason).find((r) => typeof r === "string" && r) as string | undefined);
  const attrs = Object.entries({ ...(ct?.attributes ?? {}), ...(conv.attributes ?? {}) });
  const tags = [...new Set([...(ct?.tags ?? []), ...(conv.tags ?? [])])];

  return (
    <aside className="panel" aria-label="Contact and handoff">
      <div className="panel-head">
        <h2>Contact</h2>
        <button className="btn ghost panel-close" onClick={onClose} aria-label="Close details">
          ✕
        </button>
      </div>
      <dl className="facts">
        <Fact k="Name" v={ct?.name} />
        <Fact k="E-mail" v={ct?.email} />
        <Fact k="Phone" v={ct?.phone} />
        <Fact k="Language" v={ct?.language} />
        <Fact k="Channel" v={conv.channel_id} />
        <Fact k="External id" v={ct?.external_id} />
      </dl>
      {tags.length > 0 && (
        <ul className="tags" aria-label="Tags">
          {tags.map((t) => (
            <li key={t} className="badge">
              {t}
            </li>
          ))}
        </ul>
      )}
      {attrs.length > 0 && (
        <>
          <h3>Attributes</h3>
          <dl className="facts">
            {attrs.map(([k, v]) => (
              <Fact key={k} k={k} v={typeof v === "string" ? v : JSON.stringify(v)} />
            ))}
          </dl>
        </>
      )}
      <Earlier contactId={conv.contact_id ?? ""} current={conv.id} onOpen={onOpen} />
      <h3>Handoff</h3>
      <dl className="facts">
        <Fact k="Status" v={conv.handoff?.status} />
        <Fact k="Team" v={conv.handoff?.team || conv.team} />
        <Fact k="Agent" v={conv.handoff?.agent || conv.assignee} />
        <Fact k="Reason" v={reason || (run ? "Not given by the flow" : "")} />
        <Fact k="Summary" v={conv.handoff?.summary ?? undefined} />
        {conv.handoff?.closed_by && <Fact k="Closed by" v={conv.handoff.closed_by} />}
      </dl>
      <p className="muted small">The transcript the bot handed over is the history on the left.</p>
      {runId && (
        <details className="trace">
          <summary>
            Bot run: {run ? `${run.flow_id} v${run.flow_version ?? ""}, ${run.status}${run.reason ? ` (${run.reason})` : ""}` : "loading…"}
          </summary>
          {runError && <p className="form-error">{runError}</p>}
          {run && (
            <ol className="steps">
              {(run.trace ?? []).map((s) => (
                <li key={s.seq} className={s.error ? "step bad" : "step"}>
                  <p>
                    <strong>{s.step}</strong> <span className="muted small">{s.type}</span>
                    {s.next && <span className="muted small"> → {s.next}</span>}
                  </p>
                  {s.error && <p className="form-error small">{s.error}</p>}
                  {s.output && Object.keys(s.output).length > 0 && <pre className="small">{JSON.stringify(s.output, null, 1)}</pre>}
                </li>
              ))}
            </ol>
          )}
        </details>
      )}
    </aside>
  );
}

function Fact({ k, v }: { k: string; v?: string }) {
  if (!v) return null;
  return (
    <>
      <dt>{k}</dt>
      <dd>{v}</dd>
    </>
  );
}

const statusNames: Record<string, string> = { bot: "With the bot", queued: "Queued", assigned: "Assigned", closed: "Closed" };

/** Earlier lists the contact's other conversations that this agent may see, newest first; a
 * click opens one. */
function Earlier({ contactId, current, onOpen }: { contactId: string; current: string; onOpen: (id: string) => void }) {
  const [list, setList] = useState<InboxConversation[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    if (!contactId) return;
    let gone = false;
    call(client.GET("/api/v1/contacts/{id}/conversations", { params: { path: { id: contactId }, query: { limit: 20 } } }))
      .then((r) => !gone && setList(r.conversations))
      .catch((err) => !gone && setError((err as Error).message));
    return () => {
      gone = true;
    };
  }, [contactId]);
  const others = (list ?? []).filter((c) => c.id !== current);
  return (
    <section aria-labelledby="earlier-title">
      <h3 id="earlier-title">Earlier conversations</h3>
      {error ? (
        <p className="form-error small">{error}</p>
      ) : list === null ? (
        <p className="muted small">Loading…</p>
      ) : others.length === 0 ? (
        <p className="muted small">None: this is the customer's first conversation you can see.</p>
      ) : (
        <ul className="earlier">
          {others.map((c) => (
            <li key={c.id}>
              <a
                href={`#${c.id}`}
                data-earlier={c.id}
                onClick={(e) => {
                  e.preventDefault();
                  onOpen(c.id);
                }}
              >
                <span className="earlier-top">
                  <time dateTime={c.updated_at}>{ago(c.updated_at ?? "")}</time>
                  <span className={"badge " + c.status}>{statusNames[c.status] ?? c.status}</span>
                  <span className="muted small">{c.channel_id}</span>
                </span>
                <span className="earlier-text small">{c.last_message?.text || (c.last_message?.media ? "Attachment" : "No messages")}</span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
