import { useEffect, useRef, useState } from "react";
import { client, call } from "../api/client";
import type { Conversation } from "../api/types";
import { onlineIn } from "./model";
import { type InboxStore, useInbox } from "./store";

/** TransferDialog moves a conversation to a team's queue, or to an agent. */
export function TransferDialog({ store, conv, onClose, onDone }: { store: InboxStore; conv: Conversation; onClose: () => void; onDone: (c: Conversation) => void }) {
  const snap = useInbox(store);
  const ref = useRef<HTMLDialogElement>(null);
  const [team, setTeam] = useState(conv.team ?? "");
  const [agent, setAgent] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = ref.current!;
    d.showModal();
    return () => d.close();
  }, []);
  const active = snap.agents.filter((a) => a.active);
  const members = team ? active.filter((a) => a.teams.includes(team)) : active;
  const submit = async () => {
    if (!team && !agent) {
      setError("Pick a team or an agent.");
      return;
    }
    setBusy(true);
    setError("");
    try {
      const body = { ...(team && team !== conv.team ? { team } : {}), ...(agent ? { agent } : {}) };
      if (!body.team && !body.agent) body.team = team;
      onDone(await call(client.POST("/api/v1/inbox/conversations/{id}/assign", { params: { path: { id: conv.id } }, body })));
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="transfer-title" onCancel={onClose} onClose={onClose}>
      <form
        method="dialog"
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <h2 id="transfer-title">Transfer the conversation</h2>
        <p className="muted small">To a team: it goes back to that team's queue and to its next online member. Pick an agent to give it to someone.</p>
        <div className="field">
          <label htmlFor="transfer-team">Team</label>
          <select id="transfer-team" value={team} onChange={(e) => setTeam(e.target.value)} autoFocus>
            <option value="">No team</option>
            {snap.teams.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name || t.id} ({onlineIn(t, snap.agents)} online)
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="transfer-agent">Agent</label>
          <select id="transfer-agent" value={agent} onChange={(e) => setAgent(e.target.value)}>
            <option value="">Next online member of the team</option>
            {members.map((a) => (
              <option key={a.email} value={a.email}>
                {a.name || a.email} ({a.status})
              </option>
            ))}
          </select>
        </div>
        <p className="form-error" role="alert">
          {error}
        </p>
        <div className="row-end">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={busy}>
            Transfer
          </button>
        </div>
      </form>
    </dialog>
  );
}
