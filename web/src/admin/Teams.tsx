import { useState, type FormEvent } from "react";
import { client, call } from "../api/client";
import type { Agent, Team } from "../api/types";
import { useLoad } from "./useLoad";

const strategies: [string, string][] = [
  ["round_robin", "Round robin: online members take turns"],
  ["least_busy", "Least busy: the online member with the fewest conversations"],
];

/** Teams: who answers which queue and how conversations are shared out. */
export function Teams() {
  const teams = useLoad(() => call(client.GET("/api/v1/inbox/teams")).then((r) => r.teams));
  const agents = useLoad(() => call(client.GET("/api/v1/inbox/agents")).then((r) => r.agents.filter((a) => a.active)));
  const [editing, setEditing] = useState<Team | null>(null);
  const [error, setError] = useState("");
  return (
    <>
      <div className="admin-head">
        <h1>Teams</h1>
      </div>
      <p className="muted lead">
        A flow's handoff step names a team (<code>team: support</code>); its conversations queue there and go to the team's online members. Teams of tandem.yaml are
        changed in the file; you can add members to them here.
      </p>
      <TeamForm key={editing?.id ?? "new"} editing={editing} agents={agents.data ?? []} onDone={() => (setEditing(null), teams.reload())} />
      {(teams.error || error) && (
        <p className="form-error" role="alert">
          {teams.error || error}
        </p>
      )}
      {teams.data && teams.data.length === 0 && (
        <div className="empty-state">
          <h2>No teams yet</h2>
          <p className="muted">Without teams, handed-over conversations go to any online agent. Make one above (for example “support”), then name it in a flow's handoff step.</p>
        </div>
      )}
      {teams.data && teams.data.length > 0 && (
        <div className="table-wrap">
          <table className="data">
            <caption className="sr-only">Teams</caption>
            <thead>
              <tr>
                <th scope="col">Team</th>
                <th scope="col">Strategy</th>
                <th scope="col">Reassign after</th>
                <th scope="col">Members</th>
                <th scope="col">Online</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {teams.data.map((t) => (
                <tr key={t.id}>
                  <td>
                    <strong>{t.name || t.id}</strong> <span className="muted">({t.id})</span>
                    {t.configured && <span className="badge">tandem.yaml</span>}
                  </td>
                  <td>{strategies.find(([k]) => k === t.strategy)?.[1] ?? t.strategy}</td>
                  <td>{t.reassign_after || "never"}</td>
                  <td>{t.members.join(", ") || <span className="muted">nobody yet</span>}</td>
                  <td>{t.online}</td>
                  <td className="actions-cell">
                    <button className="btn small" onClick={() => setEditing(t)} aria-label={`Edit team ${t.id}`}>
                      Edit
                    </button>{" "}
                    {!t.configured && (
                      <button
                        className="btn small danger"
                        aria-label={`Delete team ${t.id}`}
                        onClick={async () => {
                          if (!confirm(`Delete the team ${t.id}?`)) return;
                          setError("");
                          try {
                            await call(client.DELETE("/api/v1/inbox/teams/{id}", { params: { path: { id: t.id } } }));
                          } catch (err) {
                            setError((err as Error).message);
                          }
                          teams.reload();
                        }}
                      >
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function TeamForm({ editing, agents, onDone }: { editing: Team | null; agents: Agent[]; onDone: () => void }) {
  const [id, setId] = useState(editing?.id ?? "");
  const [name, setName] = useState(editing?.name ?? "");
  const [strategy, setStrategy] = useState<string>(editing?.strategy ?? "round_robin");
  const [after, setAfter] = useState(editing?.reassign_after ?? "");
  const [members, setMembers] = useState<string[]>(editing?.members ?? []);
  const [error, setError] = useState("");
  const fixed = editing?.configured ?? false;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError("");
    try {
      if (editing) {
        const body = fixed ? { members } : { name, strategy: strategy as "round_robin" | "least_busy", reassign_after: after, members };
        await call(client.PATCH("/api/v1/inbox/teams/{id}", { params: { path: { id: editing.id } }, body }));
      } else {
        await call(client.POST("/api/v1/inbox/teams", { body: { id, name: name || id, strategy: strategy as "round_robin" | "least_busy", reassign_after: after, members } }));
      }
      setId("");
      setName("");
      setAfter("");
      setMembers([]);
      onDone();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form className="card form-card" onSubmit={submit}>
      <h2>{editing ? `Edit team ${editing.id}` : "Make a team"}</h2>
      <div className="form-grid">
        {!editing && (
          <div className="field">
            <label htmlFor="team-id">Id (flows name the team by it)</label>
            <input id="team-id" type="text" required value={id} onChange={(e) => setId(e.target.value.toLowerCase())} placeholder="support" pattern="[a-z0-9][a-z0-9_\-]{0,39}" />
          </div>
        )}
        <div className="field">
          <label htmlFor="team-name">Name</label>
          <input id="team-name" type="text" value={name} disabled={fixed} onChange={(e) => setName(e.target.value)} placeholder="Support" />
        </div>
        <div className="field">
          <label htmlFor="team-strategy">Who gets the next conversation</label>
          <select id="team-strategy" value={strategy} disabled={fixed} onChange={(e) => setStrategy(e.target.value)}>
            {strategies.map(([k, v]) => (
              <option key={k} value={k}>
                {v}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="team-after">Reassign when unanswered after (e.g. 5m; empty: never)</label>
          <input id="team-after" type="text" value={after} disabled={fixed} onChange={(e) => setAfter(e.target.value)} placeholder="5m" />
        </div>
      </div>
      <fieldset className="members">
        <legend>Members</legend>
        {agents.length === 0 && <p className="muted small">No agents yet: invite them under Agents.</p>}
        {agents.map((a) => (
          <label key={a.email} className="check">
            <input
              type="checkbox"
              checked={members.includes(a.email)}
              onChange={(e) => setMembers(e.target.checked ? [...members, a.email] : members.filter((m) => m !== a.email))}
            />{" "}
            {a.name || a.email} <span className="muted small">{a.email}</span>
          </label>
        ))}
      </fieldset>
      <p className="form-error" role="alert">
        {error}
      </p>
      <div className="row-end">
        {editing && (
          <button type="button" className="btn" onClick={onDone}>
            Cancel
          </button>
        )}
        <button className="btn primary" type="submit">
          {editing ? "Save team" : "Make team"}
        </button>
      </div>
    </form>
  );
}
