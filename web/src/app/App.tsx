// The app's routes. / is the login (or, logged in, the inbox); /inbox and /admin are the
// screens behind it. The server answers index.html for each of these paths.
import { lazy, Suspense } from "react";
import { Redirect, Route, Switch } from "wouter";
import { Login } from "../session/Login";
import { useSession } from "../session/session";
import { Layout } from "./Layout";
import { Inbox } from "../inbox/Inbox";

// Admin screens load on demand: agents who are not admins never download them.
const Admin = lazy(() => import("../admin/Admin"));

export function App() {
  const s = useSession();
  if (!s) {
    return (
      <Switch>
        <Route path="/" component={Login} />
        <Route>
          <Redirect to="/" replace />
        </Route>
      </Switch>
    );
  }
  const admin = s.agent.role === "admin";
  return (
    <Layout>
      <Switch>
        <Route path="/">
          <Redirect to="/inbox" replace />
        </Route>
        <Route path="/inbox" nest>
          <Inbox />
        </Route>
        <Route path="/admin" nest>
          {admin ? (
            <Suspense fallback={<p className="pad muted">Loading…</p>}>
              <Admin />
            </Suspense>
          ) : (
            <p className="pad">Only admins can manage the workspace.</p>
          )}
        </Route>
        <Route>
          <p className="pad">
            There is nothing at this address. <a href="/inbox">Go to the inbox</a>.
          </p>
        </Route>
      </Switch>
    </Layout>
  );
}
