import { client, call } from "../api/client";
import { useLoad } from "./useLoad";

const strategies: Record<string, string> = {
  round_robin: "Round robin: online members take turns",
  least_busy: "Least busy: the online member with the fewest conversations",
};

/** Teams shows who answers which queue and how conversations are shared out. */
export function Teams() {
  const teams = useLoad(() => call(client.GET("/api/v1/inbox/teams")).then((r) => r.teams));
  return (
    <>
      <div className="admin-head">
        <h1>Teams</h1>
      </div>
      <p className="muted lead">A handoff step names a team; its conversations queue there and go to the team's online members.</p>
      {teams.error && <p className="form-error">{teams.error}</p>}
      {teams.data && teams.data.length === 0 && (
        <div className="empty-state">
          <h2>No teams yet</h2>
          <p className="muted">Without teams, handed-over conversations go to any online agent. Add teams to tandem.yaml (teams: [{"{"}id: support, members: [...]{"}"}]) to route by team.</p>
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
              </tr>
            </thead>
            <tbody>
              {teams.data.map((t) => (
                <tr key={t.id}>
                  <td>
                    <strong>{t.name || t.id}</strong> <span className="muted">({t.id})</span>
                  </td>
                  <td>{strategies[t.strategy] ?? t.strategy}</td>
                  <td>{t.reassign_after || "never"}</td>
                  <td>{t.members.join(", ") || <span className="muted">nobody</span>}</td>
                  <td>{t.online}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
