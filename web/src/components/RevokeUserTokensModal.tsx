// Admins: revokes every token of one user at once. The username is typed
// twice, the second time to confirm (Cloudscape's delete-with-confirmation
// pattern), since this cannot be undone.
import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Checkbox from "@cloudscape-design/components/checkbox";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { errorMessage, type RevokeUserResult } from "../lib/api";
import { deleteNotice } from "../messages";

export interface RevokeUserTokensModalProps {
  visible: boolean;
  onCancel: () => void;
  /** Revokes the tokens; a rejection is shown in the dialog. */
  revoke: (username: string, includeSystemTokens: boolean) => Promise<RevokeUserResult>;
  onRevoked: (username: string, result: RevokeUserResult) => void;
  revocationSeconds?: number;
}

export function revokedText(n: number, username: string): string {
  return `Revoked ${n} ${n === 1 ? "token" : "tokens"} of ${username}.`;
}

export default function RevokeUserTokensModal({ visible, onCancel, revoke, onRevoked, revocationSeconds }: RevokeUserTokensModalProps) {
  const [username, setUsername] = useState("");
  const [includeSystem, setIncludeSystem] = useState(false);
  const [confirmText, setConfirmText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!visible) return;
    setUsername("");
    setIncludeSystem(false);
    setConfirmText("");
    setError(undefined);
  }, [visible]);

  if (!visible) return null;

  const user = username.trim();
  const confirmed = user !== "" && confirmText.trim() === user;
  const cancel = () => {
    if (!busy) onCancel();
  };
  const confirm = async () => {
    if (!confirmed) return;
    setBusy(true);
    setError(undefined);
    try {
      const res = await revoke(user, includeSystem);
      onRevoked(user, res);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      visible
      onDismiss={cancel}
      header="Revoke all tokens of a user"
      closeAriaLabel="Close dialog"
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={cancel} disabled={busy}>
              Cancel
            </Button>
            <Button variant="primary" onClick={confirm} loading={busy} disabled={!confirmed}>
              Revoke all
            </Button>
          </SpaceBetween>
        </Box>
      }
    >
      <form onSubmit={(e) => e.preventDefault()}>
        <SpaceBetween size="l">
          <Alert type="warning">
            Every token of the user is deleted; this cannot be undone. {deleteNotice(revocationSeconds)}
          </Alert>
          <FormField label="Username" description="The user whose tokens are revoked.">
            <Input value={username} onChange={({ detail }) => setUsername(detail.value)} autoComplete={false} spellcheck={false} />
          </FormField>
          <Checkbox checked={includeSystem} onChange={({ detail }) => setIncludeSystem(detail.checked)} description="Service tokens of this user are kept unless this is ticked.">
            Include system tokens
          </Checkbox>
          <FormField
            label="Confirm the username"
            description={user ? `To confirm, type "${user}".` : "Enter the username above first, then type it here again."}
          >
            <Input
              value={confirmText}
              onChange={({ detail }) => setConfirmText(detail.value)}
              placeholder={user || undefined}
              ariaLabel="Type the username to confirm"
              autoComplete={false}
              spellcheck={false}
              disabled={!user}
            />
          </FormField>
          {error && (
            <Alert type="error" header="The tokens were not revoked">
              {error}
            </Alert>
          )}
        </SpaceBetween>
      </form>
    </Modal>
  );
}
