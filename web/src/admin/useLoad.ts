import { useCallback, useEffect, useState } from "react";

/** useLoad runs a loader at mount and on reload(), keeping its data, error and loading state. */
export function useLoad<T>(load: () => Promise<T>) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState("");
  const [n, setN] = useState(0);
  useEffect(() => {
    let gone = false;
    load()
      .then((d) => {
        if (!gone) {
          setData(d);
          setError("");
        }
      })
      .catch((err) => !gone && setError((err as Error).message));
    return () => {
      gone = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { data, error, reload };
}
