import { useEffect, useState } from "react";
import { client, call } from "../api/client";
import type { Conversation, Run } from "../api/types";

/** ContactPanel is the side of a conversation: who the customer is, why the bot handed over, and
 * what the bot did (its run, step by step, collapsed until asked for). */
export function ContactPanel({ conv, onClose }: { conv: Conversation; onClose: () => void }) {
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
