// Asks before a token is disabled, and disables it. A disabled token is
// refused until it is enabled again; unlike a delete, this can be undone.
import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { errorMessage } from "../lib/api";
import type { TokenItem } from "../lib/tokens";
import { disableNotice } from "../messages";

export interface DisableTokenModalProps {
  token: Pick<TokenItem, "tokenUUID" | "name" | "username"> | null;
  onCancel: () => void;
  /** Disables the token; a rejection is shown in the dialog. */
  onDisable: (tokenUUID: string) => Promise<void>;
  revocationSeconds?: number;
}

export default function DisableTokenModal({ token, onCancel, onDisable, revocationSeconds }: DisableTokenModalProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  if (!token) return null;

  const cancel = () => {
    if (busy) return;
    setError(undefined);
    onCancel();
  };
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await onDisable(token.tokenUUID);
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
      header="Disable token"
      closeAriaLabel="Close dialog"
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={cancel} disabled={busy}>
              Cancel
            </Button>
            <Button variant="primary" onClick={confirm} loading={busy}>
              Disable
            </Button>
          </SpaceBetween>
        </Box>
      }
    >
      <SpaceBetween size="m">
        <Box variant="span">
          Disable the token <b>{token.name || token.tokenUUID}</b> of {token.username} ({token.tokenUUID})?
        </Box>
        <Box variant="p">{disableNotice(revocationSeconds)}</Box>
        {error && (
          <Alert type="error" header="The token was not disabled">
            {error}
          </Alert>
        )}
      </SpaceBetween>
    </Modal>
  );
}
