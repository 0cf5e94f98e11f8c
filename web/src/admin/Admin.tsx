// The admin screens (role admin). Loaded on demand from App.
export default function Admin() {
  return (
    <div className="pad">
      <h1>Admin</h1>
      <p className="muted">Agents, teams, API tokens, channels and desks, canned responses: coming in the next steps.</p>
    </div>
  );
}
