// The inbox screen: queues on the left, the conversation list, the open conversation. On a
// phone one of them shows at a time, by address: /inbox/mine (list), /inbox/mine/ID (conversation).
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useLocation, useRoute } from "wouter";
import { useSession } from "../session/session";
import { ConversationList } from "./ConversationList";
import { ConversationView } from "./ConversationView";
import { Queues } from "./Queues";
import { Shortcuts, useShortcuts } from "./Shortcuts";
import { inQueue, matches, noFilters, queueOf, queuePath, type Filters } from "./model";
import { armNotifications, chime, notify } from "./notify";
import { contactName } from "./model";
import { InboxStore, useInbox } from "./store";
import "./inbox.css";

export function Inbox() {
  const s = useSession()!;
  const me = s.agent.email;
  const [store] = useState(() => new InboxStore(me));
  const [, navigate] = useLocation();
  const [, p] = useRoute("/:queue/:id?");
  const queue = queueOf(p?.queue);
  const openId = p?.id ?? "";
  const snap = useInbox(store);
  const [filters, setFilters] = useState<Filters>(noFilters);
  const [help, setHelp] = useState(false);
  const searchRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);
  useEffect(() => armNotifications(), []);

  useEffect(() => {
    store.onAssigned = (c) => {
      chime();
      if (document.hidden || openId !== c.id) {
        notify("New conversation assigned to you", contactName(c) + (c.last_message?.text ? ": " + c.last_message.text : ""), () =>
          navigate(`/${queuePath(queue)}/${c.id}`),
        );
      }
    };
  }, [store, openId, queue, navigate]);

  const list = useMemo(() => snap.list.filter((c) => inQueue(c, queue, me) && matches(c, filters)), [snap.list, queue, me, filters]);

  const open = useCallback((id: string) => navigate(`/${queuePath(queue)}/${id}`), [navigate, queue]);
  const step = useCallback(
    (d: number) => {
      if (list.length === 0) return;
      const i = list.findIndex((c) => c.id === openId);
      const next = i < 0 ? (d > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, i + d));
      open(list[next].id);
    },
    [list, openId, open],
  );

  useShortcuts({
    j: () => step(1),
    k: () => step(-1),
    "/": () => searchRef.current?.focus(),
    "?": () => setHelp(true),
  });

  return (
    <div className={"inbox" + (openId ? " has-open" : "")}>
      <Queues store={store} queue={queue} me={me} />
      <ConversationList
        store={store}
        list={list}
        queue={queue}
        openId={openId}
        filters={filters}
        setFilters={setFilters}
        searchRef={searchRef}
        onOpen={open}
      />
      {openId ? (
        <ConversationView key={openId} store={store} id={openId} me={me} back={() => navigate(`/${queuePath(queue)}`)} onOpen={open} />
      ) : (
        <section className="view empty-view" aria-label="Conversation">
          <div className="empty">
            <h2>No conversation open</h2>
            <p className="muted">Pick one from the list, or press j to open the first. Press ? for all shortcuts.</p>
          </div>
        </section>
      )}
      {help && <Shortcuts onClose={() => setHelp(false)} />}
    </div>
  );
}
