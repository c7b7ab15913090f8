// Admins: revokes every token of one user at once. The username is typed
// twice, the second time to confirm (Cloudscape's delete-with-confirmation
// pattern), since this cannot be undone.
import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Checkbox from "@cloudscape-design/components/checkbox";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import ConfirmModal from "./ConfirmModal";
import type { RevokeUserResult } from "../lib/api";
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

  useEffect(() => {
    if (!visible) return;
    setUsername("");
    setIncludeSystem(false);
    setConfirmText("");
  }, [visible]);

  if (!visible) return null;

  const user = username.trim();
  const confirmed = user !== "" && confirmText.trim() === user;

  return (
    <ConfirmModal
      header="Revoke all tokens of a user"
      confirmLabel="Revoke all"
      errorHeader="The tokens were not revoked"
      onConfirm={async () => {
        const res = await revoke(user, includeSystem);
        onRevoked(user, res);
      }}
      onCancel={onCancel}
      confirmDisabled={!confirmed}
      form
      spacing="l"
    >
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
    </ConfirmModal>
  );
}
