import { useState, type FormEvent } from "react";
import { client, call } from "../api/client";
import type { Canned } from "../api/types";
import { useLoad } from "./useLoad";

/** CannedResponses lets an admin write the texts agents insert with / in the reply box. */
export function CannedResponses() {
  const { data, error, reload } = useLoad(() => call(client.GET("/api/v1/inbox/canned-responses")).then((r) => r.canned_responses));
  const [editing, setEditing] = useState<Canned | null>(null);
  return (
    <>
      <div className="admin-head">
        <h1>Canned responses</h1>
      </div>
      <p className="muted lead">Answers your agents give often. In the reply box, an agent types / and the shortcut (or a word of the text) and picks one.</p>
      <CannedForm key={editing?.id ?? "new"} editing={editing} onDone={() => (setEditing(null), reload())} />
      {error && <p className="form-error">{error}</p>}
      {data && data.length === 0 && (
        <div className="empty-state">
          <h2>No canned responses yet</h2>
          <p className="muted">Add your first above: for example the shortcut “hours” with your opening hours. Agents see it as soon as they reload the inbox.</p>
        </div>
      )}
      {data && data.length > 0 && (
        <div className="table-wrap">
          <table className="data">
            <caption className="sr-only">Canned responses</caption>
            <thead>
              <tr>
                <th scope="col">Shortcut</th>
                <th scope="col">Title</th>
                <th scope="col">Text</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((c) => (
                <tr key={c.id}>
                  <td>
                    <code>/{c.shortcut}</code>
                  </td>
                  <td>{c.title}</td>
                  <td className="pre-wrap">{c.text}</td>
                  <td className="actions-cell">
                    <button className="btn small" onClick={() => setEditing(c)} aria-label={`Edit /${c.shortcut}`}>
                      Edit
                    </button>{" "}
                    <button
                      className="btn small danger"
                      aria-label={`Delete /${c.shortcut}`}
                      onClick={async () => {
                        if (!confirm(`Delete the canned response /${c.shortcut}?`)) return;
                        await call(client.DELETE("/api/v1/inbox/canned-responses/{id}", { params: { path: { id: c.id } } })).catch(() => {});
                        reload();
                      }}
                    >
                      Delete
                    </button>
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

function CannedForm({ editing, onDone }: { editing: Canned | null; onDone: () => void }) {
  const [shortcut, setShortcut] = useState(editing?.shortcut ?? "");
  const [title, setTitle] = useState(editing?.title ?? "");
  const [text, setText] = useState(editing?.text ?? "");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const body = { shortcut, title, text };
      if (editing) await call(client.PUT("/api/v1/inbox/canned-responses/{id}", { params: { path: { id: editing.id } }, body }));
      else await call(client.POST("/api/v1/inbox/canned-responses", { body }));
      setShortcut("");
      setTitle("");
      setText("");
      onDone();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card form-card" onSubmit={submit}>
      <h2>{editing ? `Edit /${editing.shortcut}` : "Add a canned response"}</h2>
      <div className="form-grid">
        <div className="field">
          <label htmlFor="canned-shortcut">Shortcut</label>
          <input id="canned-shortcut" type="text" required value={shortcut} onChange={(e) => setShortcut(e.target.value)} placeholder="hours" pattern="/?[A-Za-z0-9][A-Za-z0-9_\-]{0,31}" title="Letters, digits, - and _" />
        </div>
        <div className="field">
          <label htmlFor="canned-title">Title (optional)</label>
          <input id="canned-title" type="text" value={title} onChange={(e) => setTitle(e.target.value)} placeholder="Opening hours" maxLength={100} />
        </div>
      </div>
      <div className="field">
        <label htmlFor="canned-text">Text</label>
        <textarea id="canned-text" required rows={3} value={text} onChange={(e) => setText(e.target.value)} maxLength={4096} placeholder="We are open Monday to Friday, 9:00 to 18:00." />
      </div>
      <p className="form-error" role="alert">
        {error}
      </p>
      <div className="row-end">
        {editing && (
          <button type="button" className="btn" onClick={onDone}>
            Cancel
          </button>
        )}
        <button className="btn primary" type="submit" disabled={busy}>
          {editing ? "Save" : "Add canned response"}
        </button>
      </div>
    </form>
  );
}
