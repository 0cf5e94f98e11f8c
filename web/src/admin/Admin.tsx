// The admin screens (role admin), loaded on demand: agents, teams, API tokens, channels and
// desks, canned responses. Each is a page under /admin.
import { Link, Redirect, Route, Switch, useLocation } from "wouter";
import { Agents } from "./Agents";
import { CannedResponses } from "./CannedResponses";
import { Connections } from "./Connections";
import { Teams } from "./Teams";
import "./admin.css";

const pages: [string, string][] = [
  ["/agents", "Agents"],
  ["/teams", "Teams"],
  ["/connections", "Channels and desks"],
  ["/canned", "Canned responses"],
];

export default function Admin() {
  const [loc] = useLocation();
  return (
    <div className="admin">
      <nav className="admin-nav" aria-label="Admin">
        <ul>
          {pages.map(([href, label]) => (
            <li key={href}>
              <Link href={href} className="queue" aria-current={loc.startsWith(href) ? "page" : undefined}>
                {label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main className="admin-page">
        <Switch>
          <Route path="/agents" component={Agents} />
          <Route path="/teams" component={Teams} />
          <Route path="/canned" component={CannedResponses} />
          <Route path="/connections" component={Connections} />
          <Route>
            <Redirect to="/agents" replace />
          </Route>
        </Switch>
      </main>
    </div>
  );
}
