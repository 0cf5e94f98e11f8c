import { useState, type FormEvent } from "react";
import { client, call } from "../api/client";
import { useLoad } from "./useLoad";

/** Agents lists the people who log in to the inbox and lets an admin invite more. */
export function Agents() {
  const agents = useLoad(() => call(client.GET("/api/v1/inbox/agents")).then((r) => r.agents));
  const teams = useLoad(() => call(client.GET("/api/v1/inbox/teams")).then((r) => r.teams));
  return (
    <>
      <div className="admin-head">
        <h1>Agents</h1>
      </div>
      <p className="muted lead">People who answer customers in the inbox. Admins also manage the workspace here. Agents in tandem.yaml are listed too; their role is set there.</p>
      <InviteForm teams={teams.data?.map((t) => t.id) ?? []} onDone={agents.reload} />
      {agents.error && <p className="form-error">{agents.error}</p>}
      {agents.data && (
        <div className="table-wrap">
          <table className="data">
            <caption className="sr-only">Agents</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">E-mail</th>
                <th scope="col">Role</th>
                <th scope="col">Teams</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {agents.data.map((a) => (
                <tr key={a.email}>
                  <td>{a.name}</td>
                  <td>{a.email}</td>
                  <td>{a.role}</td>
                  <td>{a.teams.join(", ") || <span className="muted">none</span>}</td>
                  <td>
                    <span className={"dot " + a.status} aria-hidden="true" /> {a.status}
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

function InviteForm({ teams, onDone }: { teams: string[]; onDone: () => void }) {
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState("agent");
  const [team, setTeam] = useState("");
  const [error, setError] = useState("");
  const [done, setDone] = useState("");
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError("");
    setDone("");
    try {
      await call(client.POST("/api/v1/inbox/agents", { body: { email, name, password, role: role as "agent" | "admin", teams: team ? [team] : [] } }));
      setDone(`${email} can now log in with the password you chose. Tell them to keep it safe.`);
      setEmail("");
      setName("");
      setPassword("");
      onDone();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form className="card form-card" onSubmit={submit}>
      <h2>Invite an agent</h2>
      <div className="form-grid">
        <div className="field">
          <label htmlFor="agent-email">E-mail</label>
          <input id="agent-email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="agent-name">Name</label>
          <input id="agent-name" type="text" value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="agent-password">First password (8 characters or more)</label>
          <input id="agent-password" type="password" autoComplete="new-password" required minLength={8} maxLength={72} value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="agent-role">Role</label>
          <select id="agent-role" value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="agent">Agent: answers conversations</option>
            <option value="admin">Admin: also manages the workspace</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="agent-team">Team</label>
          <select id="agent-team" value={team} onChange={(e) => setTeam(e.target.value)}>
            <option value="">No team</option>
            {teams.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </div>
      </div>
      <p className="form-error" role="alert">
        {error}
      </p>
      {done && (
        <p className="badge ok" role="status">
          {done}
        </p>
      )}
      <div className="row-end">
        <button className="btn primary" type="submit">
          Invite agent
        </button>
      </div>
    </form>
  );
}
