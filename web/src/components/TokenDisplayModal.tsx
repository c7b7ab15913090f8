// Shows a newly created token once: copy, download, and a checkbox the user
// must tick before the dialog can be closed.
import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Checkbox from "@cloudscape-design/components/checkbox";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import { formatWithZone, localTimeZone } from "../lib/dates";
import type { CreatedToken } from "../lib/tokens";
import { NOT_SHOWN_AGAIN, SAVED_CHECKBOX } from "../messages";

/** "api-token-<name>.txt", with characters no file system takes replaced. */
export function tokenFileName(name: string): string {
  const safe = name.trim().replace(/[\\/:*?"<>|\u0000-\u001f\u007f]/g, "_") || "token";
  return `api-token-${safe}.txt`;
}

export function downloadText(fileName: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  a.rel = "noopener";
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export interface TokenDisplayModalProps {
  created: CreatedToken | null;
  onClose: () => void;
  /** For the old token's end after a rotation; the browser's zone when not given. */
  timeZone?: string;
}

/** After a rotation: until when the replaced token still works. */
export function previousTokenNotice(previousTokenExpiration: number, timeZone: string, nowMs = Date.now()): string {
  if (previousTokenExpiration * 1000 <= nowMs) return "The old token has stopped working.";
  return `The old token keeps working until ${formatWithZone(previousTokenExpiration, timeZone)}. Switch your clients to the new token before then.`;
}

export default function TokenDisplayModal({ created, onClose, timeZone }: TokenDisplayModalProps) {
  const [saved, setSaved] = useState(false);
  const [copy, setCopy] = useState<"idle" | "copied" | "failed">("idle");

  // A new token starts unconfirmed.
  useEffect(() => {
    setSaved(false);
    setCopy("idle");
  }, [created?.token]);

  if (!created) return null;

  const doCopy = async () => {
    try {
      await navigator.clipboard.writeText(created.token);
      setCopy("copied");
    } catch {
      setCopy("failed");
    }
  };

  return (
    <Modal
      visible
      // The close icon and Escape work only once the user confirms.
      onDismiss={() => saved && onClose()}
      header="Your new API token"
      closeAriaLabel="Close dialog"
      footer={
        <Box float="right">
          <Button variant="primary" disabled={!saved} onClick={onClose}>
            Close
          </Button>
        </Box>
      }
    >
      <SpaceBetween size="m">
        <Alert type="warning">{NOT_SHOWN_AGAIN}</Alert>
        {created.previousTokenExpiration !== undefined && (
          <Alert type="info" header="Token rotated">
            {previousTokenNotice(created.previousTokenExpiration, timeZone ?? localTimeZone())}
          </Alert>
        )}
        <FormField label="API token" description={`Token "${created.name}" for ${created.username}. Send it as "Authorization: Bearer <token>".`} stretch>
          <Input value={created.token} readOnly onChange={() => undefined} />
        </FormField>
        <SpaceBetween direction="horizontal" size="xs" alignItems="center">
          <Button iconName="copy" onClick={doCopy}>
            Copy
          </Button>
          <Button iconName="download" onClick={() => downloadText(tokenFileName(created.name), created.token + "\n")}>
            Download
          </Button>
          {copy === "copied" && <StatusIndicator type="success">Copied</StatusIndicator>}
          {copy === "failed" && <StatusIndicator type="error">Copy failed: select the token and copy it by hand.</StatusIndicator>}
        </SpaceBetween>
        <Checkbox checked={saved} onChange={({ detail }) => setSaved(detail.checked)}>
          {SAVED_CHECKBOX}
        </Checkbox>
      </SpaceBetween>
    </Modal>
  );
}
