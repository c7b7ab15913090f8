// A token's audit history: who did what, when, from where, and what changed,
// newest first, a page at a time.
import { useCallback, useEffect, useRef, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { errorMessage } from "../lib/api";
import { formatDateTime } from "../lib/dates";
import { actionLabel, authTypeLabel, changeText, type TokenEvent } from "../lib/events";
import type { Page } from "../lib/paginate";
import type { TokenItem } from "../lib/tokens";

export interface TokenHistoryModalProps {
  token: Pick<TokenItem, "tokenUUID" | "name" | "username"> | null;
  timeZone: string;
  load: (tokenUUID: string, nextToken?: string) => Promise<Page<TokenEvent>>;
  onClose: () => void;
}

export default function TokenHistoryModal({ token, timeZone, load, onClose }: TokenHistoryModalProps) {
  const [events, setEvents] = useState<TokenEvent[]>([]);
  const [next, setNext] = useState<string>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string>();
  // The token whose events are on screen: an answer for another one is dropped.
  const current = useRef<string | undefined>(undefined);

  const fetchPage = useCallback(
    async (uuid: string, nextToken?: string) => {
      setLoading(true);
      setError(undefined);
      try {
        const page = await load(uuid, nextToken);
        if (current.current !== uuid) return;
        setEvents((es) => (nextToken ? [...es, ...page.items] : page.items));
        setNext(page.nextToken);
      } catch (err) {
        if (current.current === uuid) setError(errorMessage(err));
      } finally {
        if (current.current === uuid) setLoading(false);
      }
    },
    [load],
  );

  const uuid = token?.tokenUUID;
  useEffect(() => {
    current.current = uuid;
    setEvents([]);
    setNext(undefined);
    if (uuid) void fetchPage(uuid);
  }, [uuid, fetchPage]);

  if (!token) return null;

  return (
    <Modal
      visible
      size="max"
      onDismiss={onClose}
      header={`History of ${token.name || token.tokenUUID}`}
      closeAriaLabel="Close dialog"
      footer={
        <Box float="right">
          <Button variant="primary" onClick={onClose}>
            Close
          </Button>
        </Box>
      }
    >
      <SpaceBetween size="m">
        {error && (
          <Alert type="error" header="The history could not be loaded" action={<Button onClick={() => fetchPage(token.tokenUUID, next)}>Retry</Button>}>
            {error}
          </Alert>
        )}
        <Table<TokenEvent>
          variant="embedded"
          items={events}
          trackBy="eventId"
          loading={loading && events.length === 0}
          loadingText="Loading the history…"
          ariaLabels={{ tableLabel: "Token history" }}
          empty={<Box textAlign="center">No events</Box>}
          wrapLines
          columnDefinitions={[
            { id: "time", header: "Time", cell: (e) => formatDateTime(e.time, timeZone), minWidth: 170, isRowHeader: true },
            { id: "action", header: "Action", cell: (e) => actionLabel(e.action) },
            { id: "actor", header: "Actor", cell: (e) => e.actor || "-" },
            { id: "auth", header: "Authenticated with", cell: (e) => <span title={e.authType}>{authTypeLabel(e.authType)}</span> },
            { id: "sourceIp", header: "Source IP", cell: (e) => <span title={e.userAgent || undefined}>{e.sourceIp || "-"}</span> },
            {
              id: "changes",
              header: "Changes",
              cell: (e) =>
                e.changes?.length ? (
                  <ul style={{ margin: 0, paddingInlineStart: 16 }}>
                    {e.changes.map((c, i) => (
                      <li key={i}>{changeText(c, timeZone)}</li>
                    ))}
                  </ul>
                ) : (
                  "-"
                ),
            },
          ]}
        />
        {next && (
          <Box textAlign="center">
            <Button onClick={() => fetchPage(token.tokenUUID, next)} loading={loading}>
              Load more
            </Button>
          </Box>
        )}
      </SpaceBetween>
    </Modal>
  );
}
