import { useState, type FormEvent } from "react";
import { client, call } from "../api/client";
import type { Agent } from "../api/types";
import { useSession } from "../session/session";
import { useLoad } from "./useLoad";

/** Agents lists the people who log in to the inbox and lets an admin invite more. */
export function Agents() {
  const agents = useLoad(() => call(client.GET("/api/v1/inbox/agents")).then((r) => r.agents));
  const teams = useLoad(() => call(client.GET("/api/v1/inbox/teams")).then((r) => r.teams));
  const me = useSession()?.agent.email;
  const [error, setError] = useState("");
  const change = async (a: Agent, body: { role?: "agent" | "admin"; active?: boolean }) => {
    setError("");
    try {
      await call(client.PATCH("/api/v1/inbox/agents/{email}", { params: { path: { email: a.email } }, body }));
      agents.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <>
      <div className="admin-head">
        <h1>Agents</h1>
      </div>
      <p className="muted lead">People who answer customers in the inbox. Admins also manage the workspace here. Agents of tandem.yaml are listed too (a role changed here is set back from the file at the next start).</p>
      <InviteForm teams={teams.data?.map((t) => t.id) ?? []} onDone={agents.reload} />
      {(agents.error || error) && (
        <p className="form-error" role="alert">
          {agents.error || error}
        </p>
      )}
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
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {agents.data.map((a) => (
                <tr key={a.email} className={a.active ? "" : "inactive"}>
                  <td>{a.name}</td>
                  <td>{a.email}</td>
                  <td>
                    <label className="sr-only" htmlFor={"role-" + a.email}>
                      Role of {a.email}
                    </label>
                    <select id={"role-" + a.email} value={a.role} disabled={a.email === me} onChange={(e) => change(a, { role: e.target.value as "agent" | "admin" })}>
                      <option value="agent">agent</option>
                      <option value="admin">admin</option>
                    </select>
                  </td>
                  <td>{a.teams.join(", ") || <span className="muted">none</span>}</td>
                  <td>
                    {a.active ? (
                      <>
                        <span className={"dot " + a.status} aria-hidden="true" /> {a.status}
                      </>
                    ) : (
                      <span className="badge bad">deactivated</span>
                    )}
                  </td>
                  <td className="actions-cell">
                    {a.email !== me &&
                      (a.active ? (
                        <button
                          className="btn small danger"
                          aria-label={`Deactivate ${a.email}`}
                          onClick={() => confirm(`Deactivate ${a.email}? They are logged out at once and cannot log in.`) && change(a, { active: false })}
                        >
                          Deactivate
                        </button>
                      ) : (
                        <button className="btn small" aria-label={`Reactivate ${a.email}`} onClick={() => change(a, { active: true })}>
                          Reactivate
                        </button>
                      ))}
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
